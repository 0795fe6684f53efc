"""From a prediction to an order, and from the trade's result back to a trade outcome.

An agent usually has a rule of its own (momentum, mean reversion, a risk model's view) and
asks the platform for the ML view. :class:`SignalCombiner` blends them:

* the ML position is the prediction's ``position``, the platform's rule ``2 * p_up - 1``;
* the ML view counts only when the prediction's ``confidence`` (``max(p_up, 1 - p_up)``)
  reaches ``min_confidence``; below it the agent trades its rule alone (or stays flat);
* with both, the position is ``rule_weight * rule + ml_weight * ml`` (0.6 / 0.4 by default,
  normalised to sum to one); without a rule signal the ML view has all the weight;
* the result is clipped to ``[-max_position, max_position]``.

The :class:`Signal` keeps the prediction, its features and the ML weight it got, so that once
the trade is settled :func:`build_outcome` turns it into a trade outcome (schema version 1)
that credits the model that made the prediction: one ``post_outcomes`` call feeds it back.
The outcome also records each component's ``p_up`` and the position the rule alone would have
traded (``rule_position``), from which the platform's success metrics score online against
batch and the P&L the ML view added (``GET /api/v1/metrics/summary``). It
is checked against the API's declaration of a trade outcome
(:class:`online_learning_client.models.TradeOutcome`) before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from online_learning_client.models import Prediction, TradeOutcome

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "Signal",
    "SignalCombiner",
    "build_outcome",
]

#: A prediction counts from p_up >= 0.55 (or <= 0.45): the specialists rarely stray further
#: from 0.5 on daily data, and a weaker view mostly adds turnover.
DEFAULT_MIN_CONFIDENCE = 0.55


class _Default:
    """Marks an argument left out (None is a value: "no model")."""


_DEFAULT = _Default()


def _finite(value: Any, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class Signal:
    """An order's target position and where it came from.

    Attributes
    ----------
    position : float
        Target position in ``[-max_position, max_position]`` (1 = the whole book long).
    ml_position : float
        ``2 * p_up - 1``, what the prediction alone would trade.
    ml_contribution : float
        The weight the ML view had in ``position`` (0 below the confidence threshold).
    rule_signal : float or None
        The agent's own signal in ``[-1, 1]``, if it had one.
    rule_position : float
        What the rule alone would have traded (clipped like ``position``; 0 without a rule
        signal): the counterfactual by which the platform measures what the ML view added.
    model_id : str or None
        The model an outcome of this trade credits: the batch component with the largest
        weight when the ML view was used, else None (the symbol's online session).
    """

    symbol: str
    position: float
    ml_position: float
    ml_contribution: float
    rule_signal: float | None
    prediction: Prediction
    features: Mapping[str, float] | None
    model_id: str | None
    rule_position: float = 0.0

    @property
    def uses_ml(self) -> bool:
        return self.ml_contribution > 0

    def outcome(self, realized_return: float, **options: Any) -> dict[str, Any]:
        """:func:`build_outcome` of this signal."""
        return build_outcome(self, realized_return=realized_return, **options)


class SignalCombiner:
    """Blend an agent's rule-based signal with the platform's prediction.

    Parameters
    ----------
    rule_weight, ml_weight : float
        Weights of the rule signal and of the ML position when both count (normalised).
    min_confidence : float
        Smallest ``confidence`` (``max(p_up, 1 - p_up)``, in ``[0.5, 1]``) at which the ML
        view counts.
    max_position : float
        Largest absolute position.

    Examples
    --------
    >>> from online_learning_client import Prediction
    >>> p = Prediction.model_validate({"prediction_id": "p-1", "symbol": "AAA", "p_up": 0.7,
    ...     "direction": "up", "confidence": 0.7, "position": 0.4, "strategy": "ensemble",
    ...     "regime": None, "session": None, "served_at": "2026-01-05T21:00:00Z",
    ...     "features": {"ret_1": 0.01}, "components": [{"name": "bull_specialist",
    ...     "kind": "batch", "version": "3", "weight": 1.0, "p_up": 0.7}]})
    >>> s = SignalCombiner().combine(p, rule_signal=-0.5)
    >>> round(s.position, 2), s.ml_contribution, s.model_id      # 0.6 * -0.5 + 0.4 * 0.4
    (-0.14, 0.4, 'bull_specialist')
    >>> SignalCombiner(min_confidence=0.8).combine(p, rule_signal=-0.5).position
    -0.5
    """

    def __init__(
        self,
        *,
        rule_weight: float = 0.6,
        ml_weight: float = 0.4,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        max_position: float = 1.0,
    ) -> None:
        for name, value in (("rule_weight", rule_weight), ("ml_weight", ml_weight)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if rule_weight + ml_weight <= 0:
            raise ValueError("rule_weight + ml_weight must be > 0")
        if not 0.5 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0.5, 1], got {min_confidence!r}")
        if not (math.isfinite(max_position) and max_position > 0):
            raise ValueError(f"max_position must be finite and > 0, got {max_position!r}")
        self.rule_weight = rule_weight
        self.ml_weight = ml_weight
        self.min_confidence = min_confidence
        self.max_position = max_position

    def combine(
        self,
        prediction: Prediction | Mapping[str, Any],
        *,
        rule_signal: float | None = None,
        features: Mapping[str, float] | None = None,
    ) -> Signal:
        """The signal for ``prediction`` (a :class:`Prediction` or its JSON, e.g. a stream
        frame) and the agent's ``rule_signal`` in ``[-1, 1]`` (None: ML only).
        ``features`` override the ones the prediction carries."""
        if not isinstance(prediction, Prediction):
            prediction = Prediction.model_validate(prediction)
        ml_position = float(prediction.position)
        rule = None
        if rule_signal is not None:
            rule = _finite(rule_signal, "rule_signal")
            if not -1.0 <= rule <= 1.0:
                raise ValueError(f"rule_signal must be in [-1, 1], got {rule_signal!r}")
        confident = prediction.confidence >= self.min_confidence
        if not confident:
            weight, raw = 0.0, rule or 0.0
        elif rule is None or self.rule_weight == 0:
            weight, raw = 1.0, ml_position
        else:
            weight = self.ml_weight / (self.rule_weight + self.ml_weight)
            raw = (1.0 - weight) * rule + weight * ml_position
        position = max(-self.max_position, min(self.max_position, raw))
        return Signal(
            symbol=prediction.symbol,
            position=position,
            ml_position=ml_position,
            ml_contribution=weight,
            rule_signal=rule,
            prediction=prediction,
            features=dict(features) if features is not None else prediction.features,
            model_id=prediction.batch_model_id if weight > 0 else None,
            rule_position=max(-self.max_position, min(self.max_position, rule or 0.0)),
        )


def build_outcome(
    source: Signal | Prediction,
    *,
    realized_return: float,
    position: float | None = None,
    pnl: float | None = None,
    trade_id: str | None = None,
    timestamp: datetime | str | None = None,
    features: Mapping[str, float] | None = None,
    model_id: str | _Default | None = _DEFAULT,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A trade outcome (schema version 1) of a settled trade, validated as the platform will.

    Parameters
    ----------
    source : Signal or Prediction
        What was traded. A bare prediction is traded at its own ``position``.
    realized_return : float
        The return the position earned (the platform learns its sign).
    position, pnl : float, optional
        Override the traded position; ``pnl`` defaults to ``position * realized_return``
        (pass your own to include costs).
    trade_id : str, optional
        Default ``t-<prediction_id>``: one trade per prediction, so posting it twice is a
        ``duplicate``, never learned twice.
    timestamp : datetime or str, optional
        Settlement time (aware), default now.
    features : mapping, optional
        Default: the features the prediction was made from (required one way or the other).
    model_id : str or None, optional
        Default: the signal's model (see :class:`Signal`), or a prediction's largest batch
        component.
    extra : mapping, optional
        More fields (kept by the platform and written back).

    Raises
    ------
    ValueError
        Without features, or when the outcome breaks the API's declaration of one (the
        field is named). The platform checks more on arrival: the feature names of the model
        credited, that the model exists.
    """
    if isinstance(source, Signal):
        prediction, traded = source.prediction, source.position
        chosen_model, known_features = source.model_id, source.features
        decision = {
            "ml_contribution": source.ml_contribution,
            "rule_signal": source.rule_signal,
            "rule_position": source.rule_position,
        }
    else:
        prediction, traded = source, source.position
        chosen_model, known_features = source.batch_model_id, source.features
        decision = {"ml_contribution": 1.0}
    features = features if features is not None else known_features
    if not features:
        raise ValueError(
            "a trade outcome needs the features the prediction was made from: pass features="
        )
    traded = _finite(position if position is not None else traded, "position")
    realized = _finite(realized_return, "realized_return")
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        timestamp = timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    outcome: dict[str, Any] = dict(extra or {})
    outcome.update(
        schema_version=1,
        trade_id=trade_id or f"t-{prediction.prediction_id}",
        symbol=prediction.symbol,
        timestamp=timestamp or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        model_id=chosen_model if isinstance(model_id, _Default) else model_id,
        prediction_id=prediction.prediction_id,
        features={str(k): float(v) for k, v in features.items()},
        prediction={
            "p_up": prediction.p_up,
            "confidence": prediction.confidence,
            "strategy": prediction.strategy,
            "versions": prediction.versions(),
            "components": [
                {"name": c.name, "kind": c.kind, "p_up": c.p_up, "weight": c.weight}
                for c in prediction.components
            ],
            **decision,
        },
        position=traded,
        realized_return=realized,
        pnl=_finite(pnl, "pnl") if pnl is not None else traded * realized,
    )
    # The API's declaration: an outcome it refuses fails here, before any trade is reported
    # (feature names and model ids are checked by the server, which knows them).
    try:
        TradeOutcome.model_validate(outcome)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'outcome'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"the platform would reject this trade outcome: {problems}") from None
    return outcome
