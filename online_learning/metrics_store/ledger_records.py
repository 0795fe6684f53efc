"""One learned trade as the success metrics read it: what it earned and what made it.

:class:`LedgerTrade` is the one declaration of a row of ``trade_ledger`` (migration 0008): the
feedback path builds it from each trade outcome it learns (:meth:`LedgerTrade.from_outcome`,
in the transaction that records the ``trade_id``), :mod:`.trade_ledger` writes and reads it,
and :mod:`online_learning.success` computes the five metrics from a sequence of them.

What an outcome's ``prediction`` object may say (the client SDK's ``build_outcome`` writes all
of it; an agent posting by hand may send any part): ``p_up`` (served), ``components`` (a list
of ``{"name", "kind", "p_up", "weight"}``, ``kind`` ``batch`` or ``online``),
``rule_position`` (the position the agent's rule alone would have traded: the counterfactual of
the business-impact metric) and ``ml_contribution`` (the ML view's weight in the traded
position). :func:`prediction_problem` says what is wrong with one, for the outcome's parser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "COMPONENT_KINDS",
    "KNOWN_REGIME_FIELD",
    "MAX_COMPONENTS",
    "Component",
    "LedgerTrade",
    "prediction_problem",
]

COMPONENT_KINDS = ("batch", "online")
#: Most components one outcome may list (a prediction has a few specialists and a session).
MAX_COMPONENTS = 32
#: The field (an unknown one to schema version 1, kept in ``extra``) by which a simulator or
#: a replay that knows the true regime labels an outcome; adaptation speed then starts at the
#: change of label.
KNOWN_REGIME_FIELD = "simulated_regime"
_MAX_NAME = 100


class Component(NamedTuple):
    """What one model of the prediction said: its ``p_up`` and its weight in the served one."""

    kind: str
    p_up: float
    weight: float


_NO_COMPONENTS: Mapping[str, Component] = MappingProxyType({})


class LedgerTrade(NamedTuple):
    """One learned trade (see the module docstring), its fields in the table's column order.

    ``pnl`` is what the trade earned (the outcome's, ``position * realized_return`` by
    default); ``rule_position`` is None when the agent did not record its counterfactual;
    ``components`` maps a component's name to what it said.

    A named tuple, not a dataclass: the feedback path builds one per learned trade, tens of
    thousands a second, and a frozen dataclass took three times as long to build.
    """

    trade_id: str
    symbol: str
    model_id: str | None
    traded_at: datetime
    realized_return: float
    pnl: float
    position: float | None = None
    prediction_id: str | None = None
    p_up: float | None = None
    rule_position: float | None = None
    ml_contribution: float | None = None
    components: Mapping[str, Component] = _NO_COMPONENTS
    known_regime: str | None = None

    @property
    def rule_pnl(self) -> float | None:
        """What the rule alone would have earned on this trade (None: not recorded)."""
        if self.rule_position is None:
            return None
        return self.rule_position * self.realized_return

    def component_pnl(self, name: str) -> float | None:
        """``(2 * p_up - 1) * realized_return`` of component ``name`` (the execution rule)."""
        component = self.components.get(name)
        if component is None:
            return None
        return (2.0 * component.p_up - 1.0) * self.realized_return

    @classmethod
    def from_outcome(cls, outcome: Any) -> LedgerTrade:
        """The ledger row of a validated
        :class:`~online_learning.feedback.trade_outcome.TradeOutcome`.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> from types import SimpleNamespace
        >>> o = SimpleNamespace(trade_id="t-1", symbol="AAA", model_id="bull",
        ...     timestamp=datetime(2026, 1, 5, tzinfo=UTC), realized_return=0.01, pnl=0.004,
        ...     position=0.4, prediction_id="p-1", extra={"simulated_regime": "bull"},
        ...     prediction={"p_up": 0.7, "rule_position": -0.2, "ml_contribution": 0.4,
        ...                 "components": [{"name": "bull", "kind": "batch", "p_up": 0.7,
        ...                                 "weight": 1.0}]})
        >>> t = LedgerTrade.from_outcome(o)
        >>> t.rule_pnl, round(t.component_pnl("bull"), 4), t.known_regime
        (-0.002, 0.004, 'bull')
        """
        extra = outcome.extra
        regime = extra.get(KNOWN_REGIME_FIELD) if extra else None
        regime = regime[:40] if isinstance(regime, str) else None
        prediction = outcome.prediction
        if not prediction:  # the common case of a feed that reports trades alone: no lookups
            return cls(outcome.trade_id, outcome.symbol, outcome.model_id, outcome.timestamp,
                       outcome.realized_return, outcome.pnl, outcome.position,
                       outcome.prediction_id, known_regime=regime)  # fmt: skip
        components: dict[str, Component] = {}
        for c in prediction.get("components") or ():
            weight = c.get("weight")
            components.setdefault(
                str(c["name"]),
                Component(str(c["kind"]), float(c["p_up"]), 0.0 if weight is None else weight),
            )
        return cls(
            outcome.trade_id, outcome.symbol, outcome.model_id, outcome.timestamp,
            outcome.realized_return, outcome.pnl, outcome.position, outcome.prediction_id,
            _number(prediction.get("p_up")), _number(prediction.get("rule_position")),
            _number(prediction.get("ml_contribution")), components or _NO_COMPONENTS, regime,
        )  # fmt: skip

    def components_document(self) -> dict[str, dict[str, Any]] | None:
        """``components`` as stored (a JSON object), None when there are none."""
        if not self.components:
            return None
        return {
            name: {"kind": c.kind, "p_up": c.p_up, "weight": c.weight}
            for name, c in self.components.items()
        }

    @staticmethod
    def components_from(document: Mapping[str, Any] | None) -> dict[str, Component]:
        """The inverse of :meth:`components_document`."""
        return {
            name: Component(str(c["kind"]), float(c["p_up"]), float(c.get("weight", 0.0)))
            for name, c in (document or {}).items()
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def prediction_problem(prediction: Mapping[str, Any], *, max_magnitude: float = 1e15) -> str | None:
    """What is wrong with the parts of an outcome's ``prediction`` the metrics read, or None.

    A part that is absent or null is not checked (nor used); a component name listed twice
    counts once (its first listing).

    Examples
    --------
    >>> prediction_problem({"p_up": 0.6, "rule_position": 0.3, "ml_contribution": 0.4,
    ...     "components": [{"name": "bull", "kind": "batch", "p_up": 0.6, "weight": 1}]})
    >>> prediction_problem({"p_up": 1.5})
    'prediction.p_up must be a number in [0, 1], got 1.5'
    >>> prediction_problem({"components": [{"name": "bull", "kind": "tree", "p_up": 0.5}]})
    "prediction.components[0].kind must be one of ['batch', 'online'], got 'tree'"
    """
    for key in ("p_up", "ml_contribution"):
        if prediction.get(key) is not None and not _probability(prediction[key]):
            return f"prediction.{key} must be a number in [0, 1], got {prediction[key]!r}"
    rule = prediction.get("rule_position")
    if rule is not None and not (_finite(rule) and abs(rule) <= max_magnitude):
        return f"prediction.rule_position must be a number of at most {max_magnitude:g} in size"
    if prediction.get("components") is None:
        return None
    components = prediction["components"]
    if not isinstance(components, list) or len(components) > MAX_COMPONENTS:
        return f"prediction.components must be a list of at most {MAX_COMPONENTS} objects"
    for i, c in enumerate(components):
        where = f"prediction.components[{i}]"
        if not isinstance(c, Mapping):
            return f"{where} must be an object"
        name = c.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME:
            return f"{where}.name must be a text of 1-{_MAX_NAME} characters"
        if c.get("kind") not in COMPONENT_KINDS:
            return f"{where}.kind must be one of {list(COMPONENT_KINDS)}, got {c.get('kind')!r}"
        if not _probability(c.get("p_up")):
            return f"{where}.p_up must be a number in [0, 1], got {c.get('p_up')!r}"
        if c.get("weight") is not None and not (_finite(c["weight"]) and c["weight"] >= 0):
            return f"{where}.weight must be a finite number >= 0, got {c['weight']!r}"
    return None


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _probability(value: Any) -> bool:
    return _finite(value) and 0.0 <= value <= 1.0
