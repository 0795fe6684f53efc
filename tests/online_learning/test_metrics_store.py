"""The metrics store on a real SQLite file and a real PostgreSQL database.

Every store test runs on both backends. PostgreSQL is started when it is down; the module gets
its own throwaway database and each test its own schema in it, so runs never share data.
"""

from __future__ import annotations

import importlib
import math
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL

from online_learning.events.schema import ModelUpdateEvent, OutboxEvent
from online_learning.metrics_store import MetricsStore, PerformanceRow, StoreError, UpdateRecord
from online_learning.metrics_store.engine import begin_write
from online_learning.metrics_store.migration import VERSION_TABLE, alembic_config, head_revision
from online_learning.metrics_store.tables import metadata, outbox
from online_learning.settings import Settings
from online_learning.update.outcomes import RollbackResult, UpdateSuccess
from tests.utils.postgres import temporary_database, temporary_schema

T0 = datetime(2025, 1, 6, 18, 0, tzinfo=UTC)
DAY0 = date(2025, 1, 6)
TABLES = {
    "daily_performance",
    "update_history",
    "outbox",
    "online_sessions",
    "session_checkpoints",
    "processed_trades",
    "input_positions",
    "drift_watches",
    "drift_history",
    "outcome_rejections",
}


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[URL]:
    with temporary_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        # A folder that does not exist yet: the store creates it.
        yield f"sqlite:///{tmp_path / 'data' / 'metrics.db'}"
    else:
        database = request.getfixturevalue("postgres_database")
        with temporary_schema(database) as url:
            yield url.render_as_string(hide_password=False)


@pytest.fixture
def store(store_url: str) -> Iterator[MetricsStore]:
    store = MetricsStore(store_url)
    store.migrate()
    yield store
    store.dispose()


def _record(
    job_id: str,
    *,
    model_id: str = "bull",
    decision: str = "promoted",
    hours: float = 0,
    sharpe_post: float | None = 1.1,
) -> UpdateRecord:
    started = T0 + timedelta(hours=hours)
    return UpdateRecord(
        job_id=job_id,
        model_id=model_id,
        decision=decision,
        reason="passed" if decision == "promoted" else "sharpe_degradation",
        sharpe_pre=1.0,
        sharpe_post=sharpe_post,
        degradation_pct=-10.0,
        duration_s=2.5,
        version="3" if decision == "promoted" else "2",
        previous_version="2" if decision == "promoted" else None,
        window_start="2024-10-01",
        window_end="2024-12-31",
        config={"data_window": 60, "ewc_lambda": 0.4},
        started_at=started,
        finished_at=started + timedelta(seconds=2.5),
    )


def _event(event_id: str, *, seconds: float = 0) -> OutboxEvent:
    return OutboxEvent(
        topic="model-updates",
        key="bull",
        payload={"event_id": event_id, "sharpe_post": 1.1},
        event_id=event_id,
        created_at=T0 + timedelta(seconds=seconds),
    )


def _rows(model_id: str, symbol: str, returns: list[float], *, position: float = 1.0):
    return [
        PerformanceRow(model_id, symbol, DAY0 + timedelta(days=i), position, position * r, r)
        for i, r in enumerate(returns)
    ]


