"""Run the store's Alembic migrations programmatically (no ``alembic.ini`` needed).

The migration environment is the ``migrations`` folder next to this file. Upgrades run in one
transaction and are serialised between processes: on PostgreSQL by a transaction-level
advisory lock, on SQLite by the write lock that ``BEGIN IMMEDIATE`` takes. A second process
that starts while the first migrates waits, then finds the schema at head and does nothing.

A new revision is written with ``alembic.command.revision(alembic_config(), message=...)``
(from ``migrations/script.py.mako``). The version table is ``metrics_store_alembic_version``,
not Alembic's default, so the store can share a PostgreSQL database with MLflow, whose own
migrations use ``alembic_version``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Engine

from online_learning.metrics_store.engine import begin_write, translate_errors
from online_learning.metrics_store.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "metrics_store_alembic_version"
# Any fixed 64-bit number; names this store's migration lock among advisory locks.
_ADVISORY_LOCK_ID = 0x6D6574726963_73

# Alembic installs its ``alembic.context`` and ``alembic.op`` proxies process-wide, so two
# threads must not run migrations at the same time.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(connection: sa.Connection | None = None, *, url: str | None = None) -> Config:
    """An Alembic configuration for the store's migrations on ``connection`` or ``url``.

    With a connection, migrations run inside that connection's transaction; ``url`` is what
    ``env.py`` connects to otherwise (the ``alembic`` command line).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    if url is not None:
        # ConfigParser interpolation: a percent-encoded password must be escaped.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this code knows.

    Examples
    --------
    >>> head_revision()
    '0008'
    """
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise StoreError(f"the metrics store migrations have {len(heads)} heads: {heads}")
    return heads[0]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database of ``engine`` to ``revision``; does nothing when it is there.

    Examples
    --------
    >>> from online_learning.metrics_store.engine import create_store_engine, normalise_url
    >>> engine = create_store_engine(normalise_url("sqlite://"))
    >>> upgrade(engine)
    >>> current_revision(engine)
    '0008'
    """
    with (
        _ALEMBIC_LOCK,
        translate_errors("migrating the metrics database", engine.url),
        begin_write(engine) as connection,
    ):
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_ID)))
        try:
            command.upgrade(alembic_config(connection), revision)
        except CommandError as exc:
            raise StoreError(
                f"cannot migrate the metrics database {engine.url.render_as_string()} "
                f"to {revision!r}: {exc}"
            ) from exc


def current_revision(engine: Engine) -> str | None:
    """The revision the database of ``engine`` is at, or None before the first migration."""
    with (
        translate_errors("reading the metrics database revision", engine.url),
        engine.connect() as connection,
    ):
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()
