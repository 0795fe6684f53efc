"""The campaign's experiments as tests: a real broker per module, real PostgreSQL servers.

Outages are played on a private PostgreSQL cluster (:mod:`tests.utils.private_postgres`),
stopped and started for real; the machine's shared server is never stopped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.broker import EmbeddedKafka
from tests.utils.private_postgres import PrivatePostgres


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def deployment(broker, home) -> Iterator:
    """Workers on the real broker and a PostgreSQL database of their own (the machine's)."""
    from online_learning.metrics_store import MetricsStore
    from tests.feedback.helpers import Deployment
    from tests.utils.postgres import temporary_database

    with temporary_database("ol_reliability") as url:
        database_url = url.render_as_string(hide_password=False)
        store = MetricsStore(database_url)
        store.migrate()
        store.dispose()
        yield Deployment(bootstrap=broker.bootstrap_servers, database_url=database_url, home=home)


@pytest.fixture
def store(deployment) -> Iterator:
    from online_learning.metrics_store import MetricsStore

    store = MetricsStore(deployment.database_url)
    yield store
    store.dispose()
