"""The machine's PostgreSQL for tests: start it when it is down, hand out throwaway databases.

Tests that need PostgreSQL must run, never skip: when the server cannot be started the helpers
raise :class:`PostgresUnavailable` with what was tried. ``TEST_POSTGRES_ADMIN_URL`` overrides
the administrative connection (default: user ``postgres`` on ``127.0.0.1:5432``, trust auth)
and ``TEST_POSTGRES_CLUSTER`` the Debian cluster started when it is down (default ``main``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLUSTERS_DIR = Path("/etc/postgresql")
START_TIMEOUT_S = 60.0


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not running here and could not be started."""


def admin_url() -> URL:
    return make_url(os.environ.get("TEST_POSTGRES_ADMIN_URL", DEFAULT_ADMIN_URL))


def _conninfo(url: URL, database: str | None = None) -> str:
    return psycopg.conninfo.make_conninfo(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or None,
        dbname=database or url.database or "postgres",
        connect_timeout=5,
    )


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _accepts_queries(url: URL) -> bool:
    try:
        with psycopg.connect(_conninfo(url), autocommit=True) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.OperationalError:  # refused, or "the database system is starting up"
        return False


def ensure_postgres() -> URL:
    """Make sure the server of :func:`admin_url` answers; start the local cluster if not.

    Returns the administrative URL. Runs ``pg_ctlcluster --skip-systemctl-redirect <version>
    main start`` for the newest version in ``/etc/postgresql`` when the port is closed.
    """
    url = admin_url()
    host, port = url.host or "127.0.0.1", url.port or 5432
    if _port_open(host, port) and _accepts_queries(url):
        return url
    if not _port_open(host, port):
        installed = CLUSTERS_DIR.iterdir() if CLUSTERS_DIR.is_dir() else ()
        versions = sorted((p for p in installed if p.name.isdigit()), key=lambda p: int(p.name))
        if not versions:
            raise PostgresUnavailable(
                f"PostgreSQL is not running on {host}:{port} and {CLUSTERS_DIR} has no cluster "
                "to start; install postgresql or set TEST_POSTGRES_ADMIN_URL"
            )
        cluster = os.environ.get("TEST_POSTGRES_CLUSTER", "main")
        command = [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            versions[-1].name,
            cluster,
            "start",
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        # Exit code 2 means "already running" (another test process started it first).
        if result.returncode not in (0, 2):
            raise PostgresUnavailable(
                f"could not start PostgreSQL with {' '.join(command)} "
                f"(exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _accepts_queries(url):
            return url
        time.sleep(0.2)
    raise PostgresUnavailable(
        f"PostgreSQL on {host}:{port} did not accept connections within {START_TIMEOUT_S:.0f} s"
    )


@contextmanager
def temporary_database(prefix: str = "ol_test") -> Iterator[URL]:
    """A new, empty database for the duration of the block, dropped afterwards.

    Yields its ``postgresql+psycopg`` URL. The name carries a random suffix, so concurrent
    test runs (other checkouts, CI jobs on one machine) never see each other's data.
    """
    admin = ensure_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name)
    finally:
        with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
            # FORCE: a test that failed may have left connections open.
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def temporary_schema(database: URL, prefix: str = "t") -> Iterator[URL]:
    """A new schema in ``database``; yields a URL whose connections use it as search path.

    Cheaper than a database per test: every table a test creates lands in its own schema,
    which is dropped with everything in it afterwards.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    conninfo = _conninfo(database)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield database.update_query_dict({"options": f"-csearch_path={name}"})
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )
