"""Metrics stores for the feedback tests: SQLite in a file and a PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from online_learning.metrics_store import MetricsStore
from tests.utils.postgres import temporary_database, temporary_schema


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[URL]:
    with temporary_database("ol_feedback") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def metrics(request: pytest.FixtureRequest, tmp_path) -> Iterator[MetricsStore]:
    """A migrated metrics store on each backend."""
    if request.param == "sqlite":
        store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
        store.migrate()
        yield store
        store.dispose()
        return
    database = request.getfixturevalue("postgres_database")
    with temporary_schema(database) as url:
        store = MetricsStore(url.render_as_string(hide_password=False))
        store.migrate()
        yield store
        store.dispose()
