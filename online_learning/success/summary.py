"""The five success metrics in one answer: per model and symbol, and the headline a desk reads.

:func:`summarise` computes a :class:`SuccessSummary` from plain records (tests and the
backtest call it); :func:`read_summary` reads those records from a metrics store for the
trades of the last ``window_days`` (``GET /api/v1/metrics/summary``, the Prometheus gauges and
the dashboard's first panel show it). The headline (:class:`Headline`) is:

1. **freshness**: the champions' mean data age and promotion age (days), the oldest session
   checkpoint (seconds);
2. **adaptation speed**: of the newest episode that has them, change to detection (outcomes
   and seconds), detection to an adapted version promoted, promotion to this replica serving;
3. **online vs batch**: hit rate and log-loss of the online and the batch view over all
   symbols, on the same trades;
4. **learning efficiency**: of the newest recovered episode, outcomes and trading days from the
   detection to the pre-drift level;
5. **business impact**: the P&L the ML view added to the agents' rules over all symbols, with
   its interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.ledger_records import LedgerTrade
from online_learning.metrics_store.trade_ledger import TradeLedger
from online_learning.success.adaptation import AdaptationEpisode, adaptation_episodes
from online_learning.success.freshness import Freshness, ServedChampion, freshness
from online_learning.success.scores import (
    ALL_SYMBOLS,
    WHOLE_VIEW,
    BusinessImpact,
    ComponentScore,
    PnlPoint,
    business_impact,
    component_scores,
    pnl_curve,
)

if TYPE_CHECKING:
    from online_learning.metrics_store import MetricsStore

__all__ = ["Headline", "SuccessSummary", "read_summary", "summarise"]

#: Most drift and update records a summary reads (newest first).
MAX_RECORDS = 5_000


def _described(kind: Any, text: str) -> Any:
    return Annotated[kind, Field(description=text)]


@dataclass(frozen=True)
class Headline:
    """The five metrics as single numbers (None where nothing measured them yet)."""

    mean_data_age_days: _described(
        float | None,
        "Freshness: mean over the serving champions of the days since the last "
        "day of data each trained on.",
    )
    mean_promotion_age_days: _described(
        float | None, "Freshness: mean days since each serving champion was promoted."
    )
    max_checkpoint_age_s: _described(
        float | None, "Freshness: age of the oldest active online session's newest checkpoint."
    )
    detection_delay_outcomes: _described(
        int | None,
        "Adaptation speed (newest episode with a known change): the model's trades "
        "on the symbol from the change to the one that detected the drift, inclusive.",
    )
    detection_delay_s: _described(
        float | None,
        "Adaptation speed: seconds from the change's trade to the detecting trade (the "
        "trades' own timestamps).",
    )
    adaptation_delay_s: _described(
        float | None,
        "Adaptation speed (newest adapted episode): seconds from the detection to "
        "the adapted version's promotion.",
    )
    serving_delay_s: _described(
        float | None,
        "Adaptation speed: seconds from that promotion to this replica serving "
        "it (on every replica: the Prometheus recording rule).",
    )
    compared_trades: _described(
        int,
        "Online vs batch: trades whose prediction had both an online and a batch "
        "component (over all symbols).",
    )
    online_hit_rate: _described(float | None, "Online vs batch: the online sessions' hit rate.")
    batch_hit_rate: _described(float | None, "Online vs batch: the batch champions' hit rate.")
    online_log_loss: _described(float | None, "Online vs batch: the online sessions' log-loss.")
    batch_log_loss: _described(float | None, "Online vs batch: the batch champions' log-loss.")
    outcomes_to_recover: _described(
        int | None,
        "Learning efficiency (newest recovered episode): the model's trades from "
        "the detection to its return to the pre-drift level.",
    )
    days_to_recover: _described(
        int | None, "Learning efficiency: the distinct trading days of those trades."
    )
    impact_trades: _described(
        int, "Business impact: trades whose agent recorded its rule-only position."
    )
    ml_added_pnl: _described(
        float | None,
        "Business impact: blended minus rules-only P&L on those trades (the sum "
        "of position times return, in units of the book).",
    )
    ml_added_low: _described(
        float | None, "Business impact: lower bound of the 95 % block-bootstrap interval."
    )
    ml_added_high: _described(float | None, "Business impact: upper bound of that interval.")


@dataclass(frozen=True)
class SuccessSummary:
    """The success metrics over the trades since ``since`` (see the module docstring)."""

    generated_at: datetime
    since: datetime | None
    trades: int
    headline: Headline
    freshness: Freshness
    episodes: list[AdaptationEpisode]
    accuracy: list[ComponentScore]
    impact: list[BusinessImpact]
    impact_curve: list[PnlPoint]


def _headline(
    fresh: Freshness,
    episodes: Sequence[AdaptationEpisode],
    accuracy: Sequence[ComponentScore],
    impact: Sequence[BusinessImpact],
) -> Headline:
    def newest(*names: str) -> AdaptationEpisode | None:
        found = [e for e in episodes if all(getattr(e, n) is not None for n in names)]
        return found[-1] if found else None

    detection = newest("detection_delay_outcomes")
    adaptation = newest("adaptation_delay_s")
    serving = newest("serving_delay_s")
    recovered = newest("outcomes_to_recover")
    overall = {s.kind: s for s in accuracy if s.symbol == ALL_SYMBOLS and s.component == WHOLE_VIEW}
    online, batch = overall.get("online"), overall.get("batch")
    total = next((i for i in impact if i.symbol == ALL_SYMBOLS), None)
    return Headline(
        mean_data_age_days=fresh.mean_data_age_days,
        mean_promotion_age_days=fresh.mean_promotion_age_days,
        max_checkpoint_age_s=fresh.max_checkpoint_age_s,
        detection_delay_outcomes=detection and detection.detection_delay_outcomes,
        detection_delay_s=detection and detection.detection_delay_s,
        adaptation_delay_s=adaptation and adaptation.adaptation_delay_s,
        serving_delay_s=serving and serving.serving_delay_s,
        compared_trades=online.n_trades if online else 0,
        online_hit_rate=online and online.hit_rate,
        batch_hit_rate=batch and batch.hit_rate,
        online_log_loss=online and online.log_loss,
        batch_log_loss=batch and batch.log_loss,
        outcomes_to_recover=recovered and recovered.outcomes_to_recover,
        days_to_recover=recovered and recovered.days_to_recover,
        impact_trades=total.n_trades if total else 0,
        ml_added_pnl=total and total.ml_added_pnl,
        ml_added_low=total and total.ml_added_low,
        ml_added_high=total and total.ml_added_high,
    )


def summarise(
    trades: Sequence[LedgerTrade],
    *,
    drifts: Iterable[Any] = (),
    updates: Iterable[Any] = (),
    champions: Iterable[ServedChampion] = (),
    sessions: Iterable[tuple[str, str, int, datetime | None]] = (),
    now: datetime,
    since: datetime | None = None,
    recovery_window: int = 50,
    confidence: float = 0.95,
) -> SuccessSummary:
    """The success metrics of ``trades`` with the drifts, updates, champions and sessions
    that go with them (records as :func:`~.adaptation.adaptation_episodes` and
    :func:`~.freshness.freshness` take them).

    Examples
    --------
    >>> t = datetime(2026, 1, 5, tzinfo=UTC)
    >>> trades = [LedgerTrade(f"t-{i}", "AAA", None, t + timedelta(days=i), r, 0.5 * r,
    ...                       rule_position=0.25) for i, r in enumerate([0.01, -0.02, 0.03])]
    >>> s = summarise(trades, now=t + timedelta(days=5))
    >>> s.trades, s.headline.impact_trades, round(s.headline.ml_added_pnl, 4)
    (3, 3, 0.005)
    >>> s.headline.online_hit_rate is None and s.episodes == []
    True
    """
    served = list(champions)
    fresh = freshness(served, sessions, now=now)
    episodes = adaptation_episodes(trades, drifts, updates, {c.model_id: c for c in served},
                                   window=recovery_window)  # fmt: skip
    accuracy = component_scores(trades)
    impact = business_impact(trades, confidence=confidence)
    return SuccessSummary(
        generated_at=now,
        since=since,
        trades=len(trades),
        headline=_headline(fresh, episodes, accuracy, impact),
        freshness=fresh,
        episodes=episodes,
        accuracy=accuracy,
        impact=impact,
        impact_curve=pnl_curve(trades),
    )


def read_summary(
    store: MetricsStore,
    champions: Iterable[ServedChampion] = (),
    *,
    window_days: float = 30.0,
    now: datetime | None = None,
    recovery_window: int = 50,
) -> SuccessSummary:
    """:func:`summarise` of the trades, drifts and updates of the last ``window_days`` in
    ``store`` (migrated to revision 0008 or later), the active sessions' newest checkpoints
    and the ``champions`` the caller serves.

    Examples
    --------
    >>> from online_learning.metrics_store import MetricsStore
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> read_summary(store).trades
    0
    >>> store.dispose()
    """
    if not window_days > 0:
        raise ValueError(f"window_days must be > 0, got {window_days!r}")
    now = now or datetime.now(UTC)
    since = now - timedelta(days=window_days)
    ledger = TradeLedger(store)
    trades = ledger.trades(since=since)
    drifts = DriftStore(store).history(since=since, limit=MAX_RECORDS)
    updates = store.update_history(since=since, limit=MAX_RECORDS)
    sessions = ledger.session_stamps()
    return summarise(trades, drifts=drifts, updates=updates, champions=champions,
                     sessions=sessions, now=now, since=since,
                     recovery_window=recovery_window)  # fmt: skip
