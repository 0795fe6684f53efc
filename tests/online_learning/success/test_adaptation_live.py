"""Adaptation speed and learning efficiency read back from a real metrics store, on a seeded
stream whose answers are known: the feedback service learns the trades and its drift watch
records the detection, the update history the promotion, and the summary must measure the
delays between them and the recovery that the stream was built to have.

The stream's P&L values are multiples of 1/8 (exact in binary), so means compare exactly:
before the change they alternate +0.375 / -0.125 (mean 0.125 over any even window), after it
-0.5 / -1.0, and once the adapted version serves, +0.375 / -0.125 again. With a window of 50
the rolling mean is back at 0.125 exactly when its 50 trades are all after the promotion: the
model recovers at the 50th trade after it, and at no earlier trade.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.service import FeedbackService
from online_learning.metrics_store import MetricsStore, UpdateRecord
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.success.freshness import ServedChampion
from online_learning.success.summary import read_summary

CHANGE, FIRST_BATCH, AFTER = 100, 260, 80
FEATURES = {name: 0.0 for name in FEATURE_COLUMNS}


def _pnl(i: int, *, changed: bool) -> float:
    if changed:
        return -0.5 if i % 2 == 0 else -1.0
    return 0.375 if i % 2 == 0 else -0.125


def _outcome(i: int, stamp: datetime, pnl: float, regime: str) -> dict:
    return {"trade_id": f"t-{i:04d}", "symbol": "SIM0", "timestamp": stamp.isoformat(),
            "model_id": "bull", "features": FEATURES, "position": 1.0,
            "realized_return": pnl, "pnl": pnl, "simulated_regime": regime}  # fmt: skip


@pytest.fixture
def store(tmp_path):
    store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.migrate()
    yield store
    store.dispose()


def test_a_drift_its_adaptation_and_the_recovery_are_measured(store):
    service = FeedbackService(store=store)
    start = datetime.now(UTC) - timedelta(seconds=FIRST_BATCH + 5)
    stamps = [start + timedelta(seconds=i) for i in range(FIRST_BATCH)]
    first = [
        _outcome(i, stamps[i], _pnl(i, changed=i >= CHANGE), "bull" if i < CHANGE else "sideways")
        for i in range(FIRST_BATCH)
    ]
    assert {r.status for r in service.submit(first)} == {"accepted"}
    [drift] = [d for d in DriftStore(store).history(limit=10) if d.adaptation_requested]
    detected = int(drift.statistics["trade_id"][2:])
    assert CHANGE < detected < FIRST_BATCH - 60  # the watch found it, well before the batch end

    # The adaptation: an update promoted a new version after the detection; this replica
    # loaded it 3 s after its promotion.
    finished = datetime.now(UTC)
    store.record_update(UpdateRecord(
        job_id="job-adapt", model_id="bull", decision="promoted", reason="promoted",
        sharpe_pre=0.1, sharpe_post=0.5, degradation_pct=None, duration_s=1.0, version="2",
        started_at=drift.detected_at + timedelta(milliseconds=1), finished_at=finished,
    ))  # fmt: skip
    champion = ServedChampion("bull", "2", date(2026, 1, 2), finished,
                              finished + timedelta(seconds=3))  # fmt: skip
    later = [finished + timedelta(milliseconds=i + 1) for i in range(AFTER)]
    adapted = [_outcome(FIRST_BATCH + i, later[i], _pnl(i, changed=False), "sideways")
               for i in range(AFTER)]  # fmt: skip
    assert {r.status for r in service.submit(adapted)} == {"accepted"}
    stamps += later

    summary = read_summary(store, [champion])
    [episode] = summary.episodes
    assert (episode.model_id, episode.symbol, episode.status) == ("bull", "SIM0", "recovered")
    assert episode.change_at == stamps[CHANGE]
    assert episode.detection_delay_outcomes == detected - CHANGE + 1
    assert episode.detection_delay_s == (stamps[detected] - stamps[CHANGE]).total_seconds()
    assert episode.adapted_version == "2" and episode.promoted_at == finished
    assert episode.adaptation_delay_s == (finished - drift.detected_at).total_seconds()
    assert episode.serving_delay_s == 3.0
    assert episode.pre_drift_level == 0.125
    recovered_at = FIRST_BATCH + 49  # the 50th trade after the promotion
    assert episode.outcomes_to_recover == recovered_at - detected
    days = {s.date() for s in stamps[detected + 1 : recovered_at + 1]}
    assert episode.days_to_recover == len(days)
    headline = summary.headline
    assert headline.detection_delay_outcomes == detected - CHANGE + 1
    assert headline.adaptation_delay_s == episode.adaptation_delay_s
    assert headline.serving_delay_s == 3.0
    assert headline.outcomes_to_recover == recovered_at - detected


def test_an_episode_waits_for_its_adaptation_and_its_recovery(store):
    service = FeedbackService(store=store)
    start = datetime.now(UTC) - timedelta(hours=1)
    trades = [
        _outcome(i, start + timedelta(seconds=i), _pnl(i, changed=i >= CHANGE),
                 "bull" if i < CHANGE else "sideways")
        for i in range(FIRST_BATCH)
    ]  # fmt: skip
    service.submit(trades)
    [episode] = read_summary(store).episodes
    assert episode.status == "detected"
    assert episode.promoted_at is None and episode.outcomes_to_recover is None
    assert episode.detection_delay_outcomes is not None

    # Promoted, but this replica serves another version: adapted, not serving; and no trade
    # since the promotion, so no recovery.
    store.record_update(UpdateRecord(
        job_id="job-2", model_id="bull", decision="promoted", reason="promoted", sharpe_pre=None,
        sharpe_post=None, degradation_pct=None, duration_s=1.0, version="7",
        started_at=datetime.now(UTC), finished_at=datetime.now(UTC),
    ))  # fmt: skip
    other = ServedChampion("bull", "6", None, None, datetime.now(UTC))
    [episode] = read_summary(store, [other]).episodes
    assert (episode.status, episode.adapted_version) == ("adapted", "7")
    assert episode.serving_delay_s is None and episode.outcomes_to_recover is None
