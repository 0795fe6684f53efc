"""A Prefect server on a laptop, and the deployments served so schedule and trigger are live.

What ``online-learning up`` uses::

    from flows.serve import orchestration

    with orchestration(settings.home) as prefect:
        ...  # daily-update runs on its cron, drift events start drift-adaptation runs

- :func:`orchestration` uses the server at ``PREFECT_API_URL`` when one is configured, else
  starts :func:`local_server` (``prefect server start`` on a free loopback port, SQLite and
  logs in ``$ONLINE_LEARNING_HOME/prefect``, healthy before it returns) and serves the
  deployments there.
- :func:`serving` starts ``python -m flows.serve`` (:func:`serve_deployments`) in a child
  process: it registers the deployments of ``prefect.yaml`` (schedules, triggers, parameters)
  with the server and runs their flow runs as subprocesses, until the context exits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flows.deployments import DEPLOYMENT_NAMES, load_deployments
from online_learning.processes import free_port, stop_process_group, tail, wait_http_ok

SERVER_START_TIMEOUT_S = 120.0
SERVE_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LocalServer:
    """A ``prefect server start`` child process."""

    api_url: str
    ui_url: str
    log_path: Path
    process: subprocess.Popen


def _child_env(**updates: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **updates}
    return env


@contextmanager
def local_server(
    home: Path,
    *,
    port: int | None = None,
    ui: bool = True,
    timeout_s: float = SERVER_START_TIMEOUT_S,
) -> Iterator[LocalServer]:
    """Run a Prefect server with its SQLite database under ``home / "prefect"``.

    Listens on 127.0.0.1 (a free port unless ``port`` is given); the log is
    ``home/prefect/server.log``. Raises ``RuntimeError`` with the end of the log when the
    server exits or is not healthy within ``timeout_s``.
    """
    prefect_home = Path(home).expanduser().resolve() / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = prefect_home / "server.log"
    env = _child_env(
        PREFECT_HOME=str(prefect_home),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{prefect_home / 'prefect.db'}",
        PREFECT_SERVER_UI_ENABLED="true" if ui else "false",
    )
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    server = LocalServer(f"{base}/api", base, log_path, process)
    try:
        _wait_healthy(server, timeout_s)
        yield server
    finally:
        stop_process_group(process)


def _wait_healthy(server: LocalServer, timeout_s: float) -> None:
    failure = wait_http_ok(f"{server.api_url}/health", server.process, timeout_s)
    if failure is not None:
        raise RuntimeError(f"the Prefect server {failure}:\n{tail(server.log_path)}")


@dataclass(frozen=True)
class Orchestration:
    """Where the flows are orchestrated: the API, its UI, and whether this process serves
    the deployments (a local server) or a work pool's workers run them (a configured one)."""

    api_url: str
    ui_url: str
    served: bool


@contextmanager
def orchestration(home: Path) -> Iterator[Orchestration]:
    """What ``online-learning up`` runs: the configured Prefect server, or a local one that
    serves the deployments.

    With ``PREFECT_API_URL`` set (environment or Prefect profile) nothing is started: that
    server's deployments (``prefect deploy --all``) are run by its work pool's workers, and
    serving them from here would replace them. Otherwise a :func:`local_server` is started in
    ``home/prefect`` and the deployments are served (:func:`serving`, log in
    ``home/prefect/serve.log``) until the context exits.
    """
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        yield Orchestration(configured, configured.removesuffix("/api"), served=False)
        return
    with local_server(home) as server:
        log_path = server.log_path.with_name("serve.log")
        with serving(server.api_url, log_path=log_path):
            yield Orchestration(server.api_url, server.ui_url, served=True)


@contextmanager
def serving(
    api_url: str,
    *,
    log_path: Path | None = None,
    poll_seconds: float = 5.0,
    timeout_s: float = SERVE_START_TIMEOUT_S,
) -> Iterator[subprocess.Popen]:
    """Serve the deployments of ``prefect.yaml`` against ``api_url`` in a child process.

    Returns once the server has seen the child poll for both deployments (their runs will be
    picked up within ``poll_seconds``); on exit the child is stopped, which pauses the
    deployments. Flow runs inherit this process's environment (``ONLINE_LEARNING_HOME``...).
    """
    started = datetime.now(UTC)
    env = _child_env(
        PREFECT_API_URL=api_url,
        PREFECT_RUNNER_POLL_FREQUENCY=str(max(1, round(poll_seconds))),
    )
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log_path:
            out.close()
    try:
        _wait_polled(api_url, process, started, timeout_s, log_path)
        yield process
    finally:
        stop_process_group(process)


def _wait_polled(
    api_url: str,
    process: subprocess.Popen,
    since: datetime,
    timeout_s: float,
    log_path: Path | None,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + timeout_s
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                detail = tail(log_path) if log_path else "(no log)"
                raise RuntimeError(f"serving the deployments failed:\n{detail}")
            try:
                polled = [client.read_deployment_by_name(n).last_polled for n in DEPLOYMENT_NAMES]
            except ObjectNotFound:
                polled = [None]
            if all(p is not None and p >= since for p in polled):
                return
            time.sleep(0.5)
    raise RuntimeError(f"the deployments were not served after {timeout_s:.0f} s")


def serve_deployments(prefect_yaml: Path | None = None) -> None:
    """Register the deployments of ``prefect.yaml`` and run their flow runs; blocks until
    SIGTERM or Ctrl-C (then pauses them). ``PREFECT_API_URL`` names the server. The drift
    trigger's cool-down is the platform's ``drift_cooldown_s``."""
    from prefect import serve

    from online_learning.settings import get_settings

    cooldown = get_settings().drift_cooldown_s
    serve(*load_deployments(prefect_yaml, drift_cooldown_s=cooldown), print_starting_message=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__)
    parser.add_argument("--prefect-yaml", type=Path, default=None)
    args = parser.parse_args(argv)
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # Prefect would serve on a throwaway server of its own
        parser.error("set PREFECT_API_URL to the server to serve the deployments on")
    serve_deployments(args.prefect_yaml)


if __name__ == "__main__":
    main()
