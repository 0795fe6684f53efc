"""Champions from the real MLflow registry: load, hot swap under load, failed loads."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from online_learning.features import FEATURE_COLUMNS
from online_learning.prediction import (
    ChampionHolder,
    ChampionLoadError,
    ModelServingService,
    NoChampions,
    UnknownModel,
)
from online_learning.registry import MlflowRegistry
from online_learning.specialists import SPECIALISTS
from tests.utils.registries import FEATURES, register
from tests.utils.waiting import wait_for

MODEL = "bull_specialist"


def reference_p_up(registry, version: str, rows: np.ndarray) -> np.ndarray:
    """``p_up`` of a version loaded on its own, outside the holder."""
    model = registry.load_version(MODEL, version).model
    return model.predict_proba(rows).astype(np.float64)


def test_load_needs_a_champion_and_serves_every_one_there_is(registry) -> None:
    holder = ChampionHolder(registry)
    with pytest.raises(NoChampions, match="online-learning train"):
        holder.load()
    with pytest.raises(NoChampions):
        holder.snapshot()
    assert not holder.loaded
    version = register(registry, MODEL, seed=1)
    champions = holder.load()
    assert champions.versions == {MODEL: version}  # the other two have no champion yet
    assert champions.feature_names == tuple(FEATURES)
    assert holder.refresh() == []
    with pytest.raises(UnknownModel, match="not served"):
        holder.refresh(model_id="momentum_model")
    with pytest.raises(UnknownModel):
        champions.get("bear_specialist")


def test_a_champion_that_appears_later_is_served_after_refresh(registry) -> None:
    register(registry, MODEL, seed=1)
    holder = ChampionHolder(registry)
    holder.load()
    bear = register(registry, "bear_specialist", seed=2)
    assert holder.refresh(model_id="bear_specialist") == ["bear_specialist"]
    assert holder.snapshot().versions["bear_specialist"] == bear


def test_promotion_under_load_fails_no_prediction_and_keeps_snapshots(registry) -> None:
    v1 = register(registry, MODEL, seed=1)
    holder = ChampionHolder(registry, model_ids=[MODEL])
    holder.load()
    service = ModelServingService(holder=holder)
    rows = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    features = [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]
    served: list[tuple[str, float, int]] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def agent() -> None:
        i = 0
        while not stop.is_set():
            try:
                prediction = service.predict("AAA", features[i % 4])
            except BaseException as exc:
                failures.append(exc)
                return
            (component,) = prediction.components
            served.append((component.version, component.p_up, i % 4))
            i += 1

    old = holder.snapshot()
    thread = threading.Thread(target=agent)
    thread.start()
    try:

        def predicted(n: int) -> bool:
            return len(served) >= n

        wait = {"timeout_s": 30, "every_s": 0.01, "details": lambda: failures}
        wait_for(lambda: predicted(50), what="50 predictions", **wait)
        v2 = register(registry, MODEL, seed=2)  # promote while the agent predicts
        assert holder.refresh() == [MODEL]
        wait_for(lambda: any(v == v2 for v, _, _ in served[-5:]), what=f"v{v2} served", **wait)
        count = len(served)
        wait_for(lambda: predicted(count + 50), what="50 predictions after the swap", **wait)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == []
    versions = [v for v, _, _ in served]
    switch = versions.index(v2)
    assert set(versions[:switch]) == {v1} and set(versions[switch:]) == {v2}
    expected = {v: reference_p_up(registry, v, rows) for v in (v1, v2)}
    for version, p_up, i in served:
        assert p_up == pytest.approx(expected[version][i], abs=1e-7)
    # A prediction that took its snapshot before the swap finishes with the old model.
    assert old.versions == {MODEL: v1}
    np.testing.assert_allclose(old.get(MODEL).predict_proba(rows), expected[v1], atol=1e-7)
    assert holder.snapshot().versions == {MODEL: v2}


def test_a_failed_load_keeps_the_old_champion(registry, home: Path) -> None:
    v1 = register(registry, MODEL, seed=1)
    holder = ChampionHolder(registry, model_ids=[MODEL])
    holder.load()
    v2 = register(registry, MODEL, seed=2)
    source = MlflowClient(registry.tracking_uri).get_model_version(MODEL, v2).source
    run_id = MlflowClient(registry.tracking_uri).get_model_version(MODEL, v2).run_id
    artifacts = [
        p for p in home.rglob("*") if p.is_dir() and p.name in (run_id, source.split("/")[-1])
    ]
    assert artifacts, "the artifacts of the new version were not found"
    for path in artifacts:
        shutil.rmtree(path, ignore_errors=True)
    with pytest.raises(ChampionLoadError, match=MODEL) as caught:
        holder.refresh()
    assert list(caught.value.errors) == [MODEL] and caught.value.swapped == []
    assert holder.snapshot().versions == {MODEL: v1}
    rows = np.zeros((1, 3), dtype=np.float32)
    assert holder.snapshot().get(MODEL).predict_proba(rows).shape == (1,)
    # The registry fixed (a newer good version): the next refresh swaps it in.
    v3 = register(registry, MODEL, seed=3)
    assert holder.refresh() == [MODEL]
    assert holder.snapshot().versions == {MODEL: v3}


def test_a_champion_reading_other_features_is_not_swapped_in(registry, publish) -> None:
    for seed, model_id in enumerate(SPECIALISTS):
        publish(model_id, seed)
    holder = ChampionHolder(registry)
    before = holder.load().versions
    publish("bear_specialist", 9, features=("a", "b"))
    new_bull = publish("bull_specialist", 10)
    with pytest.raises(ChampionLoadError, match="reads \\['a', 'b'\\]") as caught:
        holder.refresh()
    assert caught.value.swapped == ["bull_specialist"]  # the good one went in all the same
    assert holder.snapshot().versions == {**before, "bull_specialist": new_bull}


def test_an_unreachable_registry_keeps_the_champions_serving(registry, monkeypatch) -> None:
    v1 = register(registry, MODEL, seed=1)
    holder = ChampionHolder(registry, model_ids=[MODEL])
    holder.load()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with socket.socket() as probe:  # a loopback port nobody listens on: the server is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    holder.registry = MlflowRegistry(f"http://127.0.0.1:{port}")
    with pytest.raises(ChampionLoadError, match=MODEL) as caught:
        holder.refresh()
    assert list(caught.value.errors) == [MODEL]
    assert holder.snapshot().versions == {MODEL: v1}
    holder.registry = registry  # back up
    assert holder.refresh() == []


def test_a_deleted_alias_keeps_the_version_serving(registry) -> None:
    v1 = register(registry, MODEL, seed=1)
    holder = ChampionHolder(registry, model_ids=[MODEL])
    holder.load()
    registry.client.delete_registered_model_alias(MODEL, "champion")
    assert holder.refresh() == []
    assert holder.snapshot().versions == {MODEL: v1}


def test_concurrent_refreshes_load_a_moved_champion_once(registry) -> None:
    register(registry, MODEL, seed=1)
    holder = ChampionHolder(registry, model_ids=[MODEL])
    holder.load()
    v2 = register(registry, MODEL, seed=2)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(holder.refresh())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [[], [], [MODEL]]
    assert holder.snapshot().versions == {MODEL: v2}


def test_every_champion_moving_to_new_features_at_once_is_swapped_in(registry, publish) -> None:
    for seed, model_id in enumerate(SPECIALISTS):
        publish(model_id, seed, features=("a", "b"))
    holder = ChampionHolder(registry)
    holder.load()
    assert holder.snapshot().feature_names == ("a", "b")
    new = {model_id: publish(model_id, 10 + seed) for seed, model_id in enumerate(SPECIALISTS)}
    assert holder.refresh() == sorted(SPECIALISTS)
    assert holder.snapshot().versions == new
    assert holder.snapshot().feature_names == FEATURE_COLUMNS
