"""ModelServingService on real champions (MLflow), a real SQLite store and real sessions."""

from __future__ import annotations

import math
import time
import zlib
from datetime import date, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from online_learning.execution import position_from_p_up
from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.regime import RegimeClassifier
from online_learning.feedback.service import FeedbackService
from online_learning.metrics_store import MetricsStore, PerformanceRow
from online_learning.prediction import (
    ChampionHolder,
    InvalidFeatures,
    InvalidSymbol,
    ModelServingService,
    NoChampions,
)
from online_learning.prediction.stacked import StackedForward
from online_learning.specialists import SPECIALISTS
from tests.utils.trade_outcomes import outcome_stream


def record_performance(store: MetricsStore, model_id: str, mean: float, *, days: int = 30) -> None:
    rng = np.random.default_rng(zlib.crc32(model_id.encode()))
    rows = [
        PerformanceRow(model_id, "SYN00", date(2025, 1, 1) + timedelta(days=d), 1.0, r, r)
        for d, r in enumerate(rng.normal(mean, 0.01, size=days))
    ]
    store.record_daily_performance(rows)


def replica(store: MetricsStore) -> FeedbackService:
    """A second process's view of the same database: it reads checkpoints, owns nothing."""
    return FeedbackService(store=MetricsStore(str(store.url.render_as_string(False))))


def test_prediction_carries_provenance_and_follows_the_regime(holder, champions, feature_rows):
    service = ModelServingService(holder=holder)
    assert service.feature_names == FEATURE_COLUMNS
    classifier = RegimeClassifier()
    for row in feature_rows:
        prediction = service.predict("AAA", row)
        data = prediction.to_dict()
        assert data["features"] == row and data["session"] is None
        assert data["strategy"] == "ensemble"
        assert data["position"] == pytest.approx(position_from_p_up(data["p_up"]))
        assert data["direction"] == ("up" if data["p_up"] > 0.5 else "down")
        assert data["confidence"] == pytest.approx(max(data["p_up"], 1 - data["p_up"]))
        assert data["served_at"].endswith("Z")
        versions = {c["name"]: c["version"] for c in data["components"]}
        assert versions == champions
        assert {c["kind"] for c in data["components"]} == {"batch"}
        weights = {c["name"]: c["weight"] for c in data["components"]}
        assert math.fsum(weights.values()) == pytest.approx(1.0)
        view = classifier.classify(row)
        assert data["regime"] == view.regime
        assert weights == pytest.approx(view.weights)  # no realised performance: regime only
        assert data["p_up"] == pytest.approx(
            math.fsum(c["weight"] * c["p_up"] for c in data["components"])
        )
    assert {service.predict("AAA", r).regime for r in feature_rows} == {"bull", "bear", "sideways"}


def count_forwards(snapshot, monkeypatch) -> dict[str, int]:
    """Forward passes per model: each model's own, or the stacked pass of all of them."""
    calls = {c.model_id: 0 for c in snapshot}
    for champion in snapshot:
        champion.model.register_forward_hook(
            lambda *_, m=champion.model_id: calls.__setitem__(m, calls[m] + 1)
        )
    stacked_call = StackedForward.__call__

    def counted(self, rows):
        for model_id in calls:
            calls[model_id] += 1
        return stacked_call(self, rows)

    monkeypatch.setattr(StackedForward, "__call__", counted)
    return calls


@pytest.mark.parametrize("stackable", [True, False])
def test_predict_many_runs_one_forward_per_model_and_matches_predict(
    registry, publish, feature_rows, monkeypatch, stackable
):
    for seed, model_id in enumerate(SPECIALISTS):
        publish(model_id, seed, hidden=(8,) if stackable or seed else (4, 4))
    holder = ChampionHolder(registry)
    holder.load()
    assert holder.snapshot().stacked is stackable
    service = ModelServingService(holder=holder)
    calls = count_forwards(holder.snapshot(), monkeypatch)
    many = service.predict_many([(f"S{i}", row) for i, row in enumerate(feature_rows)])
    assert calls == {m: 1 for m in SPECIALISTS}  # one pass for all rows
    assert len(many) == len(feature_rows)
    assert len({p.prediction_id for p in many}) == len(many)
    for i, (prediction, row) in enumerate(zip(many, feature_rows, strict=True)):
        single = service.predict(f"S{i}", row)
        assert prediction.symbol == f"S{i}"
        assert prediction.p_up == pytest.approx(single.p_up, abs=1e-6)
        for component in prediction.components:  # each model's own forward, to rounding
            model = holder.snapshot().get(component.name).model
            alone = float(model.predict_proba(np.array([list(row.values())], np.float32))[0])
            assert component.p_up == pytest.approx(alone, abs=1e-6)
    assert service.predict_many([]) == []


