"""The single writer of the symbols a process owns: sessions learn, watches watch, once per trade.

:class:`OutcomeLearner` holds the online session of each symbol it owns and the drift watch of
each (model, symbol), loads them from the checkpoint store the first time a symbol appears,
learns valid outcomes whose ``trade_id`` was never learned, and gathers what changed into a
:class:`~online_learning.feedback.session_store.FeedbackCommit`. The caller writes
the commit (one transaction) and only then acknowledges its input: a crash before that
leaves the store at the previous commit, and the input is delivered again.

It is not thread-safe: one thread (the worker's loop, or a caller holding a lock) uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from online_learning.errors import SessionExistsError
from online_learning.feedback.drift_watch import (
    ONLINE_MODEL_ID,
    Detection,
    DriftWatch,
    WatchSnapshot,
)
from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.session_store import FeedbackCommit, ProcessedTrade, SessionStore
from online_learning.feedback.sessions import OnlineSession
from online_learning.feedback.trade_outcome import TradeOutcome
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.ledger_records import LedgerTrade

__all__ = ["IngestResult", "OutcomeLearner"]


@dataclass(frozen=True)
class IngestResult:
    """What happened to one submitted outcome.

    ``accepted``: learned (in-process) or handed to the symbol's owner (broker);
    ``duplicate``: its ``trade_id`` was learned before, nothing changed; ``rejected``: invalid,
    with ``reason`` (see ``INVALID_REASONS``) and ``detail``.
    """

    trade_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class OutcomeLearner:
    """Learns outcomes into the sessions and drift watches of the symbols it owns.

    Parameters
    ----------
    sessions : SessionStore
        Where sessions are registered and checkpoints and trade ids are read from.
    drift : DriftStore
        Where drift watches are read from.
    default_config : SessionConfig, optional
        The session started for a symbol that has none (scaled logistic regression on the
        platform's ``FEATURE_COLUMNS`` by default).
    watch_options : Mapping, optional
        Keyword arguments of every new :class:`DriftWatch` (``warmup``, ``min_gap``, ...).
    """

    def __init__(
        self,
        *,
        sessions: SessionStore,
        drift: DriftStore,
        default_config: SessionConfig | None = None,
        watch_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = sessions
        self.drift = drift
        self.default_config = default_config or SessionConfig()
        self.watch_options = dict(watch_options or {})
        self.sessions: dict[str, OnlineSession] = {}
        self.watches: dict[tuple[str, str], DriftWatch] = {}
        self._inputs: dict[str, str] = {}  # symbol -> input key ("topic/partition")
        self._pending: dict[str, ProcessedTrade] = {}
        self._ledger: dict[str, LedgerTrade] = {}
        self._dirty_sessions: set[str] = set()
        self._dirty_watches: set[tuple[str, str]] = set()
        self._detections: list[Detection] = []
        self._rejections: list[tuple[str, str, str]] = []

    # -- owned state ----------------------------------------------------------------------
    def session(self, symbol: str) -> OnlineSession:
        """The symbol's session: in memory, else restored from the store, else a new one
        with the default configuration (registered in the store at once)."""
        session = self.sessions.get(symbol)
        if session is not None:
            return session
        for _ in range(2):
            row = self.store.active_session(symbol)
            if row is not None:
                checkpoint = self.store.get(row.session_id)
                session = (
                    OnlineSession.from_checkpoint(checkpoint)
                    if checkpoint is not None
                    else OnlineSession(
                        symbol, row.config, session_id=row.session_id, created_at=row.created_at
                    )
                )
                break
            session = OnlineSession(symbol, self.default_config)
            try:
                self.store.create_session(
                    session.session_id, symbol, session.config, session.created_at
                )
                break
            except SessionExistsError:  # another process started one a moment ago
                continue
        self.sessions[symbol] = session
        return session

    def adopt(self, session: OnlineSession) -> None:
        """Own a session the caller registered and checkpointed (``start_session``)."""
        self.sessions[session.symbol] = session

    def watch(self, model_id: str, symbol: str) -> DriftWatch:
        key = (model_id, symbol)
        watch = self.watches.get(key)
        if watch is None:
            state = self.drift.watch_state(model_id, symbol)
            if state is not None:
                watch = DriftWatch.from_state(state)
            else:
                watch = DriftWatch(model_id, symbol, **self.watch_options)
            self.watches[key] = watch
        return watch

    # -- learning -------------------------------------------------------------------------
    def reject(self, source: str, reason: str, detail: str) -> None:
        """Count an invalid outcome (recorded with the next commit)."""
        self._rejections.append((source, reason, detail))

    def learn(
        self,
        outcomes: Sequence[TradeOutcome],
        *,
        source: str,
        input_key: str | None = None,
        now: datetime | None = None,
    ) -> list[IngestResult]:
        """Learn each outcome whose ``trade_id`` is new; results in the order of ``outcomes``.

        An outcome whose features are not its session's is rejected (``wrong_features``).
        Raises :class:`~online_learning.metrics_store.StoreError` from a store read, before
        anything changed.
        """
        now = now or datetime.now(UTC)
        fresh = [o.trade_id for o in outcomes if o.trade_id not in self._pending]
        seen = self.store.processed_trade_ids(fresh) if fresh else set()
        # Every read of the store comes before the first change: a store that fails or
        # refuses a value here leaves the learner as it was, so that the same outcomes can be
        # learned later (after an outage) or one by one (to find the one the store refuses).
        for outcome in outcomes:
            if outcome.trade_id not in seen and outcome.trade_id not in self._pending:
                self.session(outcome.symbol)
                key = (outcome.model_id or ONLINE_MODEL_ID, outcome.symbol)
                if key not in self.watches:
                    self.watch(*key)
        results: list[IngestResult] = []
        for outcome in outcomes:
            trade_id = outcome.trade_id
            if trade_id in self._pending or trade_id in seen:
                results.append(IngestResult(trade_id, "duplicate"))
                continue
            symbol = outcome.symbol
            session = self.session(symbol)
            if outcome.features.keys() != session.feature_set:
                detail = (
                    f"session {session.session_id} of {symbol} reads "
                    f"{sorted(session.feature_set)[:20]}"
                )
                self.reject(source, "wrong_features", detail)
                results.append(IngestResult(trade_id, "rejected", "wrong_features", detail))
                continue
            session.learn(outcome, checked=True, now=now)
            model_id = outcome.model_id or ONLINE_MODEL_ID
            key = (model_id, symbol)
            watch = self.watches.get(key) or self.watch(model_id, symbol)
            detection = watch.update(outcome, now=now)
            if detection is not None:
                session.last_drift_at = detection.detected_at
                self._detections.append(detection)
            self._pending[trade_id] = ProcessedTrade(
                trade_id, symbol, outcome.model_id, session.session_id, source
            )
            self._ledger[trade_id] = LedgerTrade.from_outcome(outcome)
            self._dirty_sessions.add(symbol)
            self._dirty_watches.add(key)
            if input_key is not None:
                self._inputs[symbol] = input_key
            results.append(IngestResult(trade_id, "accepted"))
        return results

    # -- recording ------------------------------------------------------------------------
    def drain(self, positions: Mapping[str, int] | None = None) -> FeedbackCommit:
        """Everything changed since the last :meth:`committed`, as one commit.

        ``positions`` maps input keys (``"topic/partition"``) to the next offset to read;
        each session checkpoint carries the position of the partition its symbol comes from.
        Nothing is cleared until :meth:`committed`: a failed write is retried with the next
        drain, which includes this one.
        """
        positions = dict(positions or {})
        now = datetime.now(UTC)
        checkpoints = []
        for symbol in sorted(self._dirty_sessions):
            key = self._inputs.get(symbol)
            inputs = {key: positions[key]} if key in positions else {}
            checkpoints.append(self.sessions[symbol].checkpoint(inputs, now=now))
        return FeedbackCommit(
            checkpoints=checkpoints,
            trades=list(self._pending.values()),
            ledger=list(self._ledger.values()),
            watches=[self.watches[k].to_state(now=now) for k in sorted(self._dirty_watches)],
            drifts=[d.to_record() for d in self._detections],
            rejections=list(self._rejections),
        )

    def committed(self) -> None:
        """The last drain was written: start collecting the next one."""
        self._pending.clear()
        self._ledger.clear()
        self._dirty_sessions.clear()
        self._dirty_watches.clear()
        self._detections.clear()
        self._rejections.clear()

    def forget(self, symbols: Sequence[str] | None = None) -> None:
        """Drop owned state (all, or of ``symbols``) and what it learned since the last commit,
        without recording it: after a write that must not be retried, or once partitions were
        handed over. The next outcome of such a symbol reloads it from the store."""
        if symbols is None:
            self.sessions.clear()
            self.watches.clear()
            self._inputs.clear()
            self.committed()
            return
        dropped = set(symbols)
        for symbol in dropped:
            self.sessions.pop(symbol, None)
            self._inputs.pop(symbol, None)
        for key in [k for k in self.watches if k[1] in dropped]:
            del self.watches[key]
        self._pending = {k: t for k, t in self._pending.items() if t.symbol not in dropped}
        self._ledger = {k: t for k, t in self._ledger.items() if t.symbol not in dropped}
        self._dirty_sessions -= dropped
        self._dirty_watches = {k for k in self._dirty_watches if k[1] not in dropped}
        self._detections = [d for d in self._detections if d.symbol not in dropped]

    def symbols_of(self, input_keys: Sequence[str]) -> list[str]:
        """The owned symbols whose outcomes came from ``input_keys``."""
        wanted = set(input_keys)
        return sorted(s for s, key in self._inputs.items() if key in wanted)

    def snapshots(self) -> list[WatchSnapshot]:
        """A read-only view of every owned drift watch (take it under the owner's lock)."""
        return [watch.snapshot() for watch in self.watches.values()]

    @property
    def has_pending(self) -> bool:
        return bool(self._pending or self._rejections or self._dirty_sessions)
