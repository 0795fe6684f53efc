"""Online learning sessions: one River model per symbol, learning from realised trades.

A session predicts ``p_up``, the probability that the symbol's next realised return is
positive, from one row of features, and learns the direction of ``realized_return`` from each
:class:`~online_learning.feedback.trade_outcome.TradeOutcome` (prequentially: the outcome is
scored with the prediction made before learning it). River models are not thread-safe: one
writer learns, readers predict with their own copy (:meth:`OnlineSession.copy` or a
:class:`SessionCheckpoint`).
"""

from __future__ import annotations

import math
import pickle
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from online_learning.errors import InvalidTradeOutcome
from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.session_metrics import RollingScore, SessionMetrics
from online_learning.feedback.trade_outcome import TradeOutcome

__all__ = ["InvalidFeatures", "OnlineSession", "SessionCheckpoint"]

#: Version of the pickled state layout inside a checkpoint.
STATE_VERSION = 1


class InvalidFeatures(InvalidTradeOutcome):
    """Features that do not match the session's ``feature_names`` (reason ``wrong_features``)
    or are not finite numbers (``non_finite``, ``invalid_field``)."""


@dataclass(frozen=True)
class SessionCheckpoint:
    """A session's whole state at one point of its input, as stored for readers and restarts.

    ``input_positions`` says which input the state includes, e.g. ``{"trade-outcomes/0":
    1234}`` (the next Kafka offset to read of each partition); ``created_at`` is when the
    checkpoint was written, ``session_created_at`` when the session started. ``state`` is a
    pickle: load checkpoints only from a store you trust.
    """

    session_id: str
    symbol: str
    config: SessionConfig
    state: bytes
    input_positions: Mapping[str, int]
    samples_seen: int
    created_at: datetime
    session_created_at: datetime
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since the checkpoint was written."""
        return max(((now or datetime.now(UTC)) - self.created_at).total_seconds(), 0.0)


def new_session_id() -> str:
    return f"s-{uuid.uuid4().hex[:20]}"


class OnlineSession:
    """One River classifier for one symbol, with its prequential metrics.

    Parameters
    ----------
    symbol : str
    config : SessionConfig, optional
        Model type, hyperparameters and features; the default is a scaled logistic regression
        on the platform's ``FEATURE_COLUMNS``.
    session_id : str, optional
        A new random id when omitted.
    created_at : datetime, optional
        Aware; now when omitted.

    Examples
    --------
    >>> import random
    >>> from datetime import UTC, datetime
    >>> from online_learning.feedback.trade_outcome import TradeOutcome
    >>> rng = random.Random(0)
    >>> session = OnlineSession("AAA", SessionConfig(feature_names=("signal",)))
    >>> for i in range(300):
    ...     signal = rng.gauss(0, 1)
    ...     move = 0.01 * signal + rng.gauss(0, 0.002)
    ...     _ = session.learn(TradeOutcome(f"t-{i}", "AAA", datetime.now(UTC),
    ...                                {"signal": signal}, move, pnl=move))
    >>> round(session.predict_proba_one({"signal": 1.0}), 2)
    0.7
    >>> m = session.metrics()
    >>> m.samples_seen, m.rolling_accuracy > 0.8
    (300, True)
    """

    def __init__(
        self,
        symbol: str,
        config: SessionConfig | None = None,
        *,
        session_id: str | None = None,
        created_at: datetime | None = None,
    ) -> None:
        self.symbol = symbol
        self.config = config or SessionConfig()
        self.session_id = session_id or new_session_id()
        self.created_at = created_at or datetime.now(UTC)
        self.updated_at = self.created_at
        self.last_drift_at: datetime | None = None
        self.samples_seen = 0
        self.feature_set = frozenset(self.config.feature_names)
        self._model = self.config.build_model()
        self._score = RollingScore(self.config.metrics_window)

    def __repr__(self) -> str:
        return (
            f"OnlineSession({self.symbol!r}, model_type={self.config.model_type!r}, "
            f"session_id={self.session_id!r}, samples_seen={self.samples_seen})"
        )

    def check_features(self, features: Mapping[str, float]) -> None:
        """Raise :class:`InvalidFeatures` unless ``features`` has exactly the session's names,
        each a finite number."""
        if not isinstance(features, Mapping):
            raise InvalidFeatures("invalid_field", "features must be an object")
        if features.keys() != self.feature_set:
            missing = sorted(self.feature_set - features.keys())
            unexpected = sorted(map(str, features.keys() - self.feature_set))[:20]
            raise InvalidFeatures(
                "wrong_features",
                f"session {self.session_id} of {self.symbol} reads {len(self.feature_set)} "
                f"features: missing {missing}, unexpected {unexpected}",
            )
        for name, value in features.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidFeatures("invalid_field", f"feature {name!r} must be a number")
            if not math.isfinite(value):
                raise InvalidFeatures("non_finite", f"feature {name!r} must be finite")

    def _p_up(self, features: Mapping[str, float]) -> float:
        proba = self._model.predict_proba_one(features)
        if not proba:  # a tree that has seen nothing yet
            return 0.5
        p = float(proba.get(True, 0.0))
        return min(max(p, 0.0), 1.0)

    def predict_proba_one(self, features: Mapping[str, float]) -> float:
        """Probability in [0, 1] that the realised return is positive; 0.5 before learning.

        Raises :class:`InvalidFeatures` for features other than the session's.
        """
        self.check_features(features)
        return self._p_up(features)

    def learn(
        self, outcome: TradeOutcome, *, checked: bool = False, now: datetime | None = None
    ) -> float:
        """Score the prediction for ``outcome``, then learn its direction.

        ``checked=True`` skips the feature check (the caller already made it); ``now`` is
        the learning time (read from the clock when omitted). Returns the ``p_up`` predicted
        before learning.
        """
        features = outcome.features
        if not checked:
            self.check_features(features)
        p_up = self._p_up(features)
        went_up = outcome.realized_return > 0
        self._score.update(p_up, went_up, outcome.pnl)
        self._model.learn_one(features, went_up)
        self.samples_seen += 1
        self.updated_at = now or datetime.now(UTC)
        return p_up

    def rolling_pnl_mean(self) -> float | None:
        """Mean realised pnl per outcome over the metrics window (None before any outcome)."""
        return self._score.pnl_mean()

    def metrics(self, now: datetime | None = None) -> SessionMetrics:
        """The session's metrics now."""
        now = now or datetime.now(UTC)
        score = self._score
        return SessionMetrics(
            session_id=self.session_id,
            symbol=self.symbol,
            model_type=self.config.model_type,
            samples_seen=self.samples_seen,
            rolling_accuracy=score.accuracy(),
            rolling_log_loss=score.log_loss(),
            realized_pnl=score.realized_pnl,
            rolling_sharpe=score.sharpe(),
            last_drift_at=self.last_drift_at,
            model_age_s=max((now - self.created_at).total_seconds(), 0.0),
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    # -- state --------------------------------------------------------------------------
    def _state(self) -> bytes:
        return pickle.dumps(
            {
                "version": STATE_VERSION,
                "model": self._model,
                "score": self._score,
                "samples_seen": self.samples_seen,
                "updated_at": self.updated_at,
                "last_drift_at": self.last_drift_at,
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def checkpoint(
        self, input_positions: Mapping[str, int] | None = None, *, now: datetime | None = None
    ) -> SessionCheckpoint:
        """The session's state, including the input described by ``input_positions``."""
        now = now or datetime.now(UTC)
        return SessionCheckpoint(
            session_id=self.session_id,
            symbol=self.symbol,
            config=self.config,
            state=self._state(),
            input_positions=dict(input_positions or {}),
            samples_seen=self.samples_seen,
            created_at=now,
            session_created_at=self.created_at,
            metrics=self.metrics(now).to_dict(),
        )

    @classmethod
    def from_checkpoint(cls, checkpoint: SessionCheckpoint) -> OnlineSession:
        """The session exactly as it was checkpointed: same predictions, same metrics."""
        state = pickle.loads(checkpoint.state)
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(
                f"checkpoint of session {checkpoint.session_id} has an unknown state layout"
            )
        session = cls(
            checkpoint.symbol,
            checkpoint.config,
            session_id=checkpoint.session_id,
            created_at=checkpoint.session_created_at,
        )
        session._model = state["model"]
        session._score = state["score"]
        session.samples_seen = state["samples_seen"]
        session.updated_at = state["updated_at"]
        session.last_drift_at = state["last_drift_at"]
        return session

    def copy(self) -> OnlineSession:
        """An independent copy for a reader (predicting with it never races the writer)."""
        return OnlineSession.from_checkpoint(self.checkpoint())
