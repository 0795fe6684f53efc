"""The shadow ledger on SQLite and PostgreSQL: batched writes, retries, outcomes, summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from online_learning.metrics_store import MetricsStore, StoreError
from online_learning.metrics_store.shadow import ShadowLedger, ShadowRow
from tests.utils.waiting import wait_for

T0 = datetime(2026, 1, 5, 21, tzinfo=UTC)


def row(i: int, *, symbol: str = "AAA", served: str = "batch", at: datetime = T0) -> ShadowRow:
    shadow = "online" if served == "batch" else "batch"
    return ShadowRow(f"p-{i:04d}", symbol, served, 0.5 + 0.01 * (i % 40), shadow,
                     0.5 - 0.01 * (i % 40), {"bull_specialist": "3"}, "s-1", at)  # fmt: skip


def stored(store: MetricsStore) -> list[str]:
    with store.engine.connect() as connection:
        query = sa.text("SELECT prediction_id FROM shadow_predictions ORDER BY prediction_id")
        return list(connection.execute(query).scalars())


def test_rows_are_written_in_batches_by_the_background_thread(metrics: MetricsStore) -> None:
    ledger = ShadowLedger(metrics, flush_interval_s=0.05)
    for i in range(300):
        ledger.record(row(i))
    wait_for(
        lambda: not ledger.pending and len(stored(metrics)) >= 300,
        timeout_s=20,
        what="the 300 rows written",
        every_s=0.02,
    )
    assert stored(metrics) == [f"p-{i:04d}" for i in range(300)]
    ledger.record(row(0))  # the same prediction again: written once
    ledger.record(row(300))
    ledger.close()
    assert len(stored(metrics)) == 301 and ledger.pending == 0


def test_a_failed_write_keeps_the_rows_for_the_next(metrics: MetricsStore) -> None:
    ledger = ShadowLedger(metrics, flush_interval_s=3600)
    for i in range(5):
        ledger.record(row(i))
    with metrics.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE shadow_predictions RENAME TO shadow_away"))
    with pytest.raises(StoreError, match="recording shadow predictions"):
        ledger.flush()
    ledger.record(row(5))
    assert ledger.pending == 6
    with metrics.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE shadow_away RENAME TO shadow_predictions"))
    assert ledger.flush() == 6
    assert stored(metrics) == [f"p-{i:04d}" for i in range(6)]
    ledger.close()


def test_the_queue_is_bounded_and_drops_the_oldest(tmp_path) -> None:
    store = MetricsStore(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    ledger = ShadowLedger(store, flush_interval_s=3600, max_pending=5)
    for i in range(8):
        ledger.record(row(i))
    assert (ledger.pending, ledger.dropped) == (5, 3)
    ledger.close()
    assert stored(store) == [f"p-{i:04d}" for i in range(3, 8)]
    store.dispose()


def test_outcomes_price_served_against_shadow(metrics: MetricsStore) -> None:
    ledger = ShadowLedger(metrics, flush_interval_s=3600)
    rows = [row(i, served="batch" if i % 3 else "online", symbol="AAA" if i < 6 else "BBB",
                at=T0 + timedelta(hours=i)) for i in range(9)]  # fmt: skip
    for r in rows:
        ledger.record(r)
    ledger.flush()
    realized = {r.prediction_id: 0.02 if i % 2 else -0.01 for i, r in enumerate(rows[:7])}
    outcomes = [{"prediction_id": pid, "realized_return": ret} for pid, ret in realized.items()]
    outcomes += [{"prediction_id": "p-unknown", "realized_return": 0.5},
                 {"prediction_id": "p-0008", "realized_return": math.nan},
                 {"realized_return": 0.1}]  # fmt: skip
    assert ledger.attach_outcomes(outcomes) == 7

    def expected(subset):
        known = [r for r in subset if r.prediction_id in realized]
        return (
            len(subset),
            len(known),
            math.fsum((2 * r.served_p_up - 1) * realized[r.prediction_id] for r in known),
            math.fsum((2 * r.shadow_p_up - 1) * realized[r.prediction_id] for r in known),
        )

    summary = ledger.summary()
    assert (summary.n_predictions, summary.n_outcomes) == expected(rows)[:2]
    assert (summary.served_pnl, summary.shadow_pnl) == pytest.approx(expected(rows)[2:])
    assert summary.served_by == {"batch": 6, "online": 3}
    hits = sum((r.served_p_up > 0.5) == (realized[r.prediction_id] > 0) for r in rows[:7])
    assert summary.served_hit_rate == pytest.approx(hits / 7)
    of_bbb = ledger.summary(symbol="BBB")
    assert (of_bbb.n_predictions, of_bbb.n_outcomes) == (3, 1)
    late = ledger.summary(since=T0 + timedelta(hours=4))
    assert late.n_predictions == 5
    assert late.served_pnl == pytest.approx(expected(rows[4:])[2])
    ledger.close()
