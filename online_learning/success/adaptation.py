"""Adaptation speed and learning efficiency: from a change to an adapted model serving and
performing as it did before.

An **episode** starts at each drift that requested an adaptation of a model on a symbol
(``drift_history``; a drift inside the model's cool-down is covered by the adaptation an
earlier one requested). Its trades are the ledger's trades crediting that model on that
symbol, in time order. Times:

* **change**: the first trade of the symbol's newest regime at or before the detecting trade,
  where the trades carry the true regime (a simulator's label); unknown otherwise;
* **detection**: the drift's ``detected_at`` and its detecting trade;
* **promotion**: the first update of the model promoted after the detection
  (``update_history``; the version's own promotion time when the replica serves it);
* **serving**: when this replica loaded that version (the lag on every replica is the maximum
  over replicas: a Prometheus recording rule).

``detection_delay_outcomes`` counts the model's trades on the symbol from the change to the
detecting one, inclusive, and ``detection_delay_s`` is the time between the two trades (the
trades' own clock: an outcome reported late does not lengthen it).

**Learning efficiency**: the model's performance on a trade is the P&L of its own component
(``(2 * p_up - 1) * realized_return``) when the trade lists it, else the trade's P&L; its
**pre-drift level** is the mean over the ``window`` trades before the change (when the change is
unknown: the ``window`` trades before the last ``window`` up to the detection, which the drift
has likely spoiled). The model has **recovered** at the first trade after the promotion at which
the mean of its last ``window`` trades, all after the detection, reaches that level:
``outcomes_to_recover`` counts the trades from the detection to it, ``days_to_recover`` their
distinct trading days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from online_learning.metrics_store.ledger_records import LedgerTrade
from online_learning.success.freshness import ServedChampion

__all__ = ["AdaptationEpisode", "EpisodeStatus", "adaptation_episodes"]

#: ``detected``: no adapted version promoted yet; ``adapted``: promoted, not yet on this
#: replica; ``serving``: this replica serves it; ``recovered``: back to the pre-drift level.
EpisodeStatus = Literal["detected", "adapted", "serving", "recovered"]
#: Fewest trades a pre-drift level is taken from.
MIN_REFERENCE = 10


@dataclass(frozen=True)
class AdaptationEpisode:
    """One drift of a model on a symbol that requested an adaptation, and what followed.

    Times: the regime's change (known only where trades carry the true regime), the
    detection, the first promotion of the model after it, this replica serving that version.
    Delays in seconds, except ``detection_delay_outcomes`` (the model's trades on the symbol
    from the change to the detecting one). ``pre_drift_level`` is the model's mean P&L per
    trade before the change; ``outcomes_to_recover`` and ``days_to_recover`` count the trades
    and trading days from the detection to the first point after the promotion where its
    rolling mean is back at that level (None: not yet).
    """

    drift_id: str
    model_id: str
    symbol: str
    status: EpisodeStatus
    change_at: datetime | None
    detected_at: datetime
    promoted_at: datetime | None
    serving_at: datetime | None
    adapted_version: str | None
    detection_delay_outcomes: int | None
    detection_delay_s: float | None
    adaptation_delay_s: float | None
    serving_delay_s: float | None
    pre_drift_level: float | None
    outcomes_to_recover: int | None
    days_to_recover: int | None


def _performance(series: Sequence[LedgerTrade], model_id: str) -> np.ndarray:
    values = []
    for trade in series:
        own = trade.component_pnl(model_id)
        values.append(trade.pnl if own is None else own)
    return np.asarray(values, dtype=float)


def _detecting_index(series: Sequence[LedgerTrade], drift: Any) -> int | None:
    trade_id = (drift.statistics or {}).get("trade_id")
    for i in range(len(series) - 1, -1, -1):
        if series[i].trade_id == trade_id:
            return i
    earlier = [i for i, t in enumerate(series) if t.traded_at <= drift.detected_at]
    return earlier[-1] if earlier else None


def _change_at(by_symbol: Sequence[LedgerTrade], until: datetime) -> datetime | None:
    change = None
    previous = None
    for trade in by_symbol:
        if trade.traded_at > until:
            break
        if trade.known_regime is None:
            continue
        if previous is not None and trade.known_regime != previous:
            change = trade.traded_at
        previous = trade.known_regime
    return change


def _recovery(
    performance: np.ndarray,
    series: Sequence[LedgerTrade],
    detected: int,
    first_adapted: int,
    reference: float,
    window: int,
) -> tuple[int, int] | None:
    sums = np.concatenate([[0.0], np.cumsum(performance)])
    for k in range(max(first_adapted, detected + window), len(series)):
        if (sums[k + 1] - sums[k + 1 - window]) / window >= reference:
            days = {t.traded_at.date() for t in series[detected + 1 : k + 1]}
            return k - detected, len(days)
    return None


def adaptation_episodes(
    trades: Iterable[LedgerTrade],
    drifts: Iterable[Any],
    updates: Iterable[Any],
    champions: Mapping[str, ServedChampion] | None = None,
    *,
    window: int = 50,
) -> list[AdaptationEpisode]:
    """The episodes of ``drifts`` (records with ``drift_id``, ``model_id``, ``symbol``,
    ``detected_at``, ``statistics``, ``adaptation_requested``), oldest first, with the
    promotions of ``updates`` (records with ``model_id``, ``decision``, ``version``,
    ``started_at``, ``finished_at``) and this replica's ``champions``.

    Examples
    --------
    A momentum model earns 0.01 a trade in a bull market, loses 0.01 once it turns, and earns
    0.012 once adapted; the drift is found 12 trades after the change:

    >>> from datetime import UTC, timedelta
    >>> from types import SimpleNamespace as Record
    >>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
    >>> pnl = [0.01] * 100 + [-0.01] * 30 + [0.012] * 100
    >>> trades = [LedgerTrade(f"t-{i}", "AAA", "bull", t0 + timedelta(hours=i), 1.0, p,
    ...                       known_regime="bull" if i < 100 else "sideways")
    ...           for i, p in enumerate(pnl)]
    >>> drift = Record(drift_id="d-1", model_id="bull", symbol="AAA", statistics={"trade_id":
    ...     "t-111"}, detected_at=t0 + timedelta(hours=111), adaptation_requested=True)
    >>> update = Record(model_id="bull", decision="promoted", version="4",
    ...     started_at=t0 + timedelta(hours=112), finished_at=t0 + timedelta(hours=130))
    >>> [e] = adaptation_episodes(trades, [drift], [update], window=20)
    >>> e.status, e.detection_delay_outcomes, e.adaptation_delay_s, e.adapted_version
    ('recovered', 12, 68400.0, '4')
    >>> e.pre_drift_level, e.outcomes_to_recover, e.days_to_recover
    (0.01, 37, 3)
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window!r}")
    champions = champions or {}
    ordered = sorted(trades, key=lambda t: (t.traded_at, t.trade_id))
    by_key: dict[tuple[str | None, str], list[LedgerTrade]] = {}
    by_symbol: dict[str, list[LedgerTrade]] = {}
    for trade in ordered:
        by_key.setdefault((trade.model_id, trade.symbol), []).append(trade)
        by_symbol.setdefault(trade.symbol, []).append(trade)
    promotions: dict[str, list[Any]] = {}
    for update in sorted(updates, key=lambda u: u.finished_at):
        if update.decision == "promoted":
            promotions.setdefault(update.model_id, []).append(update)
    episodes = []
    for drift in sorted(drifts, key=lambda d: d.detected_at):
        if not drift.adaptation_requested:
            continue
        episodes.append(_episode(drift, by_key, by_symbol, promotions, champions, window))
    return episodes


