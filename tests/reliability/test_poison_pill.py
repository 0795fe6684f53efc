"""One bad message never stops a partition: the schema rejects it, or the store refuses it
alone, and either way it goes to the DLQ while every outcome around it is learned once.

The campaign's poison pill (a NUL in ``trade_id``: valid JSON, once accepted by the schema,
refused by PostgreSQL) made the worker exit on every start. Here it, and the messages the
schema cannot know a store will refuse (a character outside a LATIN1 database's encoding, an
id longer than an older deployment's column), meet real PostgreSQL databases.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa
from psycopg import sql

from online_learning.events.kafka import ensure_topics
from online_learning.feedback.session_store import SessionStore
from online_learning.metrics_store import MetricsStore
from online_learning.metrics_store.drift_store import DriftStore
from tests.feedback.helpers import Deployment, WorkerProcess, count, produce
from tests.reliability.streams import SYMBOLS, interleaved
from tests.utils.postgres import _conninfo, ensure_postgres, temporary_database
from tests.utils.topics import read_topic
from tests.utils.waiting import wait_for

TIMEOUT_S = 90


@contextmanager
def latin1_database() -> Iterator[str]:
    """A database whose encoding is LATIN1: it cannot hold a euro sign or a CJK character."""
    admin = ensure_postgres()
    name = f"ol_latin1_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
        create = "CREATE DATABASE {} ENCODING LATIN1 LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        connection.execute(sql.SQL(create).format(sql.Identifier(name)))
    try:
        url = admin.set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _run(broker, home, database_url: str, *batches: list[tuple[str, bytes]], expect: int,
         dead: int) -> tuple[MetricsStore, list, WorkerProcess]:  # fmt: skip
    """Produce each of ``batches`` to a 2-partition topic once the worker has learned the one
    before, until ``expect`` outcomes are recorded and ``dead`` messages are in the DLQ;
    returns the store, the DLQ messages and the (stopped) worker."""
    store = MetricsStore(database_url)
    store.migrate()
    deployment = Deployment(bootstrap=broker.bootstrap_servers, database_url=database_url,
                            home=home)  # fmt: skip
    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=2)
    ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
    worker = WorkerProcess(deployment, "poisoned", "--commit-interval", "0.2")
    try:
        for batch in batches:
            offsets = _recorded(store, deployment)
            produce(deployment.bootstrap, deployment.topic, batch)
            wait_for(lambda b=batch, n=offsets: _recorded(store, deployment) >= n + len(b),
                     timeout_s=TIMEOUT_S, what="a batch of outcomes and poison read")  # fmt: skip
        wait_for(lambda: count(store.engine, "processed_trades") >= expect, timeout_s=TIMEOUT_S,
                 what=f"{expect} outcomes learned around the poison")  # fmt: skip
        letters = read_topic(
            deployment.bootstrap, deployment.dlq_topic, expected=dead + 1, timeout_s=5
        )  # fmt: skip (one more than expected: none may come)
        assert worker.process.poll() is None, worker.tail()  # it did not exit
    finally:
        assert worker.stop() == 0, worker.tail()
    assert count(store.engine, "processed_trades") == expect
    assert len(letters) == dead, [m.value()[:80] for m in letters]
    return store, letters, worker


def _recorded(store: MetricsStore, deployment: Deployment) -> int:
    """Messages read and recorded (learned or dead-lettered): the recorded positions."""
    return sum(SessionStore(store).positions(deployment.group, deployment.topic).values())


def _with_poison(poison: list[tuple[str, bytes]], per_symbol: int = 35, seed: int = 3) -> list:
    """Valid outcomes of every symbol with the poison in the middle of AAA's partition."""
    good = [(i["symbol"], json.dumps(i).encode()) for i in interleaved(per_symbol, seed=seed)]
    middle = len(good) // 2
    return good[:middle] + poison + good[middle:]


def _headers(message) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers()}


def _bad(trade_id: str, **changes) -> tuple[str, bytes]:
    item = {**interleaved(1, seed=99)[0], "trade_id": trade_id, **changes}
    return item["symbol"], json.dumps(item).encode()


def test_the_campaigns_poison_pill_is_dead_lettered_and_learning_goes_on(broker, home):
    poison = [
        _bad("t-nul\x00x"),  # the campaign's message
        _bad("t-ok-1", prediction_id="p-nul\x00x"),
        _bad("t-\ud800"),  # json writes the escape; the text is no UTF-8
        _bad("t-tab\tx"),
    ]
    messages = _with_poison(poison)
    with temporary_database("ol_poison") as url:
        store, letters, _ = _run(broker, home, url.render_as_string(hide_password=False),
                                 messages, expect=len(messages) - 4, dead=4)  # fmt: skip
        assert sorted(m.value() for m in letters) == sorted(v for _, v in poison)  # bytes as sent
        details = [_headers(m)["detail"] for m in letters]
        assert {_headers(m)["reason"] for m in letters} == {"invalid_field"}
        assert sum("trade_id" in d for d in details) == 3, details
        assert sum("prediction_id" in d for d in details) == 1, details
        assert {c.samples_seen for c in SessionStore(store).list()} == {35}
        assert DriftStore(store).rejection_counts() == {("kafka", "invalid_field"): 4}
        store.dispose()


def test_messages_the_store_refuses_are_found_and_dead_lettered_alone(broker, home):
    # Valid for the schema, refused by this database: its encoding (LATIN1) has no euro sign
    # nor CJK characters, so the lookup of those ids fails; and, as in an older deployment,
    # its trade_id column is narrower than the schema allows, so the lookup of a long id
    # succeeds and the recording that holds it (with everything learned beside it) fails.
    unencodable = [_bad("t-\u20ac-1"), _bad("t-\u4e2d-2")]
    long_id = _bad("t-" + "x" * 60)
    first = _with_poison(unencodable, per_symbol=20)
    later = [(k, v) for k, v in _with_poison([long_id], per_symbol=20, seed=4)]
    with latin1_database() as url:
        narrow = MetricsStore(url)
        narrow.migrate()
        with narrow.engine.begin() as connection:
            connection.exec_driver_sql(
                "ALTER TABLE processed_trades ALTER COLUMN trade_id TYPE varchar(40)"
            )
        narrow.dispose()
        total = len(first) + len(later)
        store, letters, worker = _run(broker, home, url, first, later, expect=total - 3, dead=3)
        poison = [v for _, v in unencodable] + [long_id[1]]
        assert sorted(m.value() for m in letters) == sorted(poison)  # each once, as sent
        assert {_headers(m)["reason"] for m in letters} == {"refused_by_store"}
        # Everything learned beside them (again, after the refused recording): once.
        assert {c.symbol: c.samples_seen for c in SessionStore(store).list()} == dict.fromkeys(
            SYMBOLS, 40
        )
        assert DriftStore(store).rejection_counts() == {("kafka", "refused_by_store"): 3}
        log = worker.tail()
        assert "dead-lettering" in log and "one message at a time" in log, log
        store.dispose()


def _group(store: MetricsStore) -> str:
    with store.engine.connect() as connection:
        query = sa.text("SELECT DISTINCT consumer_group FROM input_positions")
        return connection.execute(query).scalar_one()
