"""Database URLs and engines of the metrics store: SQLite in a file, or PostgreSQL.

SQLite is set up so that several threads and processes (the updater, the outbox relay) can
share one file: write-ahead logging lets readers run while one writer writes, a busy timeout
makes a second writer wait instead of failing, and write transactions start with
``BEGIN IMMEDIATE`` so that a transaction that read first never has to upgrade its lock
(an upgrade that would deadlock fails at once, busy timeout or not).
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from online_learning.metrics_store.errors import (
    StoreError,
    StoreRefusedError,
    StoreUnavailableError,
)
from online_learning.urls import redact, redact_url

SQLITE_BUSY_TIMEOUT_S = 30.0
POSTGRES_CONNECT_TIMEOUT_S = 10
# Execution option marking a connection whose transactions write (see ``begin_write``).
WRITE_OPTION = "metrics_store_write"


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL and choose the driver the store uses.

    ``postgres://`` and ``postgresql://`` select psycopg 3 (``postgresql+psycopg://``);
    ``sqlite:///path`` is a file and ``sqlite://`` an in-memory database (one connection,
    for examples and tests). Other backends and drivers raise :class:`StoreError`.

    Examples
    --------
    >>> normalise_url("postgres://trader:s3cret@db/metrics").render_as_string()
    'postgresql+psycopg://trader:***@db/metrics'
    >>> normalise_url("sqlite:////data/metrics.db").database
    '/data/metrics.db'
    """
    if isinstance(url, str):
        if not url.strip():
            raise StoreError("the metrics database URL is empty")
        try:
            parsed = sa.make_url(url.strip())
        except (ArgumentError, ValueError):
            # The parser's own message may quote the URL, password included.
            raise StoreError(f"not a database URL: {redact(url)!r}") from None
    else:
        parsed = url
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed.set(drivername="sqlite")
    raise StoreError(
        f"unsupported metrics database {parsed.render_as_string()!r}: use sqlite:///<file> "
        "or postgresql://<user>@<host>/<database> (driver psycopg)"
    )


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_store_engine(url: URL) -> Engine:
    """An engine for a URL from :func:`normalise_url`; creates the SQLite file (mode 0600)
    and its folder (0700) when they do not exist.

    Does not connect: an unreachable server shows up on first use.
    """
    if url.get_backend_name() == "postgresql":
        if importlib.util.find_spec("psycopg") is None:
            raise StoreError(
                f"{redact_url(url)}: the PostgreSQL driver "
                "(psycopg) is not installed: pip install 'online-learning[postgres]'"
            )
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    if is_memory(url):
        engine = sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        path = Path(url.database).expanduser()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_owner_only(path)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from exc
        engine = sa.create_engine(
            url.set(database=str(path)), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}
        )
    _take_over_sqlite_transactions(engine)
    return engine


def _create_owner_only(path: Path) -> None:
    # Owner-only from its first byte (SQLite gives its WAL and journal the same mode).
    # Only a file that does not exist yet is opened here: closing any descriptor of the
    # database drops every POSIX lock this process's SQLite connections hold on it, and
    # another process closing its last connection would then checkpoint and delete the WAL
    # under them (SQLite's "How To Corrupt An SQLite Database File", 2.2): commits lost,
    # then "database disk image is malformed".
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _take_over_sqlite_transactions(engine: Engine) -> None:
    # The recipe of SQLAlchemy's SQLite documentation ("Enabling Non-Legacy SQLite
    # Transactional Modes"): sqlite3 stops emitting BEGIN itself, so that DDL is
    # transactional (migrations are atomic) and a writer can say BEGIN IMMEDIATE.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        # Safe with WAL (a crash loses at most the last commits, never consistency).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    # WAL is a property of the file, set once. Switching to it fails at once, without
    # waiting for the busy timeout, while another connection holds a lock (two processes
    # opening the same new file), so it is retried until the timeout.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def begin_write(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that will write; commits on success, rolls back on error.

    On SQLite the transaction takes the write lock when it starts (waiting up to the busy
    timeout for another writer); elsewhere this is ``engine.begin()``.
    """
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def translate_errors(action: str, url: URL) -> Iterator[None]:
    """Turn driver errors into :class:`StoreError` naming ``action`` and the redacted URL.

    A connection that failed or dropped is :class:`StoreUnavailableError`; values the
    database refused (PostgreSQL's ``DataError``: a NUL in a text, a value too long; a text
    the driver cannot encode) are :class:`StoreRefusedError`; anything else (a constraint,
    a missing table) is a plain :class:`StoreError`.
    """
    try:
        yield
    except DBAPIError as exc:
        kind = error_kind(exc)
        where = url.render_as_string()
        message = f"{action} failed on {where}: {describe(exc, url)}"
        raise kind(message, action=action) from exc
    except UnicodeEncodeError as exc:  # psycopg encodes text itself, outside DBAPIError
        where = url.render_as_string()
        raise StoreRefusedError(
            f"{action} failed on {where}: a text cannot be encoded ({exc.reason})", action=action
        ) from exc


_SCHEMA_PROBLEMS = ("no such table", "no such column", "has no column")


def error_kind(exc: DBAPIError) -> type[StoreError]:
    """Which :class:`StoreError` a driver error is: unavailable, refused or plain."""
    if exc.connection_invalidated:
        return StoreUnavailableError
    if isinstance(exc, sa.exc.DataError):
        return StoreRefusedError
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        # SQLite reports a missing table as an operational error too: that is no outage.
        text = str(getattr(exc, "orig", exc)).lower()
        if any(problem in text for problem in _SCHEMA_PROBLEMS):
            return StoreError
        return StoreUnavailableError
    return StoreError


def describe(exc: BaseException, url: URL) -> str:
    """The driver's message on one line, without the password should it quote it."""
    original = getattr(exc, "orig", None) or exc
    message = " ".join(str(original).split())
    if url.password:
        message = message.replace(str(url.password), "***")
    return message or type(original).__name__
