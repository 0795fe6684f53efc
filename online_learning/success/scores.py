"""Online against batch on the same trades, and what the ML view added to an agent's rule.

**Online vs batch** (:func:`component_scores`). On the trades whose prediction had both a batch
and an online component, each kind (and each batch component on its own) is scored on the
trade's realised return: the batch view's ``p_up`` is the weight-weighted mean of the batch
components' (their plain mean when their weights are all 0, as when the online session served
alone), the online view's is the session's, the served one is what the agent got. Per kind:
**hit rate** (``p_up > 0.5`` and the return ``> 0``, or neither), **log-loss** (of the up/down
event, ``p`` clipped to ``[1e-6, 1 - 1e-6]``) and **P&L** (the execution rule: ``(2 * p_up - 1)
* realized_return`` summed). Per symbol and over all symbols (``symbol`` ``"*"``).

**Business impact** (:func:`business_impact`). On the trades whose agent recorded what its rule
alone would have traded (``rule_position``, the SDK's counterfactual): the blended P&L (what the
trades earned), the rules-only P&L (``rule_position * realized_return``) and their difference,
**the P&L the ML view added**, with a percentile interval from a stationary block bootstrap of
the per-trade differences in time order (blocks keep a day's trades and neighbouring days
together; beyond 2,000 trades, of 2,000 groups of consecutive trades, each its mean times the
trades per group). Per symbol and over all symbols.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from online_learning.metrics_store.ledger_records import LedgerTrade
from online_learning.stats import block_bootstrap_indices

__all__ = [
    "ALL_SYMBOLS",
    "WHOLE_VIEW",
    "BusinessImpact",
    "ComponentScore",
    "PnlPoint",
    "business_impact",
    "component_scores",
    "pnl_curve",
]

#: The ``symbol`` of a figure over every symbol.
ALL_SYMBOLS = "*"
_EPS = 1e-6
#: Most units the business impact's bootstrap resamples: beyond, consecutive trades are summed
#: into this many groups first (a summary of 200,000 trades took 6.7 s to resample one by one).
MAX_UNITS = 2_000


#: The ``component`` of a kind's whole view (the batch mix, the session, what was served).
WHOLE_VIEW = "*"


@dataclass(frozen=True)
class ComponentScore:
    """How a view did on ``n_trades`` trades of ``symbol`` that had both a batch and an online
    component: ``kind`` ``batch``, ``online`` or ``served``; ``component`` ``"*"`` for the
    kind's whole view, else one batch component's name (scored on those of the trades that
    list it)."""

    symbol: str
    kind: str
    component: str
    n_trades: int
    hit_rate: float
    log_loss: float
    pnl: float


@dataclass(frozen=True)
class BusinessImpact:
    """Blended against rules-only P&L on the ``n_trades`` trades of ``symbol`` that recorded
    a rule-only position; ``ml_added_low``/``high`` bound ``ml_added_pnl`` at ``confidence``
    (None with fewer than two trades)."""

    symbol: str
    n_trades: int
    blended_pnl: float
    rules_pnl: float
    ml_added_pnl: float
    ml_added_low: float | None
    ml_added_high: float | None
    confidence: float


@dataclass(frozen=True)
class PnlPoint:
    """The blended and the rules-only P&L summed over every symbol's trades up to
    ``traded_at`` (``trades`` of them), for a chart of the two curves."""

    traded_at: datetime
    trades: int
    blended_pnl: float
    rules_pnl: float


def _views(trade: LedgerTrade) -> dict[tuple[str, str], float] | None:
    batch = {n: c for n, c in trade.components.items() if c.kind == "batch"}
    online = [c for c in trade.components.values() if c.kind == "online"]
    if not batch or not online:
        return None
    weight = math.fsum(c.weight for c in batch.values())
    if weight > 0:
        batch_p = math.fsum(c.p_up * c.weight for c in batch.values()) / weight
    else:
        batch_p = math.fsum(c.p_up for c in batch.values()) / len(batch)
    views = {("batch", WHOLE_VIEW): batch_p, ("online", WHOLE_VIEW): online[0].p_up}
    if trade.p_up is not None:
        views["served", WHOLE_VIEW] = trade.p_up
    for name, component in batch.items():
        views["batch", name] = component.p_up
    return views


def _score(
    symbol: str, kind: str, component: str, pairs: Sequence[tuple[float, float]]
) -> ComponentScore:
    p, realized = np.asarray(pairs, dtype=np.float64).T
    up = realized > 0
    q = np.clip(p, _EPS, 1.0 - _EPS)
    hit_rate = float(np.mean((p > 0.5) == up))
    log_loss = float(-np.mean(np.log(np.where(up, q, 1.0 - q))))
    pnl = float(np.sum((2.0 * p - 1.0) * realized))
    return ComponentScore(symbol, kind, component, len(p), hit_rate, log_loss, pnl)


def component_scores(trades: Iterable[LedgerTrade]) -> list[ComponentScore]:
    """Hit rate, log-loss and P&L of the batch, online and served views on the same trades,
    and of each batch component.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from online_learning.metrics_store.ledger_records import Component
    >>> t = datetime(2026, 1, 5, tzinfo=UTC)
    >>> def trade(i, batch, online, r):
    ...     return LedgerTrade(f"t-{i}", "AAA", "bull", t, r, 0.0, p_up=batch,
    ...         components={"bull": Component("batch", batch, 1.0),
    ...                     "online_session": Component("online", online, 0.0)})
    >>> scores = component_scores([trade(0, 0.8, 0.4, 0.01), trade(1, 0.6, 0.3, -0.02)])
    >>> [(s.kind, s.component, s.hit_rate, round(s.pnl, 4)) for s in scores if s.symbol == "*"]
    [('batch', '*', 0.5, 0.002), ('online', '*', 0.5, 0.006), ('served', '*', 0.5, 0.002), \
('batch', 'bull', 0.5, 0.002)]
    """
    pairs: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for trade in trades:
        views = _views(trade)
        if views is None:
            continue
        for (kind, component), p in views.items():
            for symbol in (trade.symbol, ALL_SYMBOLS):
                pairs.setdefault((symbol, kind, component), []).append((p, trade.realized_return))
    order = {"batch": 0, "online": 1, "served": 2}
    keys = sorted(pairs, key=lambda k: (k[0] != ALL_SYMBOLS, k[0], k[2] != WHOLE_VIEW,
                                        order[k[1]], k[2]))  # fmt: skip
    return [_score(*key, pairs[key]) for key in keys]


def _units(values: np.ndarray) -> np.ndarray:
    """``values`` as at most :data:`MAX_UNITS` units whose sum is theirs: each value alone
    when there are fewer, else the means of consecutive groups (of 2 and 3 values, say)
    scaled by ``len(values) / MAX_UNITS``, so that groups of unequal size weigh alike."""
    if len(values) <= MAX_UNITS:
        return values
    bounds = np.linspace(0, len(values), MAX_UNITS + 1, dtype=np.int64)
    means = np.add.reduceat(values, bounds[:-1]) / np.diff(bounds)
    return means * (len(values) / MAX_UNITS)


def business_impact(
    trades: Iterable[LedgerTrade],
    *,
    confidence: float = 0.95,
    n_boot: int = 1000,
    mean_block: float = 10.0,
    seed: int = 0,
) -> list[BusinessImpact]:
    """Blended against rules-only P&L, over all symbols first, then per symbol.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 5, tzinfo=UTC)
    >>> trades = [LedgerTrade(f"t-{i}", "AAA", None, t + timedelta(days=i), r, 0.5 * r,
    ...                       position=0.5, rule_position=0.25)
    ...           for i, r in enumerate([0.01, -0.02, 0.03, 0.01])]
    >>> [impact] = business_impact(trades)[:1]
    >>> impact.symbol, round(impact.blended_pnl, 4), round(impact.rules_pnl, 4)
    ('*', 0.015, 0.0075)
    >>> round(impact.ml_added_pnl, 4), impact.ml_added_low <= 0.0075 <= impact.ml_added_high
    (0.0075, True)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    chosen = sorted(
        (t for t in trades if t.rule_position is not None), key=lambda t: (t.traded_at, t.trade_id)
    )
    groups: dict[str, list[LedgerTrade]] = {ALL_SYMBOLS: chosen} if chosen else {}
    for trade in chosen:
        groups.setdefault(trade.symbol, []).append(trade)
    out = []
    for symbol, group in groups.items():
        blended = np.array([t.pnl for t in group])
        rules = np.array([t.rule_pnl for t in group])
        added = blended - rules
        low = high = None
        if len(added) >= 2:
            units = _units(added)
            paths = block_bootstrap_indices(
                len(units), mean_block=min(mean_block, len(units)), n_boot=n_boot, seed=seed
            )
            totals = np.array([units[index].sum() for index in paths])
            tail = 100 * (1 - confidence) / 2
            low, high = (float(v) for v in np.percentile(totals, [tail, 100 - tail]))
        out.append(
            BusinessImpact(
                symbol,
                len(group),
                float(blended.sum()),
                float(rules.sum()),
                float(added.sum()),
                low,
                high,
                confidence,
            )
        )
    return out