def _count(store: MetricsStore, table: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


# -- schema and migrations ----------------------------------------------------------------------
def test_migrate_creates_the_schema_of_the_code_and_is_idempotent(store: MetricsStore) -> None:
    store.migrate()  # the fixture migrated once already: nothing to do, no error

    assert store.revision() == head_revision() == "0008"
    inspector = sa.inspect(store.engine)
    assert TABLES | {VERSION_TABLE} <= set(inspector.get_table_names())
    assert inspector.get_pk_constraint("daily_performance")["constrained_columns"] == [
        "model_id",
        "symbol",
        "date",
    ]
    assert {i["name"] for i in inspector.get_indexes("outbox")} == {"ix_outbox_unpublished"}
    # The migrations build exactly the tables the queries are written against.
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_upgrade_from_revision_1_keeps_existing_rows(store_url: str) -> None:
    store = MetricsStore(store_url)
    store.migrate(revision="0001")
    assert store.revision() == "0001"
    assert "attempts" not in {c["name"] for c in sa.inspect(store.engine).get_columns("outbox")}
    with begin_write(store.engine) as connection:  # what a revision-1 deployment wrote
        row = {"event_id": "e-old", "topic": "model-updates", "key": "bull"}
        connection.execute(sa.insert(outbox).values(**row, payload='{"a":1}', created_at=T0))
    store.record_daily_performance(_rows("bull", "SPY", [0.01, -0.02]))

    store.migrate()

    assert store.revision() == "0008"
    [event] = store.pending_events()
    assert (event.event_id, event.payload, event.attempts) == ("e-old", {"a": 1}, 0)
    assert event.created_at == T0
    store.mark_failed("e-old", "broker down")
    assert store.pending_events()[0].attempts == 1
    assert len(store.recent_performance("bull")) == 2
    store.dispose()


def test_downgrade_to_revision_1_and_back_keeps_outbox_rows(store: MetricsStore) -> None:
    store.record_update(_record("job-1"), [_event("e1")])
    with begin_write(store.engine) as connection:
        command.downgrade(alembic_config(connection), "0001")
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("outbox")}
    assert {"attempts", "last_error"}.isdisjoint(columns)

    store.migrate()

    assert [e.event_id for e in store.pending_events()] == ["e1"]
    assert "ix_outbox_unpublished" in {
        i["name"] for i in sa.inspect(store.engine).get_indexes("outbox")
    }


_MIGRATE_WHEN_BOTH_READY = """
import sys, time
from pathlib import Path
from online_learning.metrics_store import MetricsStore
url, barrier, me = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
(barrier / me).touch()
deadline = time.monotonic() + 30
while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
    time.sleep(0.005)
MetricsStore(url).migrate()
"""


def test_two_processes_migrating_a_new_database_at_once_both_succeed(
    store_url: str, tmp_path
) -> None:
    # Both processes start migrating together (after their imports): without the migration
    # lock, both create the tables and one fails.
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_WHEN_BOTH_READY, store_url, str(barrier), name],
            stderr=subprocess.PIPE,
        )
        for name in ("updater", "relay")
    ]
    errors = [p.communicate(timeout=90)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], errors
    store = MetricsStore(store_url)
    assert store.revision() == "0008"
    store.dispose()


def test_timescaledb_branch_leaves_a_working_transaction(postgres_database: URL) -> None:
    initial = importlib.import_module(
        "online_learning.metrics_store.migrations.versions.0001_initial"
    )
    with temporary_schema(postgres_database) as url:
        store = MetricsStore(url.render_as_string(hide_password=False))
        store.migrate()
        with begin_write(store.engine) as connection:
            available = initial.timescaledb_available(connection)
            # Where the extension is missing or unusable (this machine), the savepoint keeps
            # the migration's transaction alive and the table stays a plain one.
            assert initial.make_hypertable(connection) is available
            count = sa.text("SELECT count(*) FROM daily_performance")
            assert connection.execute(count).scalar_one() == 0
        store.dispose()


# -- update history and outbox ------------------------------------------------------------------
def test_record_update_stores_the_row_and_its_events(store: MetricsStore) -> None:
    record = _record("job-1")
    store.record_update(record, [_event("e1"), _event("e2", seconds=1)])

    assert store.update_history() == [record]
    assert [e.event_id for e in store.pending_events()] == ["e1", "e2"]


def test_record_update_writes_nothing_when_an_event_cannot_be_stored(store: MetricsStore) -> None:
    store.record_update(_record("job-1"), [_event("e1")])

    with pytest.raises(StoreError, match="job-2"):
        # e1 is already in the outbox: the second insert fails after the history row went in.
        store.record_update(_record("job-2", hours=1), [_event("e2"), _event("e1")])

    assert [r.job_id for r in store.update_history()] == ["job-1"]
    assert [e.event_id for e in store.pending_events()] == ["e1"]
    with pytest.raises(StoreError):  # and the same job cannot be recorded twice
        store.record_update(_record("job-1"))


