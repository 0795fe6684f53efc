"""Child processes of the embedded defaults (broker, Prefect server, API): ports, stopping, logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

__all__ = ["free_port", "port_taken", "stop_process_group", "tail"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    """True when ``port`` on ``host`` cannot be bound (something listens there)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def stop_process_group(
    process: subprocess.Popen, timeout_s: float = 30.0, kill_timeout_s: float = 10.0
) -> None:
    """SIGTERM the child's process group (started with ``start_new_session=True``: it may
    have children of its own), then SIGKILL what is left after ``timeout_s``."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, kill_timeout_s)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ("" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_http_ok(url: str, process: subprocess.Popen, timeout_s: float) -> str | None:
    """Poll ``url`` until it answers 200 while ``process`` runs; None when it did, else why
    not (the child exited, or the time ran out) for the caller to raise with."""
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with code {process.returncode}"
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return f"did not answer {url} within {timeout_s:.0f} s"
