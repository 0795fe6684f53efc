"""The challenger period: a candidate earns promotion on days it has not seen.

With ``challenger_period`` on, a candidate that passes the integrity and price checks and the
stability gate is registered as the model's ``challenger`` (an MLflow alias) instead of its
champion, tagged ``challenger_since`` with the last day the gate judged. Each later update of
the model, instead of training another candidate, prices both versions on the trading days
after that day, with the one execution rule and costs of :mod:`online_learning.execution`,
from the champion's book of that day, and reads the anytime-valid test of
:mod:`online_learning.update.sequential` on the paired daily net differences:

- ``challenger_better``: the challenger becomes the champion (``promoted``);
- ``challenger_worse`` or, after ``challenger_horizon_days``, ``challenger_inconclusive``: the
  challenger is retired and the champion stays (``rolled_back``);
- ``challenger_pending``: nothing changes yet (``deferred``; the record carries the days so far
  and the running interval).

One challenger per model at a time: while one is pending, an update judges it and trains
nothing (a candidate trained meanwhile would be judged against a champion that may be about
to change). The next update after a decision trains a new candidate on the latest window.
No live trades are needed: the period is priced on the market's own executed returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from online_learning.data import DataSource
from online_learning.registry.base import LoadedModel, ModelRegistry
from online_learning.stats import sharpe_ratio
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.gate import StabilityGate, price_books
from online_learning.update.outcomes import (
    RollbackResult,
    UpdateDeferred,
    UpdateOutcome,
    UpdateSuccess,
)
from online_learning.update.run_record import opening_book
from online_learning.update.sequential import PENDING, SequentialTest, SequentialVerdict
from online_learning.update.window import UpdateWindow, update_window

__all__ = ["SINCE_TAG", "PeriodReading", "challenger_test", "read_period", "settle"]

#: The version tag holding the last day the gate judged when the challenger was named.
SINCE_TAG = "challenger_since"
# Trading days of training history kept before the period (the window needs some, and the
# opening book is the champion's position on the last of them).
_LEAD_DAYS = 30


@dataclass(frozen=True)
class PeriodReading:
    """The challenger period as priced today.

    ``days`` are the period's trading days (those after ``since`` whose executed return is
    known, at most ``horizon_days``), ``champion`` and ``challenger`` the two books' daily net
    returns on them, ``verdict`` the test read day by day up to the last of them.
    """

    since: date
    days: tuple[date, ...]
    champion: np.ndarray
    challenger: np.ndarray
    verdict: SequentialVerdict
    window: UpdateWindow

    @property
    def sharpes(self) -> tuple[float, float]:
        """Annualised Sharpe of the champion's and the challenger's book over the period."""
        return sharpe_ratio(self.champion), sharpe_ratio(self.challenger)


def read_period(
    *,
    source: DataSource,
    champion: LoadedModel,
    challenger: LoadedModel,
    test: SequentialTest,
    as_of: date | None,
    execution: str,
    cost_bps: float,
    regime: str | None = None,
) -> PeriodReading:
    """Price ``champion`` and ``challenger`` on the days after the challenger's
    ``challenger_since`` tag, up to ``as_of``, and read ``test`` on their differences.

    Both trade from the champion's book on the day before the period (as the gate prices
    both from it), equally weighted over the model's symbols (a regime specialist's rows of
    its regime only). Raises :class:`~online_learning.errors.DataError` when the source cannot
    supply the days.
    """
    since = date.fromisoformat(challenger.tags[SINCE_TAG])
    horizon = test.horizon_days
    # Every priced day after ``since`` is a validation day of this window (the first
    # ``horizon`` of them count), with ``_LEAD_DAYS`` of history before (or as much as the
    # source has). Calendar days since ``since`` bound the trading days from above, so the
    # window reaches back to it however long no update ran.
    elapsed = ((as_of or date.today()) - since).days
    span = max(horizon, elapsed) + _LEAD_DAYS
    window = update_window(
        source,
        definition=champion.definition,
        data_window=span,
        validation_days=span,
        as_of=as_of,
        regime=regime,
        execution=execution,
        judged_through=since,
        partial=True,
    )
    period_days = tuple(d for d in window.trading_days if d > since)[:horizon]
    validation = window.validation
    if period_days:
        last = np.datetime64(period_days[-1])
        validation = validation[validation["date"].to_numpy() <= last]
    books = price_books(
        (champion.model, challenger.model),
        validation=validation,
        inputs=window.inputs(validation),
        execution=window.execution,
        cost_bps=cost_bps,
        previous=opening_book(champion.model, window),
    )
    old, new = (book.net.to_numpy(dtype=np.float64) for book in books)
    verdict = test.read(new - old, old)
    return PeriodReading(since, period_days, old, new, verdict, window)


def challenger_test(config: IncrementalUpdateConfig) -> SequentialTest:
    """The sequential test of the update's ``challenger_*`` settings."""
    return SequentialTest(
        confidence=config.challenger_confidence,
        horizon_days=config.challenger_horizon_days,
        min_days=config.challenger_min_days,
        margin=config.challenger_margin,
    )


