"""The feedback service: what the serving API calls to post outcomes and read sessions.

Two modes, chosen by whether a producer is given:

- **in-process** (no broker): this process owns every symbol. :meth:`FeedbackService.submit`
  learns the valid, new outcomes under one lock (the single writer) and records them, with
  the sessions' checkpoints and any drift, in one transaction before it returns: an outcome
  reported ``accepted`` is durable.
- **broker**: the feedback workers own the symbols (their Kafka partitions).
  :meth:`~FeedbackService.submit` validates, drops trade ids already learned, and produces
  the rest to ``trade-outcomes`` keyed by symbol; the owner learns them. Sessions are read
  from their checkpoints (:class:`~online_learning.feedback.reader.SessionReader`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from online_learning.errors import (
    ConfigError,
    InvalidTradeOutcome,
    SessionExistsError,
    SessionNotFoundError,
)
from online_learning.events.schema import MODEL_DRIFT_TOPIC, ModelDriftEvent
from online_learning.feedback.learner import IngestResult, OutcomeLearner
from online_learning.feedback.reader import SessionReader
from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.session_metrics import SessionMetrics
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.sessions import OnlineSession
from online_learning.feedback.status import DriftStatus, drift_status
from online_learning.feedback.trade_outcome import (
    _SYMBOL,
    REFUSED_BY_STORE,
    TradeOutcome,
    parse_trade_outcome,
    unstorable_reason,
)
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.errors import StoreRefusedError
from online_learning.metrics_store.feedback_records import DriftRecord
from online_learning.metrics_store.store import MetricsStore

__all__ = ["FeedbackService", "IngestResult", "OutcomeProducer", "SessionPrediction"]

logger = logging.getLogger(__name__)
_CONFIG_CACHE_S = 5.0


class OutcomeProducer(Protocol):
    """Hands outcomes to their owner: ``send`` returns once the broker has every message
    (``(key, value)`` pairs, the key is the symbol) and raises when it cannot."""

    def send(self, messages: Sequence[tuple[str, bytes]]) -> None: ...


@dataclass(frozen=True)
class SessionPrediction:
    """``p_up`` of one session, with where it came from (for the response's provenance).

    ``checkpoint_age_s`` is 0 for the owner's live session, else the age of the checkpoint
    the reader rebuilt the session from.
    """

    p_up: float
    session_id: str
    symbol: str
    model_type: str
    samples_seen: int
    checkpoint_age_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _peek_trade_id(item: Any) -> str | None:
    if isinstance(item, Mapping):
        value = item.get("trade_id")
    else:
        try:
            data = orjson.loads(item)
        except (orjson.JSONDecodeError, TypeError):
            return None
        value = data.get("trade_id") if isinstance(data, dict) else None
    # Echoed in the answer: only an id that the answer (and a log) can carry as it is.
    if isinstance(value, str) and 0 < len(value) <= 200 and unstorable_reason(value) is None:
        return value
    return None


def _refused(trade_id: str, exc: StoreRefusedError, source: str, rejected: list) -> IngestResult:
    detail = f"the metrics store refused it ({exc.action or 'recording'} failed)"
    rejected.append((source, REFUSED_BY_STORE, detail))
    return IngestResult(trade_id, "rejected", REFUSED_BY_STORE, detail)


class FeedbackService:
    """Outcomes in, sessions and drift state out.

    Parameters
    ----------
    store : MetricsStore
        Migrated metrics store (sessions, checkpoints, trade ids, drift, outbox).
    producer : OutcomeProducer, optional
        Set when a broker is configured (broker mode); None learns in-process.
    known_model_ids : container of str, or a callable returning one, optional
        Models an outcome may name (others are ``unknown_model``); None accepts any.
    default_config : SessionConfig, optional
        Of the session started for a symbol's first outcome.
    on_drift : callable, optional
        Called with each :class:`~online_learning.events.schema.ModelDriftEvent` once it is
        recorded (in-process mode); an exception it raises is logged, not propagated.
    drift_cooldown : timedelta
        Minimum time between two adaptation requests of one model.
    adaptation_probe : callable, optional
        ``probe(model_id) -> bool``: is an adaptation of the model running (for
        :meth:`drift_status`).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> service = FeedbackService(store=store)
    >>> outcome = {"trade_id": "t-1", "symbol": "AAA", "timestamp": "2026-01-05T21:00:00Z",
    ...            "features": {"ret_1": 0.01}, "realized_return": 0.002, "position": 1.0}
    >>> service.start_session("AAA", SessionConfig(feature_names=("ret_1",))).samples_seen
    0
    >>> [r.status for r in service.submit([outcome, outcome, {"trade_id": "t-2"}])]
    ['accepted', 'duplicate', 'rejected']
    >>> [(m.symbol, m.samples_seen, m.realized_pnl) for m in service.list_sessions()]
    [('AAA', 1, 0.002)]
    >>> store.dispose()
    """

    def __init__(
        self,
        *,
        store: MetricsStore,
        producer: OutcomeProducer | None = None,
        known_model_ids: Container[str] | Callable[[], Container[str] | None] | None = None,
        default_config: SessionConfig | None = None,
        on_drift: Callable[[ModelDriftEvent], None] | None = None,
        drift_cooldown: timedelta = timedelta(hours=4),
        drift_topic: str = MODEL_DRIFT_TOPIC,
        watch_options: Mapping[str, Any] | None = None,
        adaptation_probe: Callable[[str], bool] | None = None,
        reader_refresh_s: float = 1.0,
    ) -> None:
        self.store = store
        self.sessions = SessionStore(store)
        self.drift = DriftStore(store)
        self.producer = producer
        self.known_model_ids = known_model_ids
        self.default_config = default_config or SessionConfig()
        self.on_drift = on_drift
        self.drift_cooldown = drift_cooldown
        self.drift_topic = drift_topic
        self.adaptation_probe = adaptation_probe
        self.reader = SessionReader(self.sessions, refresh_s=reader_refresh_s)
        self._learner = OutcomeLearner(
            sessions=self.sessions,
            drift=self.drift,
            default_config=self.default_config,
            watch_options=watch_options,
        )
        self._lock = threading.Lock()
        self._snapshots: dict[str, tuple[str, int, OnlineSession]] = {}
        self._configs: dict[str, tuple[float, SessionConfig]] = {}

    @property
    def in_process(self) -> bool:
        """True when this process learns (no broker): it owns every symbol."""
        return self.producer is None

    def _known(self) -> Container[str] | None:
        known = self.known_model_ids
        return known() if callable(known) else known

    # -- outcomes -------------------------------------------------------------------------
    def submit(
        self, items: Sequence[bytes | str | Mapping[str, Any]], *, source: str = "rest"
    ) -> list[IngestResult]:
        """Validate, deduplicate on ``trade_id`` and learn (or hand over) each outcome.

        Returns one :class:`IngestResult` per item, in order. An outcome the schema accepts
        but the store refuses (a value outside a PostgreSQL database's encoding, say) is
        ``rejected`` with the reason ``refused_by_store``; the others of the batch go on.
        Raises :class:`~online_learning.metrics_store.StoreError` when the store cannot record
        them (nothing was learned then) or the producer's error when the broker refuses.
        """
        now = datetime.now(UTC)
        known = self._known()
        results: list[IngestResult | None] = [None] * len(items)
        valid: list[tuple[int, TradeOutcome]] = []
        rejected: list[tuple[str, str, str]] = []
        for i, item in enumerate(items):
            try:
                outcome = parse_trade_outcome(
                    item, feature_names=None, known_model_ids=known, now=now
                )
            except InvalidTradeOutcome as exc:
                results[i] = IngestResult(_peek_trade_id(item), "rejected", exc.reason, exc.detail)
                rejected.append((source, exc.reason, exc.detail))
                continue
            valid.append((i, outcome))
        if self.in_process:
            learned = self._learn([o for _, o in valid], rejected, source)
        else:
            learned = self._hand_over([o for _, o in valid], rejected, source)
        for (i, _), result in zip(valid, learned, strict=True):
            results[i] = result
        return results  # type: ignore[return-value]

    def _learn(self, outcomes, rejected, source) -> list[IngestResult]:
        with self._lock:
            try:
                results, stored = self._learn_and_record(outcomes, rejected, source)
            except StoreRefusedError:
                # One of them holds a value the store cannot take: record them one by one, so
                # that only that one is refused.
                results, stored, rejected = [], [], list(rejected)
                for outcome in outcomes:
                    try:
                        learned, drifts = self._learn_and_record([outcome], rejected, source)
                        rejected = []
                    except StoreRefusedError as exc:
                        learned, drifts = [_refused(outcome.trade_id, exc, source, rejected)], []
                    results += learned
                    stored += drifts
                if rejected:
                    self.drift.count_rejections(rejected)
        self._announce(stored)
        return results

    def _learn_and_record(self, outcomes, rejected, source):
        learner = self._learner
        try:
            for triple in rejected:
                learner.reject(*triple)
            results = learner.learn(outcomes, source=source)
            stored = self.sessions.commit(
                learner.drain(),
                drift_cooldown=self.drift_cooldown,
                drift_topic=self.drift_topic,
            )
        except Exception:
            # Memory is ahead of the store: reload from the last commit on next use.
            learner.forget()
            self._snapshots.clear()
            raise
        learner.committed()
        return results, stored

    def _announce(self, stored: Sequence[DriftRecord]) -> None:
        if self.on_drift is None:
            return
        for record in stored:
            try:
                self.on_drift(record.to_event())
            except Exception:
                logger.exception("on_drift callback failed for drift %s", record.drift_id)

    def _config_for(self, symbol: str) -> SessionConfig:
        cached = self._configs.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < _CONFIG_CACHE_S:
            return cached[1]
        row = self.sessions.active_session(symbol)
        config = row.config if row is not None else self.default_config
        self._configs[symbol] = (time.monotonic(), config)
        return config

    def _processed(self, outcomes, rejected, source) -> tuple[set[str], dict]:
        """The trade ids already learned, and the results of those the store refuses."""
        try:
            return self.sessions.processed_trade_ids([o.trade_id for o in outcomes]), {}
        except StoreRefusedError:
            seen, refused = set(), {}
            for outcome in outcomes:
                try:
                    seen |= self.sessions.processed_trade_ids([outcome.trade_id])
                except StoreRefusedError as exc:
                    refused[outcome.trade_id] = _refused(outcome.trade_id, exc, source, rejected)
            return seen, refused

    def _hand_over(self, outcomes, rejected, source) -> list[IngestResult]:
        seen, refused = self._processed(outcomes, rejected, source)
        results, messages, batch_ids = [], [], set()
        for outcome in outcomes:
            if outcome.trade_id in refused:
                results.append(refused[outcome.trade_id])
                continue
            if outcome.trade_id in seen or outcome.trade_id in batch_ids:
                results.append(IngestResult(outcome.trade_id, "duplicate"))
                continue
            names = frozenset(self._config_for(outcome.symbol).feature_names)
            if outcome.features.keys() != names:
                detail = f"the session of {outcome.symbol} reads {sorted(names)[:20]}"
                rejected.append((source, "wrong_features", detail))
                results.append(IngestResult(outcome.trade_id, "rejected", "wrong_features", detail))
                continue
            batch_ids.add(outcome.trade_id)
            messages.append((outcome.symbol, outcome.to_json()))
            results.append(IngestResult(outcome.trade_id, "accepted"))
        if messages:
            self.producer.send(messages)
        self.drift.count_rejections(rejected)
        return results

    # -- sessions -------------------------------------------------------------------------
    def start_session(self, symbol: str, config: SessionConfig | None = None) -> SessionMetrics:
        """Start the symbol's session; :class:`SessionExistsError` if it has an active one."""
        if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
            raise ConfigError(f"symbol must be 1-64 characters without spaces, got {symbol!r}")
        config = config or self.default_config
        if not isinstance(config, SessionConfig):
            raise ConfigError("config must be a SessionConfig (SessionConfig.from_dict)")
        session = OnlineSession(symbol, config)
        with self._lock:
            owned = self._learner.sessions.get(symbol)
            if owned is not None:
                raise SessionExistsError(symbol, owned.session_id)
            self.sessions.create_session(session.session_id, symbol, config, session.created_at)
            if self.in_process:
                self.sessions.save(session.checkpoint())
                self._learner.adopt(session)
        self._configs.pop(symbol, None)
        return session.metrics()

    def _reading_copy(self, session_id: str) -> tuple[OnlineSession, float]:
        row = self.sessions.session(session_id)
        if row is None or not row.active:
            raise SessionNotFoundError(f"no active session {session_id!r}")
        with self._lock:
            owned = self._learner.sessions.get(row.symbol)
            if owned is not None and owned.session_id == session_id:
                cached = self._snapshots.get(row.symbol)
                if cached is None or cached[:2] != (session_id, owned.samples_seen):
                    cached = (session_id, owned.samples_seen, owned.copy())
                    self._snapshots[row.symbol] = cached
                return cached[2], 0.0
        found = self.reader.latest(row.symbol)
        if found is not None and found[0].session_id == session_id:
            return found
        # Registered but never checkpointed: it has learned nothing yet.
        fresh = OnlineSession(row.symbol, row.config, session_id=session_id,
                              created_at=row.created_at)  # fmt: skip
        return fresh, max((datetime.now(UTC) - row.created_at).total_seconds(), 0.0)

    def get_session(self, session_id: str) -> OnlineSession:
        """A reading copy of the session (predict with it; it does not follow later learning).

        Raises :class:`SessionNotFoundError` for an unknown or ended session.
        """
        return self._reading_copy(session_id)[0]

    def predict(self, session_id: str, features: Mapping[str, float]) -> SessionPrediction:
        """``p_up`` of the session for one row of features, with provenance.

        Raises :class:`SessionNotFoundError`, or
        :class:`~online_learning.feedback.sessions.InvalidFeatures` for features other than
        the session's.
        """
        session, age = self._reading_copy(session_id)
        p_up = session.predict_proba_one(features)
        return SessionPrediction(p_up, session.session_id, session.symbol,
                                 session.config.model_type, session.samples_seen, age)  # fmt: skip

    def session_metrics(self, session_id: str) -> SessionMetrics:
        """The session's metrics; :class:`SessionNotFoundError` if it does not exist."""
        return self._reading_copy(session_id)[0].metrics()

    def session_snapshot(self, session_id: str) -> tuple[SessionMetrics, float]:
        """The session's metrics and the age in seconds of the state they describe (0 for a
        session this process owns, else its checkpoint's age).

        Raises :class:`SessionNotFoundError` if it does not exist.
        """
        session, age = self._reading_copy(session_id)
        return session.metrics(), age

    def list_sessions(self) -> list[SessionMetrics]:
        """Metrics of every active session, by symbol (live for owned ones, else as of
        their latest checkpoint)."""
        now = datetime.now(UTC)
        checkpoints = {c.session_id: c for c in self.sessions.list()}
        with self._lock:
            owned = {s.session_id: s.metrics(now) for s in self._learner.sessions.values()}
        metrics = []
        for row in self.sessions.sessions():
            if row.session_id in owned:
                metrics.append(owned[row.session_id])
            elif row.session_id in checkpoints and checkpoints[row.session_id].metrics:
                stored = SessionMetrics.from_dict(dict(checkpoints[row.session_id].metrics))
                age = max((now - row.created_at).total_seconds(), 0.0)
                metrics.append(replace(stored, model_age_s=age))
            else:
                fresh = OnlineSession(row.symbol, row.config, session_id=row.session_id,
                                      created_at=row.created_at)  # fmt: skip
                metrics.append(fresh.metrics(now))
        return metrics

    # -- drift ----------------------------------------------------------------------------
    def watch_snapshots(self) -> list:
        """Snapshots of the drift watches this process owns (for an
        :class:`~online_learning.feedback.manager.AdaptiveModelManager`)."""
        with self._lock:
            return self._learner.snapshots()

    def drift_status(self) -> list[DriftStatus]:
        """Every watched model and symbol: detectors, last detection, adaptation state."""
        return drift_status(self.drift, adaptation_probe=self.adaptation_probe)

    def drift_history(
        self, *, model_id: str | None = None, symbol: str | None = None, limit: int = 50
    ) -> list[DriftRecord]:
        """The latest drift records, newest first."""
        return self.drift.history(model_id=model_id, symbol=symbol, limit=limit)

    def rejection_counts(self) -> dict[tuple[str, str], int]:
        """Invalid outcomes counted per (source, reason)."""
        return self.drift.rejection_counts()
