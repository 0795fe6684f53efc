"""The Dockerfile and compose.yaml describe the topology the test of several hosts runs: the
same hosts, the same commands, the same environment, the same load balancer configuration.

No image can be built or pulled on this machine (no container registry), so nothing here runs
a container: the test reads both files and compares them with :mod:`tests.deployment.topology`,
which the test of several hosts fills in with its addresses. A command or a variable changed in
one place and not in the other fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.deployment import topology
from tests.deployment.conftest import haproxy_config

REPO = Path(__file__).resolve().parents[2]
HOME = "/home/ol/.online-learning"
#: What the compose file fills the topology's placeholders with (the image's paths).
VALUES = {"home": HOME, "prefect_yaml": "/src/flows/prefect.yaml",
          "agent": "/src/examples/trading_agent.py"}  # fmt: skip
NAMES = {host: host for host in topology.HOSTS}  # a service is reached by its name


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())["services"]


def _command(service: dict) -> list[list[str]]:
    command = service["command"]
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split(" && ")]
    return [command]


def test_every_host_is_a_service(services):
    assert set(services) == set(topology.HOSTS)


@pytest.mark.parametrize("host", sorted(topology.COMMANDS))
def test_each_service_runs_the_hosts_commands_in_the_platforms_image(services, host):
    service = services[host]
    assert service["build"] == "." and service["image"].startswith("online-learning:")
    assert _command(service) == topology.commands(host, NAMES, **VALUES)
    if host in topology.PLATFORM_HOSTS:
        expected = topology.environment(host, NAMES, **VALUES)
        assert {k: service["environment"].get(k) for k in expected} == expected
    if host not in ("market",):
        assert f"{host}:{HOME}" in service["volumes"]  # a home of its own


def test_the_load_balancer_is_configured_as_in_the_test(services):
    lb = services["lb"]
    assert lb["image"].startswith("haproxy:")
    [mount] = lb["volumes"]
    source, target, _ = mount.split(":")
    assert target == "/usr/local/etc/haproxy/haproxy.cfg"
    written = (REPO / source).read_text()
    config = "".join(line for line in written.splitlines(keepends=True)
                     if not line.startswith("#"))  # fmt: skip
    replicas = [SimpleNamespace(name=r, ip=r) for r in topology.REPLICAS]
    assert config == haproxy_config(SimpleNamespace(name="lb", ip="*"), replicas)


def test_the_database_host_creates_the_databases_the_others_use(services):
    pg = services["pg"]
    assert pg["image"].startswith("postgres:")
    [init] = [v.split(":")[0] for v in pg["volumes"] if "docker-entrypoint-initdb.d" in v]
    created = set(re.findall(r"CREATE DATABASE (\w+);", (REPO / init).read_text()))
    texts = [topology.PLATFORM_ENV["ONLINE_LEARNING_DATABASE_URL"], *topology.COMMANDS["mlflow"][0]]
    urls = [t for t in texts if t.startswith(("postgresql://", "postgresql+psycopg://"))]
    used = {url.rsplit("/", 1)[-1] for url in urls}
    assert used == created == {"metrics", "mlflow"}


def test_the_image_holds_what_the_services_run():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile  # the CPU build, as the Makefile installs it
    assert "pip install ./serving/client '.[postgres]'" in dockerfile
    assert "/usr/local/bin/tansu" in dockerfile  # the broker's binary on PATH
    assert f"ENV ONLINE_LEARNING_HOME={HOME}" in dockerfile
    assert "COPY . /src" in dockerfile
    for path in (VALUES["prefect_yaml"], VALUES["agent"]):
        assert (REPO / path.removeprefix("/src/")).is_file(), path
