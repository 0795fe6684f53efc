"""A real broker (tansu) per module and a metrics store per test, on PostgreSQL or SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from cli.broker import EmbeddedKafka
from online_learning.metrics_store import MetricsStore
from tests.feedback.helpers import Deployment
from tests.utils.postgres import temporary_database


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture
def postgres_url() -> Iterator[URL]:
    with temporary_database("ol_feedback_worker") as url:
        yield url


@pytest.fixture
def deployment(broker, postgres_url, home) -> Iterator[Deployment]:
    """Workers on the real broker and a PostgreSQL metrics store, as on a cluster; the
    test's home holds an empty MLflow registry."""
    url = postgres_url.render_as_string(hide_password=False)
    store = MetricsStore(url)
    store.migrate()
    store.dispose()
    yield Deployment(bootstrap=broker.bootstrap_servers, database_url=url, home=home)


@pytest.fixture
def store(deployment) -> Iterator[MetricsStore]:
    store = MetricsStore(deployment.database_url)
    yield store
    store.dispose()