def test_pending_events_oldest_first_until_published(store: MetricsStore) -> None:
    events = [_event("late", seconds=30), _event("early", seconds=0), _event("mid", seconds=10)]
    store.record_update(_record("job-1"), events)
    assert [e.event_id for e in store.pending_events()] == ["early", "mid", "late"]
    assert [e.event_id for e in store.pending_events(limit=2)] == ["early", "mid"]

    store.mark_failed("early", "broker unreachable")
    store.mark_failed("early", "timeout")
    store.mark_published(["mid", "unknown-id"])
    first_published = _published_at(store, "mid")
    store.mark_published(["mid"])  # delivered again: the first publication time stays

    pending = store.pending_events()
    assert [(e.event_id, e.attempts) for e in pending] == [("early", 2), ("late", 0)]
    assert pending[0].payload == {"event_id": "early", "sharpe_post": 1.1}
    assert pending[0].created_at == T0
    assert _published_at(store, "mid") == first_published is not None
    with store.engine.connect() as connection:
        error = connection.execute(sa.text("SELECT last_error FROM outbox WHERE event_id='early'"))
        assert error.scalar_one() == "timeout"
    with pytest.raises(StoreError, match="no outbox event"):
        store.mark_failed("missing", "x")


def _published_at(store: MetricsStore, event_id: str):
    with store.engine.connect() as connection:
        query = sa.text("SELECT published_at FROM outbox WHERE event_id = :id")
        return connection.execute(query, {"id": event_id}).scalar_one()


def test_update_history_newest_first_and_by_model(store: MetricsStore) -> None:
    store.record_update(_record("b-1", model_id="bear", hours=0))
    store.record_update(_record("a-2", hours=2))
    store.record_update(_record("a-1", hours=1))
    store.record_update(_record("a-3", hours=3, decision="rolled_back"))

    assert [r.job_id for r in store.update_history()] == ["a-3", "a-2", "a-1", "b-1"]
    assert [r.job_id for r in store.update_history(model_id="bull", limit=2)] == ["a-3", "a-2"]
    assert [r.job_id for r in store.update_history(model_id="bear")] == ["b-1"]
    assert store.update_history(model_id="nobody") == []
    newest = store.update_history(limit=1)[0]
    assert newest.config == {"data_window": 60, "ewc_lambda": 0.4}
    assert newest.started_at == T0 + timedelta(hours=3)


def test_consecutive_failures_count_since_the_last_promotion(store: MetricsStore) -> None:
    assert store.consecutive_failures("bull") == 0
    store.record_update(_record("1", decision="rolled_back", hours=0))
    assert store.consecutive_failures("bull") == 1
    store.record_update(_record("2", decision="promoted", hours=1))
    assert store.consecutive_failures("bull") == 0
    store.record_update(_record("3", decision="rolled_back", hours=2))
    store.record_update(_record("4", decision="failed", hours=3))
    store.record_update(_record("x", model_id="bear", decision="failed", hours=4))
    assert store.consecutive_failures("bull") == 2
    assert store.consecutive_failures("bear") == 1
    # Waiting for new validation days decides nothing: neither a failure nor a reset.
    store.record_update(_record("5", decision="deferred", hours=5))
    assert store.consecutive_failures("bull") == 2
    assert [r.decision for r in store.update_history(model_id="bull", limit=1)] == ["deferred"]


def test_non_finite_numbers_are_stored_as_null(store: MetricsStore) -> None:
    record = replace(_record("job-1", sharpe_post=float("nan")), degradation_pct=float("inf"))
    store.record_update(record)

    with store.engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT sharpe_pre, sharpe_post, degradation_pct FROM update_history")
        ).one()
    assert tuple(row) == (1.0, None, None)
    [stored] = store.update_history()
    assert (stored.sharpe_post, stored.degradation_pct) == (None, None)


