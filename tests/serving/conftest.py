"""Fixtures of the API tests: the real app on the test's MLflow store and SQLite metrics store.

``client`` runs the app's lifespan (migrations, registry, feedback service, champions, hot
swap) through Starlette's TestClient; the keys of ``tests.utils.api_keys`` are its only
credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from tests.utils.api_keys import KEYS

SPECIALISTS = ("bull_specialist", "bear_specialist", "sideways_specialist")


@pytest.fixture
def serving_settings(home):
    """Settings of one replica on the test's home (MLflow, metrics.db), polling fast."""
    from serving.settings import ServingSettings

    return ServingSettings(api_keys=SecretStr(KEYS), registry_poll_s=0.3)


@pytest.fixture
def make_client(serving_settings) -> Callable:
    """``with make_client(**overrides) as client:`` an app whose settings differ."""
    from fastapi.testclient import TestClient

    from serving.app import create_app

    @contextmanager
    def make(**overrides) -> Iterator[TestClient]:
        settings = serving_settings.model_copy(update=overrides)
        with TestClient(create_app(settings)) as client:
            yield client

    return make


@pytest.fixture
def client(make_client):
    with make_client() as client:
        yield client


@pytest.fixture
def champions(registry) -> dict[str, str]:
    """The three specialists registered (small seeded models on features f1-f3)."""
    from tests.utils.registries import register

    return {
        model_id: register(registry, model_id, seed)
        for seed, model_id in enumerate(SPECIALISTS, start=1)
    }


@pytest.fixture
def served(champions, client):
    """The client once its app serves the champions."""
    assert client.get("/api/v1/ready").status_code == 200
    return client


@pytest.fixture
def platform_champions(registry) -> dict[str, str]:
    """Specialists on the platform's ten features (untrained: enough to compare paths)."""
    from tests.utils.registries import register_specialists

    return register_specialists(registry, hidden=(4,))
