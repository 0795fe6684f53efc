"""The platform installed from its built wheel in a fresh virtual environment, run from an
empty folder with nothing of the checkout on the path: ``online-learning up`` bootstraps, runs
an update round through the broker, serves the Prefect deployments, the API and a feedback
worker that learns the simulated market's outcomes, and an update job submitted over HTTP
runs through Prefect to its final state."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from online_learning.processes import free_port
from tests.utils.api_keys import bearer
from tests.utils.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: The CPU build, as the Makefile installs it (a looser pin pulls gigabytes of CUDA wheels).
TORCH = "torch==2.13.0"


def _run(*command: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900):
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The wheel built from this checkout and installed with its ``postgres`` extra in a new
    venv; the environment of a user of it (no PYTHONPATH, no setting of this session)."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes its build folder into the source tree.
    source = work / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "test-artifacts", "results",
        ".online-learning", ".*_cache", ".hypothesis",
    ))  # fmt: skip
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"),
         str(source), cwd=work)  # fmt: skip
    # The client distribution beside it: the platform depends on it (not on any index).
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"),
         str(source / "serving" / "client"), cwd=work)  # fmt: skip
    [wheel] = (work / "dist").glob("online_learning-*.whl")
    [client] = (work / "dist").glob("online_learning_client-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in ("flows/prefect.yaml", "online_learning/configuration/specialists.toml",
                     "serving/dashboard/static/index.html",
                     "serving/api_docs/static/swagger-ui/swagger-ui-bundle.js"):  # fmt: skip
        assert packaged in names, sorted(names)
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
    assert not any(n.startswith("serving/client/") for n in names)  # its own distribution

    _run(sys.executable, "-m", "venv", str(work / "venv"), cwd=work)
    pip = [str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run(*pip, TORCH, cwd=work)
    _run(*pip, str(client), f"{wheel}[postgres]", cwd=work)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ONLINE_LEARNING_", "MLFLOW_", "KAFKA_", "PREFECT_"))
           and k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # fmt: skip
    env |= {"PATH": f"{work / 'venv' / 'bin'}:{env.get('PATH', '')}", "PYTHONUNBUFFERED": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    return work / "venv" / "bin", env


def test_the_installed_package_is_complete_and_lean(installed, tmp_path):
    bin_dir, env = installed
    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(str(bin_dir / "python"), "-c", (
        "import flows, online_learning, serving, feedback, cli\n"
        "from flows.deployments import read_deployment_specs\n"
        "print([m.__file__ for m in (flows, online_learning, serving, feedback, cli)])\n"
        "print(sorted(d['name'] for d in read_deployment_specs()))\n"
    ), cwd=empty, env=env)  # fmt: skip
    files, deployments = where.stdout.splitlines()
    assert str(ROOT) not in files and "site-packages" in files
    assert deployments == "['daily-update', 'drift-adaptation']"
    listed = _run(str(bin_dir / "python"), "-m", "pip", "list", "--format=freeze", cwd=empty,
                  env=env).stdout.lower()  # fmt: skip
    for extra in ("skfolio", "arch==", "pytest", "schemathesis", "playwright"):
        assert extra not in listed, extra  # bundled data and the test tools are extras
    assert "psycopg" in listed  # [postgres]
    # The bundled real data says which extra brings it.
    refused = subprocess.run(
        [str(bin_dir / "online-learning"), "train", "--data", "sp500-stocks", "--model-id", "m"],
        cwd=empty, env=env | {"ONLINE_LEARNING_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "pip install 'online-learning[data]'" in " ".join(refused.stderr.split())


def test_up_from_the_wheel_runs_the_platform_from_an_empty_folder(installed, tmp_path):
    bin_dir, env = installed
    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    port = free_port()
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(bin_dir / "online-learning"), "up", "--api-port", str(port),
             "--market-speed", "20"],
            cwd=empty, env=env | {"ONLINE_LEARNING_HOME": str(home)}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text()[-5000:]
            try:
                return httpx.get(f"{base}/api/v1/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout_s=900, what="up to serve", every_s=1.0,
                 details=lambda: log.read_text()[-3000:])  # fmt: skip
        text = log.read_text()
        assert "bootstrapping bull_specialist, bear_specialist, sideways_specialist" in text
        assert re.search(r"outbox: [1-9]\d* event\(s\) delivered", text), text[-3000:]
        key = (home / "api-key").read_text().strip()
        # The documentation page's assets come from the installed package.
        css = httpx.get(f"{base}/api/v1/docs/static/swagger-ui/swagger-ui.css", timeout=10)
        assert css.status_code == 200 and "swagger-ui" in css.text

        def learned() -> int:
            with sqlite3.connect(f"file:{home / 'metrics.db'}?mode=ro", uri=True) as db:
                return db.execute("SELECT count(*) FROM processed_trades").fetchone()[0]

        # The simulated market's outcomes reach the feedback worker through the broker.
        wait_for(lambda: learned() >= 20, timeout_s=300, what="outcomes learned",
                 every_s=1.0, details=lambda: log.read_text()[-3000:])  # fmt: skip
        # The models learn the market the desk trades: its closes grow as the days settle.
        assert f"models' configuration: {home / 'market' / 'online-learning.toml'}" in text
        prices = home / "market" / "prices.csv"
        last_close = lambda: prices.read_text().splitlines()[-1].split(",")[0]  # noqa: E731
        first = last_close()
        wait_for(lambda: last_close() > first, timeout_s=60, what="a newer close published")

        submitted = httpx.post(f"{base}/api/v1/models/online-update", headers=bearer(key),
                               json={"model_id": "bull_specialist"}, timeout=60)  # fmt: skip
        assert submitted.status_code == 202, submitted.text
        status_url = base + submitted.json()["status_url"]

        def finished() -> dict | None:
            job = httpx.get(status_url, headers=bearer(key), timeout=30).json()
            return (
                job if job["status"] in ("promoted", "rolled_back", "deferred", "failed") else None
            )

        job = wait_for(finished, timeout_s=300, what="the update job", every_s=1.0)
        assert job["status"] in ("promoted", "rolled_back", "deferred"), job
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(120)
    assert code == 0, log.read_text()[-3000:]
