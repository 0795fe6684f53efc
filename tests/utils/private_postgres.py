"""A PostgreSQL server of a test's own, to stop and start: real outages of a real database.

The machine's PostgreSQL (:mod:`tests.utils.postgres`) is shared with every other test run, so
it is never stopped; an outage is played on a private cluster instead: ``initdb`` into a
temporary folder (trust authentication, loopback only, a free port), ``pg_ctl start`` and
``pg_ctl stop``. When the tests run as root the cluster belongs to the ``postgres`` system user
(PostgreSQL refuses to run as root). Raises :class:`~tests.utils.postgres.PostgresUnavailable`
when the server binaries are missing: such a test fails, it never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from online_learning.processes import free_port
from tests.utils.postgres import CLUSTERS_DIR, PostgresUnavailable

START_TIMEOUT_S = 60.0


def _binaries() -> Path:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
                      key=lambda p: int(p.name)) if root.is_dir() else []  # fmt: skip
    if not versions:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries under {root} (nor a cluster in {CLUSTERS_DIR}); "
            "install postgresql"
        )
    return versions[-1] / "bin"


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: :meth:`start`, :meth:`stop`, :attr:`url`.

    Use it as a context manager; the folder and the server go at the end.
    """

    def __init__(self) -> None:
        self.bin = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="ol-private-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def start(self) -> None:
        """Start the server and wait until it answers queries."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", str(int(START_TIMEOUT_S)), "start")  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                     dbname="postgres", connect_timeout=2):  # fmt: skip
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected; ``immediate``: a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def close(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
