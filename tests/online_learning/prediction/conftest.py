"""Fixtures of the prediction tests: real MLflow champions, a real SQLite metrics store."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from online_learning.data import SyntheticMarket
from online_learning.features import FEATURE_COLUMNS, build_features
from online_learning.metrics_store import MetricsStore
from online_learning.models import RegimeSpecialist
from online_learning.prediction import ChampionHolder
from online_learning.specialists import SPECIALISTS


def publish_specialist(
    registry, model_id: str, seed: int, features=FEATURE_COLUMNS, hidden=(8,)
) -> str:
    """Register a seeded specialist on the platform's features and make it champion."""
    torch.manual_seed(seed)
    model = RegimeSpecialist(list(features), hidden=hidden, regime=SPECIALISTS.get(model_id))
    if tuple(features) == FEATURE_COLUMNS:
        frame = build_features(SyntheticMarket(seed=seed, n_symbols=2, n_days=200).fetch())
        model.set_normalization(frame[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float32))
    record = registry.log_candidate(
        model_id=model_id,
        model=model,
        ewc_state=None,
        params={"seed": seed},
        metrics={},
        tags={"regime": SPECIALISTS.get(model_id, "bull")},
        register=True,
    )
    registry.promote(model_id=model_id, version=record.version)
    return record.version


@pytest.fixture
def store(tmp_path) -> Iterator[MetricsStore]:
    """A migrated SQLite metrics store in a file (shared by several instances in a test)."""
    metrics = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    metrics.migrate()
    yield metrics
    metrics.dispose()


@pytest.fixture
def champions(registry) -> dict[str, str]:
    """The three specialists registered and promoted: ``{model_id: version}``."""
    return {model_id: publish_specialist(registry, model_id, seed)
            for seed, model_id in enumerate(SPECIALISTS)}  # fmt: skip


@pytest.fixture
def holder(registry, champions) -> ChampionHolder:
    champion_holder = ChampionHolder(registry)
    champion_holder.load()
    return champion_holder


@pytest.fixture
def feature_rows() -> list[dict[str, float]]:
    """Real feature rows of a synthetic market (every regime present)."""
    frame = build_features(SyntheticMarket(seed=7, n_symbols=3, n_days=400).fetch())
    picked = frame.groupby("regime_label").head(5)
    return [{n: float(v) for n, v in zip(FEATURE_COLUMNS, row, strict=True)}
            for row in picked[list(FEATURE_COLUMNS)].to_numpy()]  # fmt: skip


@pytest.fixture
def publish(registry):
    """``publish(model_id, seed, features=..., hidden=(8,)) -> version`` on the test registry."""
    return lambda model_id, seed, **options: publish_specialist(registry, model_id, seed, **options)


@pytest.fixture(scope="module")
def postgres_database():
    from tests.utils.postgres import temporary_database

    with temporary_database("ol_prediction") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def metrics(request: pytest.FixtureRequest, tmp_path) -> Iterator[MetricsStore]:
    """A migrated metrics store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metrics.db'}"
        store = MetricsStore(url)
        store.migrate()
        yield store
        store.dispose()
        return
    from tests.utils.postgres import temporary_schema

    with temporary_schema(request.getfixturevalue("postgres_database")) as url:
        store = MetricsStore(url.render_as_string(hide_password=False))
        store.migrate()
        yield store
        store.dispose()
