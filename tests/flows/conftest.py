"""A real Prefect server (SQLite) for the flow tests, started once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """``prefect server start`` on a free port, through :func:`flows.serve.local_server`."""
    from prefect.logging.handlers import APILogWorker

    from flows.serve import local_server

    with local_server(tmp_path_factory.mktemp("prefect-server"), ui=False) as server:
        yield server
        APILogWorker.drain_all(timeout=10)  # deliver the logs while the server is up


@pytest.fixture
def prefect_api(prefect_server):
    """This process talks to the session's server (flows run in process use it)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        yield prefect_server.api_url


@pytest.fixture
def specialists(registry) -> dict[str, str]:
    """The three regime specialists bootstrapped in the test's registry: model -> version."""
    from tests.flows.helpers import bootstrap_specialists

    return bootstrap_specialists(registry)


@pytest.fixture
def metrics_store(home):
    from online_learning.metrics_store import MetricsStore
    from online_learning.settings import get_settings

    with MetricsStore.from_settings(get_settings()) as store:
        store.migrate()
        yield store
