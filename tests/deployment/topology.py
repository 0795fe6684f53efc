"""What each host of the platform runs and with which environment, written once.

The test of several hosts (:mod:`tests.deployment.conftest`) fills these in with the hosts'
addresses and homes; ``tests/deployment/test_compose.py`` fills them in with the compose
file's service names and checks that ``compose.yaml`` runs the same commands with the same
environment, so the two descriptions of the topology cannot drift apart.

Placeholders: ``{self}`` is the host's own address (it listens there), ``{home}`` its home,
``{name}`` its name, and ``{pg}``, ``{kafka}``, ``{mlflow}``, ``{prefect}``, ``{dask}``,
``{lb}`` the other hosts' addresses.
"""

from __future__ import annotations

from collections.abc import Mapping

PG_PORT, KAFKA_PORT, MLFLOW_PORT, PREFECT_PORT, DASK_PORT = 5432, 9092, 5000, 4200, 8786
API_PORT, LB_PORT, LB_STATS_PORT, METRICS_PORT = 8000, 8080, 8404, 9100
POOL = "online-learning"

#: Every host, in address order (10.88.<n>.2, .3, ... in the test).
HOSTS = ("pg", "kafka", "mlflow", "prefect", "worker", "dask", "dask1", "dask2",
         "api1", "api2", "lb", "fb1", "fb2", "market")  # fmt: skip
REPLICAS = ("api1", "api2")
FEEDBACK_WORKERS = ("fb1", "fb2")
DASK_WORKERS = ("dask1", "dask2")
#: Hosts that run the platform's own code (its environment: :data:`PLATFORM_ENV`).
PLATFORM_HOSTS = ("worker", "dask1", "dask2", "api1", "api2", "fb1", "fb2")

#: The environment of every process of the platform: its servers, by address.
PLATFORM_ENV = {
    "ONLINE_LEARNING_HOME": "{home}",
    "MLFLOW_TRACKING_URI": f"http://{{mlflow}}:{MLFLOW_PORT}",
    "ONLINE_LEARNING_DATABASE_URL": f"postgresql://postgres@{{pg}}:{PG_PORT}/metrics",
    "KAFKA_BOOTSTRAP_SERVERS": f"{{kafka}}:{KAFKA_PORT}",
    "PREFECT_API_URL": f"http://{{prefect}}:{PREFECT_PORT}/api",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
#: What each host's own variables add (beyond :data:`PLATFORM_ENV`).
HOST_ENV = {
    "fb1": {"ONLINE_LEARNING_METRICS_HOST": "0.0.0.0"},
    "fb2": {"ONLINE_LEARNING_METRICS_HOST": "0.0.0.0"},
    "api1": {"ONLINE_LEARNING_REPLICA": "{name}"},
    "api2": {"ONLINE_LEARNING_REPLICA": "{name}"},
}

_FEEDBACK = ["online-learning", "feedback-worker", "--worker-id", "{name}", "--verbose",
             "--metrics-port", str(METRICS_PORT)]  # fmt: skip
_SERVE = ["online-learning", "serve", "--host", "{self}", "--port", str(API_PORT),
          "--no-bootstrap", "--no-prefect"]  # fmt: skip
_DASK_WORKER = ["dask", "worker", f"tcp://{{dask}}:{DASK_PORT}", "--nthreads", "1",
                "--nworkers", "1", "--host", "{self}", "--name", "{name}", "--no-dashboard",
                "--local-directory", "{home}/dask"]  # fmt: skip

#: ``{host: [command, ...]}``: what the host runs, in order (the last keeps running). The
#: PostgreSQL and HAProxy hosts run their own servers' commands, set up by each side.
COMMANDS: dict[str, list[list[str]]] = {
    "kafka": [["tansu", "broker", "--listener-url", f"tcp://{{self}}:{KAFKA_PORT}",
               "--advertised-listener-url", f"tcp://{{kafka}}:{KAFKA_PORT}",
               "--storage-engine", "memory://tansu/"]],
    "mlflow": [["mlflow", "server",
                "--backend-store-uri", f"postgresql+psycopg://postgres@{{pg}}:{PG_PORT}/mlflow",
                "--serve-artifacts", "--artifacts-destination", "{home}/artifacts",
                "--host", "{self}", "--port", str(MLFLOW_PORT), "--workers", "2"]],
    "prefect": [["prefect", "server", "start", "--host", "{self}", "--port", str(PREFECT_PORT)]],
    "dask": [["dask", "scheduler", "--host", "{self}", "--port", str(DASK_PORT),
              "--no-dashboard"]],
    # The specialists trained once, from one place, before any replica starts; the
    # deployments registered for the work pool from the worker's home (the flow runs' folder).
    "worker": [
        ["online-learning", "train"],
        ["prefect", "--no-prompt", "work-pool", "create", POOL, "--type", "process"],
        ["prefect", "--no-prompt", "deploy", "--all", "--prefect-file", "{prefect_yaml}"],
        ["prefect", "worker", "start", "--pool", POOL, "--name", "worker"],
    ],
    "dask1": [_DASK_WORKER],
    "dask2": [_DASK_WORKER],
    "api1": [_SERVE],
    "api2": [_SERVE],
    "fb1": [_FEEDBACK],
    "fb2": [_FEEDBACK],
    "market": [["python", "{agent}", "--url", f"http://{{lb}}:{LB_PORT}"]],
}  # fmt: skip


def fill(template: str, name: str, addresses: Mapping[str, str], **values: str) -> str:
    """``template`` for host ``name``: its address as ``{self}``, the others' by name."""
    return template.format(self=addresses[name], name=name, **addresses, **values)


def commands(name: str, addresses: Mapping[str, str], **values: str) -> list[list[str]]:
    """The commands of host ``name``, filled in (``values``: ``home``, ``prefect_yaml``,
    ``agent``)."""
    return [[fill(part, name, addresses, **values) for part in command]
            for command in COMMANDS[name]]  # fmt: skip


def environment(name: str, addresses: Mapping[str, str], **values: str) -> dict[str, str]:
    """The platform's environment of host ``name``, its own variables included."""
    templates = {**PLATFORM_ENV, **HOST_ENV.get(name, {})}
    return {key: fill(value, name, addresses, **values) for key, value in templates.items()}