def test_records_from_real_outcomes(store: MetricsStore) -> None:
    common = dict(model_id="bull", duration_s=4.0, n_train=100, n_validation=20,
                  window_start="2024-10-01", window_end="2024-12-31")  # fmt: skip
    success = UpdateSuccess(sharpe_pre=1.0, sharpe_post=1.2, degradation_pct=-20.0,
                            version="5", previous_version="4", **common)  # fmt: skip
    rollback = RollbackResult(sharpe_pre=1.0, sharpe_post=math.nan, degradation_pct=math.nan,
                              champion_version="5", reason="non_finite", **common)  # fmt: skip
    config = {"data_window": 60}
    promoted = UpdateRecord.of(
        success.result(), job_id="j1", config=config, started_at=T0, finished_at=T0
    )
    rolled_back = UpdateRecord.of(
        rollback.result(), job_id="j2", config=config, started_at=T0 + timedelta(days=1),
        finished_at=T0 + timedelta(days=1),
    )  # fmt: skip
    event = ModelUpdateEvent.of(
        rollback.result(), job_id="j2", data_window=60, started_at=T0, finished_at=T0
    ).to_outbox()
    store.record_update(promoted)
    store.record_update(rolled_back, [event])

    assert [(r.decision, r.version, r.previous_version) for r in store.update_history()] == [
        ("rolled_back", "5", None),
        ("promoted", "5", "4"),
    ]
    assert store.update_history()[0].sharpe_post is None
    [pending] = store.pending_events()
    assert pending.payload["reason"] == "non_finite"
    assert pending.value() == event.value()
    assert store.consecutive_failures("bull") == 1


# -- daily performance --------------------------------------------------------------------------
def test_recording_a_day_again_replaces_it(store: MetricsStore) -> None:
    rows = _rows("bull", "SPY", [0.01, -0.02, 0.03])
    assert store.record_daily_performance(rows) == 3
    assert store.record_daily_performance(rows) == 3
    assert _count(store, "daily_performance") == 3

    corrected = pd.DataFrame(
        {"model_id": ["bull"], "symbol": ["SPY"], "date": [pd.Timestamp(DAY0)],
         "position": [-0.5], "strategy_return": [-0.005], "market_return": [0.01]}
    )  # fmt: skip
    assert store.record_daily_performance(corrected) == 1

    frame = store.recent_performance("bull")
    assert _count(store, "daily_performance") == 3
    first = frame.iloc[0]
    assert (first["date"], first["position"], first["hit"]) == (DAY0, -0.5, False)
    assert frame["hit"].tolist() == [False, False, True]
    assert frame["recorded_at"].iloc[0].tzinfo is not None
    with pytest.raises(ValueError, match="repeat"):
        store.record_daily_performance(rows + rows[:1])


def test_recent_sharpe_equals_a_hand_computation(store: MetricsStore) -> None:
    spy = [0.010, -0.004, 0.006, 0.002, -0.008, 0.012, 0.003, -0.001, 0.007, 0.004]
    qqq = [0.020, 0.000, -0.010, 0.006, 0.004, -0.002, 0.009, 0.005, -0.003, 0.001]
    store.record_daily_performance(_rows("bull", "SPY", spy) + _rows("bull", "QQQ", qqq))
    store.record_daily_performance(_rows("bear", "SPY", [-x for x in spy]))
    daily = [(a + b) / 2 for a, b in zip(spy, qqq, strict=True)]

    def by_hand(values: list[float]) -> float:
        return statistics.mean(values) / statistics.stdev(values) * math.sqrt(252)

    assert store.calculate_recent_sharpe("bull", 7) == pytest.approx(by_hand(daily[-7:]))
    end = DAY0 + timedelta(days=7)  # the 8th day
    assert store.calculate_recent_sharpe("bull", 7, end=end) == pytest.approx(by_hand(daily[1:8]))
    assert store.calculate_recent_sharpe("bear", 10) == pytest.approx(by_hand([-x for x in spy]))
    assert math.isnan(store.calculate_recent_sharpe("bull", 7, end=DAY0))  # one day
    assert math.isnan(store.calculate_recent_sharpe("nobody"))


def test_summary_drawdown_on_a_known_path(store: MetricsStore) -> None:
    returns = [0.10, -0.20, 0.05, -0.10, 0.30]
    store.record_daily_performance(_rows("bull", "SPY", returns))

    summary = store.performance_summary("bull")

    # Equity 1.1, 0.88, 0.924, 0.8316, 1.081: the trough 0.8316 is 24.4% below the 1.1 peak.
    assert summary["max_drawdown"] == pytest.approx(1 - 0.8316 / 1.1)
    assert summary["hit_rate"] == pytest.approx(3 / 5)  # long every day, three up days
    assert summary["n_days"] == 5
    assert summary["sharpe"] == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252)
    )
    assert store.performance_summary("bull", days=2)["n_days"] == 2


