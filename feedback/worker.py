"""The feedback worker: trade outcomes from Kafka, learned once, recorded, then committed.

One :class:`FeedbackWorker` is one member of the consumer group ``online-learning-feedback``
on ``trade-outcomes`` (keyed by symbol): the group splits the partitions, and the worker
holding a partition is the one writer of its symbols. The loop:

1. ``consume`` a batch; messages of each partition are parsed in order. Invalid ones (see
   ``INVALID_REASONS``) are counted and queued for ``trade-outcomes-dlq`` with their original
   bytes and the reason; valid ones go to the
   :class:`~online_learning.feedback.learner.OutcomeLearner` (new ``trade_id`` only).
   Learning stops at a time budget well inside ``max.poll.interval.ms`` and seeks back
   the rest, so a slow batch never gets the worker thrown out of the group.
2. Every ``commit_interval_s`` (and on a rebalance and at shutdown) it *records*: DLQ
   messages acknowledged first, then one transaction with the sessions' checkpoints, the
   trade ids, drift rows and events, and the partitions' next offsets under this worker's
   epoch (a stale epoch writes nothing), and only then commits the offsets to Kafka.

A crash anywhere leaves the store at the last recording; the restarted worker (or the new
owner) seeks to the recorded positions, so nothing is lost and nothing is learned twice.

A bad day is not a bad message. When the metrics store cannot be reached (a read while
learning, a recording, the claim of new partitions) the worker **pauses** its partitions (it
keeps polling, so it stays in the group however long the outage lasts), retries with a bounded
backoff, and once the store answers records what it holds and resumes each partition exactly
where it stood. When the store *refuses* a value (a message the schema let through, e.g. a
character outside the database's encoding), the worker finds the message it refuses by
learning the suspects one at a time (recording after each, from the last recording when a
recording was refused), dead-letters that one with the reason ``refused_by_store`` and goes
on. Both are logged and counted in :class:`~online_learning.monitoring.health.ComponentHealth`
(``/metrics``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Container
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, KafkaException, TopicPartition

from online_learning.errors import BrokerUnavailableError, FencedError, InvalidTradeOutcome
from online_learning.events.kafka import manual_commit_config
from online_learning.events.producers import DeadLetterProducer
from online_learning.events.schema import ModelDriftEvent
from online_learning.feedback.learner import OutcomeLearner
from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.session_store import PartitionFence, SessionStore
from online_learning.feedback.trade_outcome import REFUSED_BY_STORE, parse_trade_outcome
from online_learning.metrics_store import MetricsStore, StoreError
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.errors import StoreRefusedError, StoreUnavailableError
from online_learning.monitoring.health import Backoff, ComponentHealth

__all__ = ["FeedbackWorker", "WorkerStats"]

logger = logging.getLogger(__name__)
_CHUNK = 500
STORE = "metrics store"


@dataclass
class WorkerStats:
    """Counters of one worker since it started."""

    consumed: int = 0
    learned: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    recordings: int = 0
    uncommitted: int = 0
    rebalances: int = 0
    fenced: int = 0
    budget_cuts: int = 0
    record_failures: int = 0
    #: Times the worker paused for an unreachable store, and outcomes the store refused.
    store_outages: int = 0
    refused_by_store: int = 0
    paused: bool = False
    partitions: list[int] = field(default_factory=list)
    #: ``time.monotonic()`` when the first batch of messages arrived (None before).
    first_batch_at: float | None = None


def _worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class FeedbackWorker:
    """Consumes ``topic`` in ``group``; learns, records, commits (see the module docstring).

    Parameters
    ----------
    bootstrap_servers : str
    store : MetricsStore
        Migrated; sessions, checkpoints and positions are shared through it.
    topic, dlq_topic, group : str
    commit_interval_s : float
        Seconds between two recordings.
    batch_size : int
        Messages asked of one ``consume``.
    max_poll_interval_ms : int
        The consumer's ``max.poll.interval.ms``.
    batch_budget_s : float, optional
        Learning a batch stops after this long (default a fifth of the poll interval, at most
        half): the rest is sought back and read by the next poll.
    known_model_ids : container or callable, optional
        Models an outcome may name (others are ``unknown_model``).
    on_drift : callable, optional
        Called with each recorded :class:`ModelDriftEvent` (after the commit).
    on_record : callable, optional
        Called after each recording (e.g. to wake the Prefect notifier).
    store_backoff : Backoff, optional
        Delays between the attempts to reach the store during an outage (default 0.5 s
        doubling up to 5 s: a retry is one connection attempt).
    health : ComponentHealth, optional
        Where the worker's state and outages are shown (``/metrics``, the log).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        store: MetricsStore,
        topic: str = "trade-outcomes",
        dlq_topic: str = "trade-outcomes-dlq",
        group: str = "online-learning-feedback",
        commit_interval_s: float = 1.0,
        batch_size: int = 2000,
        max_poll_interval_ms: int = 60_000,
        batch_budget_s: float | None = None,
        known_model_ids: Container[str] | Callable[[], Container[str] | None] | None = None,
        default_config: SessionConfig | None = None,
        drift_cooldown: timedelta = timedelta(hours=4),
        drift_topic: str = "model-drift",
        watch_options: dict | None = None,
        on_drift: Callable[[ModelDriftEvent], None] | None = None,
        on_record: Callable[[], None] | None = None,
        on_batch: Callable[[dict], None] | None = None,
        worker_id: str | None = None,
        consumer_overrides: dict | None = None,
        store_backoff: Backoff | None = None,
        health: ComponentHealth | None = None,
    ) -> None:
        if batch_size < 1 or commit_interval_s <= 0:
            raise ValueError("batch_size must be >= 1 and commit_interval_s > 0")
        self.topic, self.dlq_topic, self.group = topic, dlq_topic, group
        self.commit_interval_s = commit_interval_s
        self.batch_size = batch_size
        limit_s = max_poll_interval_ms / 1000
        self.budget_s = limit_s / 5 if batch_budget_s is None else batch_budget_s
        if not 0 < self.budget_s <= limit_s / 2:
            raise ValueError("batch_budget_s must be > 0 and at most half the poll interval")
        self.known_model_ids = known_model_ids
        self.drift_cooldown, self.drift_topic = drift_cooldown, drift_topic
        self.on_drift, self.on_record, self.on_batch = on_drift, on_record, on_batch
        # The loop thread is the one writer; the adaptive manager reads snapshots under it.
        self.lock = threading.RLock()
        self.worker_id = worker_id or _worker_id()
        self.sessions = SessionStore(store)
        self.learner = OutcomeLearner(
            sessions=self.sessions,
            drift=DriftStore(store),
            default_config=default_config,
            watch_options=watch_options,
        )
        self.dlq = DeadLetterProducer(bootstrap_servers, dlq_topic)
        config = manual_commit_config(
            bootstrap_servers, group, max_poll_interval_ms=max_poll_interval_ms,
            **(consumer_overrides or {}),
        )  # fmt: skip
        config["client.id"] = self.worker_id
        self.consumer = Consumer(config)
        self.stats = WorkerStats()
        self._epochs: dict[int, int] = {}  # owned partition -> epoch
        self._next: dict[int, int] = {}  # owned partition -> next offset to learn
        self._recorded: dict[int, int] = {}  # partition -> next offset as recorded
        self._dlq_pending: list[tuple] = []
        self._dirty_since: float | None = None
        self._subscribed = False
        self.health = health or ComponentHealth(
            "feedback_worker", instance=self.worker_id, logger=logger
        )
        self._backoff = store_backoff or Backoff(first_s=0.5, max_s=5.0)
        self.health.dependency_ok(STORE)  # shown up in /metrics until it fails
        # Outage handling: partitions assigned while the store was down (claimed once it
        # answers), where each partition resumes after a pause, when to try the store again.
        self._unclaimed: set[int] = set()
        self._resume_at: dict[int, int] = {}
        self._paused = False
        self._retry_at = 0.0
        # Refusal handling: where the unrecorded state of each partition starts (to replay it),
        # offsets below which messages are learned one per recording, offsets to dead-letter
        # as refused, and the last offset already sent to the DLQ (not sent twice on a replay).
        self._base: dict[int, int] = {}
        self._careful_until: dict[int, int] = {}
        self._refused: dict[int, set[int]] = {}
        self._dlq_sent: dict[int, int] = {}

    # -- group membership -----------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        numbers = [p.partition for p in partitions]
        try:
            claimed = self.sessions.claim_partitions(
                self.group, self.topic, numbers, self.worker_id
            )
        except StoreError as exc:
            # Hold them paused, unclaimed, until the store answers (see _recover): leaving the
            # group instead would only hand them to a worker that cannot reach it either.
            for tp in partitions:
                tp.offset = OFFSET_STORED
            consumer.assign(partitions)
            self._unclaimed.update(numbers)
            self._pause(exc)
            logger.info("worker %s holds %s of %s unclaimed", self.worker_id, numbers, self.topic)
            return
        for tp in partitions:
            epoch, offset = claimed[tp.partition]
            self._epochs[tp.partition] = epoch
            # The recorded position wins over Kafka's committed offset: it is what the
            # restored state includes (a commit to Kafka may have failed after it).
            tp.offset = offset if offset is not None else OFFSET_STORED
            if offset is not None:
                self._next[tp.partition] = self._recorded[tp.partition] = offset
                self._base[tp.partition] = offset
        consumer.assign(partitions)
        if self._paused:
            consumer.pause(partitions)
        self.stats.partitions = sorted(self._epochs)
        logger.info("worker %s owns %s of %s", self.worker_id, self.stats.partitions, self.topic)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # If this recording fails, the new owner resumes from the last one.
        try:
            self.record()
        except (StoreError, BrokerUnavailableError) as exc:
            logger.warning("recording before handing partitions over failed: %s", exc)
        except Exception:
            logger.exception("recording before handing partitions over failed")
        self._drop([p.partition for p in partitions])

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._drop([p.partition for p in partitions])

    def _drop(self, numbers: list[int]) -> None:
        keys = [f"{self.topic}/{n}" for n in numbers]
        self.learner.forget(self.learner.symbols_of(keys))
        for n in numbers:
            for owned in (self._epochs, self._next, self._recorded, self._resume_at, self._base,
                          self._careful_until, self._refused, self._dlq_sent):  # fmt: skip
                owned.pop(n, None)
            self._unclaimed.discard(n)
        self._dlq_pending = [d for d in self._dlq_pending if d[3] not in numbers]
        self.stats.partitions = sorted(self._epochs)

    def subscribe(self) -> None:
        self.consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )  # fmt: skip
        self._subscribed = True

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, poll_timeout_s: float = 0.5) -> None:
        """Consume until ``stop`` is set, then record and leave the group."""
        if not self._subscribed:
            self.subscribe()
        try:
            while not stop.is_set():
                self.poll_once(poll_timeout_s)
        finally:
            self.close()

    def poll_once(self, timeout_s: float = 0.5) -> int:
        """One consume and its processing; records when the interval has passed.

        While the store is unreachable the partitions are paused: this polls (which keeps the
        worker in its group) and tries the store again when the backoff says so.
        """
        messages = self.consumer.consume(self.batch_size, timeout_s)
        with self.lock:
            if self._paused:
                self._poll_paused(messages)
                return 0
            try:
                processed = self._process(messages) if messages else 0
            except StoreError as exc:  # unreachable (or failing): wait for it, then go on
                self._pause(exc)
                return 0
            if processed and self.on_batch is not None:
                self.on_batch({"event": "batch", "processed": processed, **asdict(self.stats)})
            if processed and self._dirty_since is None:
                self._dirty_since = time.monotonic()
            # An outcome waits at most commit_interval_s between being learned and recorded.
            due = self._dirty_since is not None or self.learner.has_pending
            if due and time.monotonic() - (self._dirty_since or 0.0) >= self.commit_interval_s:
                self._try_record()
        return processed

    def _try_record(self) -> None:
        try:
            self.record()
        except StoreUnavailableError as exc:
            self.stats.record_failures += 1
            self._pause(exc)  # state stays in memory, recorded once the store answers
        except StoreRefusedError as exc:
            self.stats.record_failures += 1
            self._replay_carefully(exc)
        except (StoreError, BrokerUnavailableError) as exc:
            # State stays in memory and is recorded by the next attempt.
            self.stats.record_failures += 1
            logger.warning("recording failed, retrying next interval: %s", exc)

    # -- outages of the store -------------------------------------------------------------
    def _pause(self, exc: StoreError | BrokerUnavailableError) -> None:
        delay = self._backoff.next()
        self._retry_at = time.monotonic() + delay
        dependency = STORE if isinstance(exc, StoreError) else "broker"
        self.health.dependency_failed(dependency, exc, retry_in_s=delay)
        if self._paused:
            return
        self._paused = self.stats.paused = True
        self.stats.store_outages += 1
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.pause(assignment)
        logger.warning(
            "worker %s paused %s of %s until the metrics store answers",
            self.worker_id, sorted(tp.partition for tp in assignment), self.topic,
        )  # fmt: skip

    def _poll_paused(self, messages: list) -> None:
        for message in messages:  # fetched before the pause took effect: read them again
            if message.error() is None:
                partition = message.partition()
                known = self._resume_at.get(partition, message.offset())
                self._resume_at[partition] = min(known, message.offset())
        if time.monotonic() < self._retry_at:
            return
        try:
            self._recover()
        except StoreRefusedError as exc:  # it answers, and refuses what we hold
            self._resume()
            self._replay_carefully(exc)
        except (StoreError, BrokerUnavailableError) as exc:  # not yet (or the DLQ's broker)
            self._pause(exc)

    def _recover(self) -> None:
        """Claim what was assigned during the outage, record what is held, resume."""
        if self._unclaimed:
            numbers = sorted(self._unclaimed)
            claimed = self.sessions.claim_partitions(
                self.group, self.topic, numbers, self.worker_id
            )
            for number in numbers:
                epoch, offset = claimed[number]
                self._epochs[number] = epoch
                if offset is not None:
                    self._next[number] = self._recorded[number] = offset
                    self._base[number] = self._resume_at[number] = offset
            self._unclaimed.clear()
            self.stats.partitions = sorted(self._epochs)
        if self.learner.has_pending or self._dlq_pending or self._unrecorded():
            self.record()
        else:
            self.sessions.metrics.ping()
        self._resume()

    def _unrecorded(self) -> bool:
        return any(self._recorded.get(p) != n for p, n in self._next.items())

    def _resume(self) -> None:
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.resume(assignment)
        resumed = {}
        for tp in assignment:
            at = [o for o in (self._resume_at.get(tp.partition), self._next.get(tp.partition))
                  if o is not None]  # fmt: skip
            if at:
                resumed[tp.partition] = min(at)
                self._seek(tp.partition, min(at))
        self._resume_at.clear()
        self._paused = self.stats.paused = False
        self._backoff.reset()
        for dependency in (STORE, "broker"):
            self.health.dependency_ok(dependency)
        logger.info("worker %s resumed %s at %s", self.worker_id, self.topic, resumed)

    # -- values the store refuses ---------------------------------------------------------
    def _replay_carefully(self, exc: StoreRefusedError) -> None:
        """A recording was refused: learn what it held again, one message per recording."""
        for partition, end in self._next.items():
            if end > self._base.get(partition, end):
                self._careful_until[partition] = max(self._careful_until.get(partition, 0), end)
        logger.warning(
            "the metrics store refused a recording (%s): learning %s again one message at a "
            "time to find the one it refuses", exc, self._careful_until,
        )  # fmt: skip
        self._replay_from_recorded()

    def _replay_from_recorded(self) -> None:
        """Drop what memory holds beyond the last recording and read it again."""
        self.learner.forget()
        self._dlq_pending.clear()  # queued again by the replay (sent ones are not resent)
        self._dirty_since = None
        for partition in list(self._epochs):
            base = self._base.get(partition)
            if base is None:
                continue
            self._next[partition] = base
            self._seek(partition, base)

    def _refuse(self, partition: int, message, exc: StoreError) -> None:
        self.stats.refused_by_store += 1
        self.health.count(REFUSED_BY_STORE)
        detail = f"the metrics store refused it: {exc.action or 'recording'} failed"
        logger.warning("dead-lettering %s/%d@%d: %s", self.topic, partition, message.offset(), exc)
        self._reject(partition, message, REFUSED_BY_STORE, detail)

    def watch_snapshots(self) -> list:
        """Read-only snapshots of the drift watches this worker owns (for the manager)."""
        with self.lock:
            return self.learner.snapshots()

    def _process(self, messages: list) -> int:
        started = time.monotonic()
        if self.stats.first_batch_at is None:
            self.stats.first_batch_at = started
        known = self.known_model_ids() if callable(self.known_model_ids) else self.known_model_ids
        by_partition: dict[int, list] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("consumer error: %s", error)
                continue
            by_partition.setdefault(message.partition(), []).append(message)
        pending: dict[int, list] = {}
        for partition, batch in by_partition.items():
            if partition not in self._epochs:
                continue  # handed over in this very poll
            start = self._next.get(partition, -1)
            pending[partition] = [m for m in batch if m.offset() >= start]  # not in the state
            if pending[partition]:
                self._base.setdefault(partition, pending[partition][0].offset())
        processed = 0
        for partition, batch in pending.items():
            try:
                done, complete = self._process_partition(partition, batch, known, started)
            except StoreError:
                # Nothing of the failed chunk was learned (the learner reads before it
                # changes anything): each partition resumes at its first message not learned.
                for other, rest in pending.items():
                    start = self._next.get(other, -1)
                    left = [m.offset() for m in rest if m.offset() >= start]
                    if left:
                        self._resume_at[other] = left[0]
                raise
            processed += done
            if not complete:
                return processed  # the state was dropped and every partition sought back
        if time.monotonic() - started > self.budget_s and self.batch_size > 50:
            self.batch_size //= 2  # the next consume asks for less
        return processed

    def _process_partition(self, partition: int, batch: list, known, started: float):
        """Learn ``batch`` of one partition in chunks; returns (processed, complete)."""
        processed, i = 0, 0
        while i < len(batch):
            # Chunks: one trade-id lookup each, and a budget check between them.
            if time.monotonic() - started > self.budget_s:
                self._seek_back(partition, batch[i].offset())
                break
            careful = batch[i].offset() < self._careful_until.get(partition, -1)
            chunk = batch[i : i + (1 if careful else _CHUNK)]
            try:
                processed += self._learn(partition, chunk, known)
            except StoreRefusedError as exc:
                if len(chunk) > 1:  # one of them is refused: learn them one by one
                    self._careful_until[partition] = max(
                        self._careful_until.get(partition, 0), chunk[-1].offset() + 1
                    )
                    continue
                self._refuse(partition, chunk[0], exc)
                self._next[partition] = chunk[0].offset() + 1
                processed += 1
                i += 1
                continue
            i += len(chunk)
            if careful:
                try:
                    self.record()
                except BrokerUnavailableError as exc:  # the DLQ: the next recording retries
                    logger.warning("recording failed, retrying next interval: %s", exc)
                except StoreRefusedError as exc:
                    # The one message learned since the last recording is the one refused.
                    self._refused.setdefault(partition, set()).add(chunk[0].offset())
                    logger.warning("the metrics store refused %s/%d@%d: %s",
                                   self.topic, partition, chunk[0].offset(), exc)  # fmt: skip
                    self._replay_from_recorded()
                    return processed, False
        until = self._careful_until.get(partition)
        if until is not None and self._next.get(partition, -1) >= until:
            del self._careful_until[partition]
            logger.info("worker %s: %s/%d learns in chunks again", self.worker_id, self.topic,
                        partition)  # fmt: skip
        return processed, True

    def _seek(self, partition: int, offset: int) -> None:
        try:
            self.consumer.seek(TopicPartition(self.topic, partition, offset))
        except KafkaException as exc:  # not fetching it yet: it starts from the claimed offset
            logger.warning("could not seek %s/%d to %d: %s", self.topic, partition, offset, exc)

    def _seek_back(self, partition: int, offset: int) -> None:
        self.stats.budget_cuts += 1
        self.consumer.seek(TopicPartition(self.topic, partition, offset))

    def _learn(self, partition: int, messages: list, known) -> int:
        outcomes, sources, invalid = [], [], []
        refused = self._refused.get(partition, ())
        for message in messages:
            if message.offset() in refused:
                continue
            try:
                outcome = parse_trade_outcome(
                    message.value() or b"", feature_names=None, known_model_ids=known
                )
            except InvalidTradeOutcome as exc:
                invalid.append((message, exc))
                continue
            outcomes.append(outcome)
            sources.append(message)
        key = f"{self.topic}/{partition}"
        # Raises StoreError before anything changed; the rejections are queued after it.
        results = self.learner.learn(outcomes, source="kafka", input_key=key)
        for message in messages:
            if message.offset() in refused:
                refused.discard(message.offset())
                self.stats.refused_by_store += 1
                self.health.count(REFUSED_BY_STORE)
                self._reject(partition, message, REFUSED_BY_STORE, "the metrics store refused "
                             "the recording that held it")  # fmt: skip
        for message, exc in invalid:
            self._reject(partition, message, exc.reason, exc.detail)
        for result, message in zip(results, sources, strict=True):
            if result.status == "accepted":
                self.stats.learned += 1
                self.stats.uncommitted += 1
            elif result.status == "duplicate":
                self.stats.duplicates += 1
            else:  # the learner refused it (features other than the session's) and counted it
                self._reject(partition, message, result.reason, result.detail, counted=True)
        self.stats.consumed += len(messages)
        self._next[partition] = messages[-1].offset() + 1
        return len(messages)

    def _reject(self, partition, message, reason, detail, *, counted: bool = False) -> None:
        if not counted:  # the learner counted its own rejections
            self.learner.reject("kafka", reason, detail)
        self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1
        self.health.count("dead_lettered")
        offset = message.offset()
        if offset <= self._dlq_sent.get(partition, -1):
            return  # sent before a replay of the same messages
        headers = DeadLetterProducer.headers(
            reason, detail, topic=self.topic, partition=partition, offset=offset
        )
        self._dlq_pending.append((message.key(), message.value() or b"", headers, partition,
                                  offset))  # fmt: skip

    # -- recording ------------------------------------------------------------------------
    def record(self) -> None:
        """DLQ first, then one transaction, then the Kafka commit (see the module docstring)."""
        with self.lock:
            try:
                self._record()
            except Exception:
                self._dirty_since = time.monotonic()  # retry one interval later
                raise

    def _record(self) -> None:
        positions = {p: n for p, n in self._next.items() if self._recorded.get(p) != n}
        if not positions and not self.learner.has_pending and not self._dlq_pending:
            self._dirty_since = None
            return
        if self._dlq_pending:
            self.dlq.send_messages([(k, v, h) for k, v, h, _, _ in self._dlq_pending])
            for *_, partition, offset in self._dlq_pending:
                self._dlq_sent[partition] = max(self._dlq_sent.get(partition, -1), offset)
            self._dlq_pending.clear()
        batch = self.learner.drain({f"{self.topic}/{p}": n for p, n in self._next.items()})
        batch.positions = positions
        batch.fence = PartitionFence(self.group, self.topic, dict(self._epochs))
        try:
            stored = self.sessions.commit(
                batch, drift_cooldown=self.drift_cooldown, drift_topic=self.drift_topic
            )
        except FencedError:
            self.stats.fenced += 1
            logger.warning("worker %s was fenced: dropping its state", self.worker_id)
            self.learner.forget()
            self._drop(list(self._epochs))
            self._dirty_since = None
            return
        self.learner.committed()
        self._dirty_since = None
        self._recorded.update(positions)
        self._base.update(self._next)
        self.stats.recordings += 1
        self.stats.uncommitted = 0
        if positions:
            offsets = [TopicPartition(self.topic, p, n) for p, n in positions.items()]
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:  # the store has the positions; Kafka's are a hint
                logger.warning("committing offsets to Kafka failed: %s", exc)
        for record in stored:
            if self.on_drift is not None:
                try:
                    self.on_drift(record.to_event())
                except Exception:
                    logger.exception("on_drift failed for drift %s", record.drift_id)
        if self.on_record is not None:
            self.on_record()

    def close(self) -> None:
        """Record what is left, leave the group (its partitions go to the others)."""
        try:
            self.record()
        except Exception:
            logger.exception("the final recording failed; the next owner resumes before it")
        try:
            self.consumer.close()
        finally:
            self.dlq.close()
