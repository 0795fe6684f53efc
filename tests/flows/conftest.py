"""Fixtures of the flow tests (the Prefect server is shared: see tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


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