def test_features_must_be_exactly_the_models_and_finite(holder, feature_rows):
    service = ModelServingService(holder=holder)
    row = feature_rows[0]
    missing = {k: v for k, v in row.items() if k != "vol_21"}
    with pytest.raises(InvalidFeatures, match=r"missing \['vol_21'\]") as caught:
        service.predict("AAA", missing)
    assert caught.value.missing == ("vol_21",)
    with pytest.raises(InvalidFeatures, match=r"unknown \['rsi_14'\]"):
        service.predict("AAA", {**row, "rsi_14": 55.0})
    for bad in (math.nan, math.inf, -math.inf, "0.1", None, True, 1e300):
        with pytest.raises(InvalidFeatures, match="ret_5") as caught:
            service.predict("AAA", {**row, "ret_5": bad})
        assert caught.value.non_finite == ("ret_5",)
    with pytest.raises(InvalidFeatures, match=r"requests\[1\]\.features: missing"):
        service.predict_many([("AAA", row), ("BBB", missing)])
    with pytest.raises(InvalidFeatures, match="must be an object"):
        service.predict("AAA", [1, 2, 3])
    for symbol in ("", "A B", "x" * 65, 42):
        with pytest.raises(InvalidSymbol):
            service.predict(symbol, row)
    with pytest.raises(ValueError, match="strategy must be one of"):
        service.predict("AAA", row, strategy="best")


def test_no_champions_means_nothing_to_serve(registry):
    service = ModelServingService(holder=ChampionHolder(registry))
    with pytest.raises(NoChampions):
        service.predict("AAA", {n: 0.0 for n in FEATURE_COLUMNS})


def test_the_session_component_appears_once_the_session_has_learned(holder, store, feature_rows):
    owner = FeedbackService(store=store)  # the symbol's writer (in-process mode)
    reader = replica(store)
    service = ModelServingService(holder=holder, sessions=reader, store=reader.store,
                                  session_ttl_s=0.0)  # fmt: skip
    row = feature_rows[0]
    assert service.predict("AAA", row).session is None  # no session
    started = owner.start_session("AAA")
    assert service.predict("AAA", row).session is None  # a session that learned nothing
    owner.submit(outcome_stream(40, symbol="AAA", seed=1))
    prediction = service.predict("AAA", row)
    assert prediction.session is not None
    assert prediction.session.session_id == started.session_id
    assert prediction.session.samples_seen == 40
    assert 0 <= prediction.session.checkpoint_age_s < 60
    online = [c for c in prediction.components if c.kind == "online"]
    assert [(c.name, c.version) for c in online] == [("online_session", started.session_id)]
    expected = reader.predict(started.session_id, row).p_up
    assert online[0].p_up == pytest.approx(expected)
    assert math.fsum(c.weight for c in prediction.components) == pytest.approx(1.0)
    assert service.predict("BBB", row).session is None  # sessions are per symbol
    reader.store.dispose()


def test_sessions_are_cached_and_report_the_checkpoint_age(holder, store, feature_rows):
    owner = FeedbackService(store=store)
    reader = replica(store)
    service = ModelServingService(holder=holder, sessions=reader, session_ttl_s=3600)
    owner.submit(outcome_stream(10, symbol="AAA", seed=2))
    first = service.predict("AAA", feature_rows[0]).session
    owner.submit(outcome_stream(10, symbol="AAA", seed=3, first_index=100))
    cached = service.predict("AAA", feature_rows[0]).session
    assert cached.samples_seen == first.samples_seen == 10  # no query: the cached copy
    assert cached.checkpoint_age_s >= first.checkpoint_age_s
    service.refresh_caches()  # what the API's background thread does
    assert service.predict("AAA", feature_rows[0]).session.samples_seen == 20
    reader.store.dispose()


@pytest.mark.parametrize(("batch_mean", "session_mean"), [(0.004, -0.004), (-0.004, 0.004)])
def test_ensemble_weights_follow_realised_performance(
    holder, store, feature_rows, batch_mean, session_mean
):
    for model_id in SPECIALISTS:
        record_performance(store, model_id, batch_mean)
    owner = FeedbackService(store=store)
    owner.submit(outcome_stream(60, symbol="AAA", seed=4, mean_before=session_mean, vol=0.01))
    service = ModelServingService(holder=holder, sessions=owner, store=store)
    for row in feature_rows:
        prediction = service.predict("AAA", row)
        online = sum(c.weight for c in prediction.components if c.kind == "online")
        batch = sum(c.weight for c in prediction.components if c.kind == "batch")
        assert online + batch == pytest.approx(1.0)
        if batch_mean > session_mean:
            assert batch > 0.8 and online < 0.2
        else:
            assert online > 0.8 and batch < 0.2
    # Without a metrics store the batch record is unknown, which counts as a Sharpe of 0.
    unknown = ModelServingService(holder=holder, sessions=owner, store=None)
    online = sum(c.weight for c in unknown.predict("AAA", feature_rows[0]).components
                 if c.kind == "online")  # fmt: skip
    assert (online > 0.5) == (session_mean > 0)