# -- concurrency, errors, settings --------------------------------------------------------------
def test_an_updater_and_a_relay_thread_share_one_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    MetricsStore(url).migrate()
    n_updates, errors, done = 40, [], threading.Event()

    def updater() -> None:
        store = MetricsStore(url)
        try:
            for i in range(n_updates):
                store.record_update(_record(f"job-{i}", hours=i), [_event(f"e-{i}", seconds=i)])
                store.record_daily_performance(_rows("bull", f"S{i}", [0.01] * 5))
        except Exception as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            done.set()
            store.dispose()

    def relay() -> None:
        store = MetricsStore(url)
        try:
            while not done.is_set() or store.pending_events():
                for event in store.pending_events(limit=5):
                    store.mark_failed(event.event_id, "first try fails")
                    store.mark_published([event.event_id])
        except Exception as exc:
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=updater), threading.Thread(target=relay)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    store = MetricsStore(url)
    assert _count(store, "update_history") == n_updates
    assert _count(store, "daily_performance") == n_updates * 5
    assert store.pending_events() == []
    store.dispose()


def test_opening_the_store_again_keeps_the_locks_of_open_connections(tmp_path) -> None:
    # Opening and closing a descriptor of the database outside SQLite drops this process's
    # locks on it; another process closing its last connection then deleted the WAL under the
    # open one: its commits vanished and later reads said "database disk image is malformed".
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    first = MetricsStore(url)
    first.migrate()
    first.record_update(_record("job-0", hours=0), [])
    MetricsStore(url).engine.dispose()  # a second store of the same process, as tasks open

    def in_another_process(job_id: str, hours: int) -> None:
        code = (
            "from tests.online_learning.test_metrics_store import MetricsStore, _record\n"
            f"store = MetricsStore({url!r})\n"
            f"store.record_update(_record({job_id!r}, hours={hours}), [])\n"
            "store.dispose()\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

    in_another_process("job-1", 1)
    first.record_update(_record("job-2", hours=2), [])
    in_another_process("job-3", 3)
    first.dispose()

    store = MetricsStore(url)
    assert sorted(r.job_id for r in store.update_history()) == [f"job-{i}" for i in range(4)]
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.dispose()


def test_bad_urls_and_unreachable_servers_raise_store_error_without_password() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        MetricsStore("metrics.db")
    with pytest.raises(StoreError, match="unsupported") as unsupported:
        MetricsStore("mysql://trader:s3cret@db/metrics")
    assert "s3cret" not in str(unsupported.value)

    store = MetricsStore("postgresql://trader:s3cret@127.0.0.1:1/metrics")
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1") as unreachable:
        store.migrate()
    assert "s3cret" not in str(unreachable.value)


def test_using_a_store_that_was_never_migrated_raises_store_error(tmp_path) -> None:
    store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    assert store.revision() is None
    with pytest.raises(StoreError, match="outbox"):
        store.pending_events()
    store.dispose()


def test_records_refuse_naive_timestamps_and_unknown_decisions() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(_record("j"), started_at=datetime(2025, 1, 6))
    with pytest.raises(ValueError, match="decision"):
        _record("j", decision="maybe")
    with pytest.raises(ValueError, match="finite"):
        PerformanceRow("bull", "SPY", DAY0, 1.0, math.nan, 0.01)


def test_settings_choose_the_metrics_database(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ONLINE_LEARNING_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ONLINE_LEARNING_DATABASE_URL", raising=False)
    store = MetricsStore.from_settings(Settings())
    store.migrate()
    assert (tmp_path / "home" / "metrics.db").is_file()
    store.dispose()

    monkeypatch.setenv("ONLINE_LEARNING_DATABASE_URL", "postgres://trader@db/metrics")
    assert MetricsStore.from_settings(Settings()).url.drivername == "postgresql+psycopg"