def pnl_curve(trades: Iterable[LedgerTrade], *, max_points: int = 200) -> list[PnlPoint]:
    """The cumulative blended and rules-only P&L of the trades that recorded a rule-only
    position, in time order, at most ``max_points`` points (evenly spaced in trades, the last
    trade always included).

    Examples
    --------
    >>> from datetime import UTC, timedelta
    >>> t = datetime(2026, 1, 5, tzinfo=UTC)
    >>> trades = [LedgerTrade(f"t-{i}", "AAA", None, t + timedelta(days=i), 0.01, 0.005,
    ...                       rule_position=0.25) for i in range(5)]
    >>> [(p.trades, round(p.blended_pnl, 4), round(p.rules_pnl, 4))
    ...  for p in pnl_curve(trades, max_points=2)]
    [(2, 0.01, 0.005), (5, 0.025, 0.0125)]
    """
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points!r}")
    chosen = sorted(
        (t for t in trades if t.rule_position is not None), key=lambda t: (t.traded_at, t.trade_id)
    )
    if not chosen:
        return []
    blended = np.cumsum([t.pnl for t in chosen])
    rules = np.cumsum([t.rule_pnl for t in chosen])
    step = math.ceil(len(chosen) / max_points)
    picks = list(range(len(chosen) - 1, -1, -step))[::-1]
    return [PnlPoint(chosen[i].traded_at, i + 1, float(blended[i]), float(rules[i])) for i in picks]