def _episode(drift, by_key, by_symbol, promotions, champions, window) -> AdaptationEpisode:
    series = by_key.get((drift.model_id, drift.symbol), [])
    detected = _detecting_index(series, drift)
    change_at = delay_outcomes = delay_s = None
    if detected is not None:
        change_at = _change_at(by_symbol.get(drift.symbol, []), series[detected].traded_at)
    first_changed = None
    if change_at is not None:
        first_changed = next(i for i, t in enumerate(series) if t.traded_at >= change_at)
        delay_outcomes = detected - first_changed + 1
        # In the trades' own time: outcomes reported late (or a backfill) do not lengthen it.
        delay_s = max(0.0, (series[detected].traded_at - change_at).total_seconds())
    update = next(
        (u for u in promotions.get(drift.model_id, []) if u.started_at >= drift.detected_at), None
    )
    promoted_at = version = serving_at = None
    adaptation_s = serving_s = None
    status = "detected"
    if update is not None:
        version, promoted_at, status = str(update.version), update.finished_at, "adapted"
        served = champions.get(drift.model_id)
        if served is not None and served.version == version:
            promoted_at = served.promoted_at or promoted_at
            serving_at, status = max(served.loaded_at, promoted_at), "serving"
            serving_s = (serving_at - promoted_at).total_seconds()
        adaptation_s = max(0.0, (promoted_at - drift.detected_at).total_seconds())
    level = to_recover = days = None
    if detected is not None:
        performance = _performance(series, drift.model_id)
        end = first_changed if first_changed is not None else max(0, detected + 1 - window)
        before = performance[max(0, end - window) : end]
        if len(before) >= min(MIN_REFERENCE, window):
            level = float(math.fsum(before) / len(before))
        if level is not None and promoted_at is not None:
            first_adapted = next(
                (i for i, t in enumerate(series) if t.traded_at >= promoted_at), len(series)
            )
            found = _recovery(performance, series, detected, first_adapted, level, window)
            if found is not None:
                to_recover, days = found
                status = "recovered"
    return AdaptationEpisode(
        drift_id=drift.drift_id, model_id=drift.model_id, symbol=drift.symbol, status=status,
        change_at=change_at, detected_at=drift.detected_at, promoted_at=promoted_at,
        serving_at=serving_at, adapted_version=version, detection_delay_outcomes=delay_outcomes,
        detection_delay_s=delay_s, adaptation_delay_s=adaptation_s, serving_delay_s=serving_s,
        pre_drift_level=level, outcomes_to_recover=to_recover, days_to_recover=days,
    )  # fmt: skip
