"""The serving API as a child process of ``online-learning up``.

``up`` runs the API as ``online-learning serve`` in its own process (its own interpreter, so
predictions never wait on the feedback worker's or the market's Python threads), against the
same home, broker and Prefect server, and waits until ``GET /api/v1/ready`` says the champions
are loaded. Without ``ONLINE_LEARNING_API_KEYS`` it serves the development key
(``<home>/api-key``, created on first start, ``admin`` scope).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from online_learning.errors import ConfigError
from online_learning.processes import (
    free_port,
    port_taken,
    stop_process_group,
    wait_http_ok,
)
from online_learning.supervision import ProcessChild, Supervisor

__all__ = ["EXAMPLE_AGENT", "ApiProcess", "api_process", "example_agent"]

READY_TIMEOUT_S = 180.0
#: The API's name under a supervisor (what ``up`` says when it restarts it).
API_CHILD = "API"
_SERVE = "from cli import main; main()"


@dataclass(frozen=True)
class ApiProcess:
    """A running API: its base URL (``http://host:port``), the key it was given to print
    (None when the keys came from ``ONLINE_LEARNING_API_KEYS``) and its log file."""

    url: str
    key: str | None
    created_key: bool
    log_path: Path
    process: subprocess.Popen

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def dashboard_url(self) -> str:
        return f"{self.url}/dashboard"


@contextmanager
def api_process(
    *,
    home: Path,
    bootstrap_servers: str | None,
    prefect_api_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    timeout_s: float = READY_TIMEOUT_S,
    supervisor: Supervisor | None = None,
) -> Iterator[ApiProcess]:
    """Start ``online-learning serve`` and yield once it is ready; stop it on exit.

    ``port`` 0 picks a free one. Raises :class:`ConfigError` when the port is taken, or when
    the API exits or is not ready within ``timeout_s`` (the message names its log). With a
    ``supervisor`` the API is its child ``API``: restarted (same port, same key) when it dies.
    """
    from serving.auth import development_key

    if port == 0:
        port = free_port(host)
    elif port_taken(host, port):
        raise ConfigError(
            f"port {port} on {host} is taken: stop what listens there or pass --api-port "
            "(0 picks a free port)"
        )
    env = dict(os.environ)
    key, created = None, False
    if not env.get("ONLINE_LEARNING_API_KEYS"):
        key, created = development_key(home)
        env["ONLINE_LEARNING_API_KEYS"] = f"{key}:admin"
    if bootstrap_servers:
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap_servers
    if prefect_api_url:
        env["PREFECT_API_URL"] = prefect_api_url
    env["ONLINE_LEARNING_HOME"] = str(home)
    log_path = home.expanduser() / "logs" / "api.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", _SERVE, "serve", "--host", host, "--port", str(port),
               "--no-bootstrap", "--no-prefect"]  # fmt: skip

    def spawn() -> subprocess.Popen:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    if supervisor is None:
        process = spawn()
        stop = lambda: stop_process_group(process, timeout_s=20.0)  # noqa: E731
    else:
        child = supervisor.add(ProcessChild(API_CHILD, spawn, stop_timeout_s=20.0))
        process = child.process
        stop = lambda: supervisor.remove(API_CHILD)  # noqa: E731
    running = ApiProcess(f"http://{host}:{port}", key, created, log_path, process)
    try:
        _wait_ready(running, timeout_s)
        yield running
    finally:
        stop()


def _wait_ready(api: ApiProcess, timeout_s: float) -> None:
    failure = wait_http_ok(f"{api.api_url}/ready", api.process, timeout_s)
    if failure is not None:
        raise ConfigError(f"the API {failure}; see {api.log_path}")


#: The example agent of the repository (``examples/trading_agent.py``); absent from a wheel.
EXAMPLE_AGENT = Path(__file__).resolve().parents[1] / "examples" / "trading_agent.py"


@contextmanager
def example_agent(api: ApiProcess, *, home: Path, interval_s: float = 1.0) -> Iterator[Path | None]:
    """Run ``examples/trading_agent.py --forever`` against ``api`` until the block ends.

    Yields its log path, or None (and starts nothing) when the example is not there (an
    installed package without the repository) or the API has no development key to give it.
    """
    if not EXAMPLE_AGENT.exists() or api.key is None:
        yield None
        return
    log_path = home.expanduser() / "logs" / "agent.log"
    env = dict(os.environ, ONLINE_LEARNING_API_KEY=api.key, PYTHONUNBUFFERED="1")
    command = [sys.executable, str(EXAMPLE_AGENT), "--url", api.url, "--forever",
               "--interval", str(interval_s)]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield log_path
    finally:
        stop_process_group(process, timeout_s=10.0)
