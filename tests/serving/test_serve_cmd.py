"""``online-learning serve`` as a user starts it: a child process on a loopback port with
the development key, serving the registry's champions; no key ever reaches its log, even one
sent as a query parameter (HTTP or WebSocket)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets.sync.client

from cli.serve_cmd import QueryStringFilter, log_config
from online_learning.processes import free_port
from tests.utils.api_keys import bearer
from tests.utils.waiting import wait_for


def test_the_filter_drops_query_strings_from_access_and_websocket_lines():
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/x?token=secret", "1.1", 200),
        None,
    )
    QueryStringFilter().filter(access)
    assert "secret" not in access.getMessage() and "/api/v1/x" in access.getMessage()
    ws = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/api/v1/streaming/AAA?since=3&token=secret"),
        None,
    )
    QueryStringFilter().filter(ws)
    assert ws.getMessage() == '127.0.0.1:5 - "WebSocket /api/v1/streaming/AAA" [accepted]'
    config = log_config()
    assert all("no_query_string" in h["filters"] for h in config["handlers"].values())


def _start(home, *args: str):
    """``online-learning serve ARGS`` on a free port; returns (process, base URL, port, log)."""
    port = free_port()
    env = {**os.environ, "ONLINE_LEARNING_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("ONLINE_LEARNING_API_KEYS", None)
    env.pop("PREFECT_API_URL", None)
    log = home / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("online-learning")),
                "serve",
                "--port",
                str(port),
                *args,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}", port, log


def _wait_ready(process, base: str, log: Path, timeout_s: float) -> None:
    def ready() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/api/v1/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(
        ready, timeout_s=timeout_s, what="serve to be ready", every_s=0.5, details=log.read_text
    )


@pytest.fixture
def server(champions, home):
    process, base, port, log = _start(home, "--no-prefect", "--no-bootstrap")
    try:
        _wait_ready(process, base, log, 120)
        yield base, port, log
    finally:
        process.terminate()
        process.wait(30)


def test_serve_prints_the_development_key_and_keeps_every_key_out_of_its_log(server, home):
    base, port, log = server
    key = (home / "api-key").read_text().strip()
    assert f"admin scope): {key}" in log.read_text()  # printed once, at start
    headers = bearer(key)
    ready = httpx.get(f"{base}/api/v1/ready").json()
    assert set(ready["champions"]) == {"bull_specialist", "bear_specialist", "sideways_specialist"}
    me = httpx.get(f"{base}/api/v1/auth/me", headers=headers)
    assert me.json()["scopes"] == ["admin"]
    prediction = httpx.post(
        f"{base}/api/v1/predictions",
        headers=headers,
        json={"symbol": "AAA", "features": {"f1": 1, "f2": 0, "f3": 0}},
    )
    assert prediction.status_code == 200, prediction.text
    secret = "query-secret-0123456789"
    httpx.get(f"{base}/api/v1/health?token={secret}")
    url = f"ws://127.0.0.1:{port}/api/v1/streaming/AAA?token={key}"
    with websockets.sync.client.connect(url, open_timeout=10) as ws:
        assert '"hello"' in ws.recv(timeout=10)
    time.sleep(0.5)
    text = log.read_text()
    assert '"GET /api/v1/health HTTP/1.1" 200' in text
    assert "WebSocket /api/v1/streaming/AAA" in text
    assert secret not in text
    assert text.count(key) == 1  # only the start-up line that hands it to the user


def test_serve_on_an_empty_home_bootstraps_starts_prefect_and_runs_update_jobs(home, registry):
    """What a new user runs: no champion, no Prefect, no key. ``serve`` trains the three
    specialists, starts a local Prefect server serving the deployments, and an update job
    submitted over HTTP runs to its final state, which the registry confirms."""
    process, base, _, log = _start(home)
    try:
        _wait_ready(process, base, log, 600)
        key = (home / "api-key").read_text().strip()
        headers = bearer(key)
        assert "bootstrapping bull_specialist, bear_specialist, sideways_specialist" in (
            log.read_text()
        )
        assert "Prefect: http://127.0.0.1:" in log.read_text()
        submitted = httpx.post(
            f"{base}/api/v1/models/online-update",
            headers=headers,
            json={"model_id": "bear_specialist"},
            timeout=60,
        )
        assert submitted.status_code == 202, submitted.text
        status_url = base + submitted.json()["status_url"]

        def job_state() -> dict:
            return httpx.get(status_url, headers=headers, timeout=30).json()

        def finished() -> dict | None:
            job = job_state()
            final = job["status"] in ("promoted", "rolled_back", "deferred", "failed")
            return job if final else None

        job = wait_for(
            finished,
            timeout_s=300,
            what="the update job to finish",
            every_s=1.0,
            details=job_state,
        )
        assert job["status"] in ("promoted", "rolled_back", "deferred"), job
        assert job["version"] == registry.champion_version("bear_specialist")
        prefect_api = re.search(r"Prefect: (\S+)", log.read_text()).group(1)
    finally:
        process.terminate()
        code = process.wait(60)
    assert code == 0, log.read_text()[-3000:]
    # SIGTERM stopped what serve started: the local Prefect server is gone.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{prefect_api}/health", timeout=2)