def test_a_few_lucky_outcomes_do_not_outweigh_a_months_record(holder, store, feature_rows):
    for model_id in SPECIALISTS:
        record_performance(store, model_id, 0.004)  # 30 days, Sharpe > 3 before clipping
    owner = FeedbackService(store=store)
    service = ModelServingService(holder=holder, sessions=owner, store=store, session_ttl_s=0)

    def online_weight() -> float:
        components = service.predict("AAA", feature_rows[0]).components
        return sum(c.weight for c in components if c.kind == "online")

    owner.submit(outcome_stream(3, symbol="AAA", seed=8, mean_before=0.03, vol=0.002))
    lucky = online_weight()  # a huge Sharpe on three outcomes
    owner.submit(outcome_stream(200, symbol="AAA", seed=9, mean_before=0.03, vol=0.002,
                                first_index=10))  # fmt: skip
    proven = online_weight()  # the same edge held over 200 outcomes
    assert lucky < 0.25 < 0.5 < proven


@pytest.mark.parametrize(("batch_mean", "session_mean"), [(0.004, -0.004), (-0.004, 0.004)])
def test_champion_challenger_serves_the_better_and_records_the_shadow(
    holder, metrics, feature_rows, batch_mean, session_mean
):
    store = metrics  # SQLite and PostgreSQL
    for model_id in SPECIALISTS:
        record_performance(store, model_id, batch_mean)
    owner = FeedbackService(store=store)
    owner.submit(outcome_stream(60, symbol="AAA", seed=5, mean_before=session_mean, vol=0.01))
    service = ModelServingService(holder=holder, sessions=owner, store=store,
                                  strategy="champion_challenger")  # fmt: skip
    served = service.predict_many([("AAA", row) for row in feature_rows])
    online_wins = session_mean > batch_mean
    for prediction in served:
        assert prediction.strategy == "champion_challenger"
        by_kind = {c.kind: c for c in prediction.components if c.weight > 0}
        assert set(by_kind) == ({"online"} if online_wins else {"batch"})
        shadow = [c for c in prediction.components if c.weight == 0]
        assert {c.kind for c in shadow} == ({"batch"} if online_wins else {"online"})
        if online_wins:
            assert prediction.p_up == pytest.approx(by_kind["online"].p_up)
    assert service.shadow.pending == len(served)  # queued in memory, not one write each
    service.close()
    outcomes = [{"prediction_id": p.prediction_id, "realized_return": 0.01 * (-1) ** i}
                for i, p in enumerate(served)]  # fmt: skip
    assert service.shadow.attach_outcomes(outcomes) == len(served)
    summary = service.shadow.summary(symbol="AAA")
    assert summary.n_predictions == summary.n_outcomes == len(served)
    assert summary.served_by == {("online" if online_wins else "batch"): len(served)}
    served_pnl = math.fsum(position_from_p_up(p.p_up) * o["realized_return"]
                           for p, o in zip(served, outcomes, strict=True))  # fmt: skip
    assert summary.served_pnl == pytest.approx(served_pnl)
    # A symbol without a session: the batch champion serves, nothing goes to the ledger.
    alone = service.predict("ZZZ", feature_rows[0], strategy="champion_challenger")
    assert {c.kind for c in alone.components} == {"batch"}
    assert service.shadow.pending == 0


def test_with_the_background_refresh_a_prediction_reads_nothing_from_the_store(
    holder, store, feature_rows
):
    owner = FeedbackService(store=store)
    owner.submit(outcome_stream(10, symbol="AAA", seed=6))
    reader = replica(store)
    for model_id in SPECIALISTS:
        record_performance(reader.store, model_id, 0.001)
    service = ModelServingService(holder=holder, sessions=reader, store=reader.store,
                                  session_ttl_s=0.05, performance_ttl_s=0.05)  # fmt: skip
    queries: list[str] = []
    sa.event.listen(reader.store.engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_: queries.append(statement))  # fmt: skip
    service.predict("AAA", feature_rows[0])  # first sight of the symbol and the models: read
    assert queries
    service.refresh_caches()  # what the API's background thread does every ttl
    queries.clear()
    deadline = time.monotonic() + 0.1  # past both ttls, within the refresher's grace
    while time.monotonic() < deadline:
        assert service.predict("AAA", feature_rows[0]).session.samples_seen == 10
    assert queries == []
    owner.submit(outcome_stream(5, symbol="AAA", seed=7, first_index=50))
    service.refresh_caches()
    assert service.predict("AAA", feature_rows[0]).session.samples_seen == 15
    reader.store.dispose()
