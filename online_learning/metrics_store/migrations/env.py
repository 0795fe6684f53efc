"""Alembic environment: runs the revisions on the connection the caller passes.

:func:`online_learning.metrics_store.migration.upgrade` hands over a connection already inside
a transaction (and holding the migration lock); the ``alembic`` command line gives a URL
instead. Offline (``--sql``) mode is not supported: revision 0001 asks the server whether
TimescaleDB is available.
"""

from __future__ import annotations

from alembic import context
from alembic.config import Config

from online_learning.metrics_store.engine import create_store_engine, normalise_url


def run_migrations(config: Config) -> None:
    if context.is_offline_mode():
        raise RuntimeError("the metrics store migrations need a live database (no --sql mode)")
    options = {
        "version_table": config.get_main_option("version_table") or "alembic_version",
        # Every revision runs in the caller's single transaction: all of them or none.
        "transactional_ddl": True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        "render_as_batch": True,
    }
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_store_engine(normalise_url(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


# Alembic executes this file to migrate. Anything else that imports it (pytest's doctest
# collection walks the package) finds no configuration and must do nothing.
_config = getattr(context, "config", None)
if _config is not None:
    run_migrations(_config)