def settle(
    registry: ModelRegistry,
    *,
    config: IncrementalUpdateConfig,
    champion: LoadedModel,
    challenger: LoadedModel,
    reading: PeriodReading,
    common: dict[str, object],
    hold: str | None = None,
) -> UpdateOutcome:
    """Act on the period's verdict: promote the challenger, retire it, or wait.

    ``hold`` says why the period must not be decided today (a suspect price in its days): the
    challenger then stays pending, whatever the verdict, and the detail says why.

    ``common`` holds the fields every outcome of the update shares; the judged days, the
    Sharpe ratios and the ``challenger_*`` fields are the period's. A decision judged the
    period's days through the day it was taken (its ``window_end``: the next candidate's gate
    judges only later days).
    """
    verdict = reading.verdict
    pre, post = reading.sharpes
    judged = reading.days[: verdict.n_days]
    mean, low, high = verdict.annualised
    summary = f"challenger v{challenger.version}, day {verdict.n_days} of at most " + (
        f"{config.challenger_horizon_days}: annualised net return difference {mean:+.2%} "
        f"[{low:+.2%}, {high:+.2%}] at {config.challenger_confidence:.0%} (any-time)"
        if verdict.n_days >= 2
        else f"{config.challenger_horizon_days}: too few days priced for an interval"
    )
    fields = {
        **common,
        "sharpe_pre": pre,
        "sharpe_post": post,
        "degradation_pct": StabilityGate(sharpe_floor=config.sharpe_floor).degradation(pre, post),
        "judged_start": judged[0].isoformat() if judged else None,
        "judged_end": judged[-1].isoformat() if judged else None,
        "execution": reading.window.execution,
        "cost_bps": config.cost_bps,
        "challenger_version": challenger.version,
        "challenger_days": verdict.n_days,
        "challenger_low": low,
        "challenger_high": high,
    }
    if verdict.decision == "continue" or hold is not None:
        return UpdateDeferred(
            **fields,
            champion_version=champion.version,
            reason=PENDING,
            detail=f"{summary}; still pending"
            + ("" if hold is None else f": not decided on suspect prices ({hold})"),
        )
    decided = {**fields, "window_end": fields["judged_end"], "judged_through": fields["judged_end"]}
    if verdict.decision == "promote":
        promotion = registry.promote(model_id=config.model_id, version=challenger.version)
        registry.clear_challenger(model_id=config.model_id)
        return UpdateSuccess(
            **decided,
            version=promotion.version,
            previous_version=promotion.previous_version,
            reason=verdict.reason,
        )
    registry.clear_challenger(model_id=config.model_id)
    return RollbackResult(
        **decided,
        champion_version=champion.version,
        reason=verdict.reason,
        detail=f"{summary}; retired",
    )
