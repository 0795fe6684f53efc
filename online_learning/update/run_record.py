"""What an update logs and returns besides its model: metrics, tags, the gate's fields.

Helpers of :mod:`online_learning.update.learner`, kept apart so that the update's
steps read in one place.
"""

from __future__ import annotations

import math
from datetime import date

import torch

from online_learning.ewc import EWCState
from online_learning.execution import position_from_p_up
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.gate import StabilityReport
from online_learning.update.window import UpdateWindow


def opening_book(model: torch.nn.Module, window: UpdateWindow) -> dict[str, float]:
    """The champion's position per symbol on the last training day: what the book holds when
    the validation days start, so both models pay for the trades they would make from it."""
    train = window.train
    last = train[train["date"] == train["date"].max()]
    if last.empty:
        return {}
    p_up = model.predict_proba(window.inputs(last))
    return dict(zip(last["symbol"].astype(str), position_from_p_up(p_up), strict=True))


def new_day_share(window: UpdateWindow, tags: dict[str, str]) -> float:
    """Share of the window's training days outside the champion's own training days."""
    start, end = tags.get("train_start"), tags.get("train_end")
    first_validation = window.validation_days[0] if window.validation_days else None
    days = [d for d in window.trading_days if first_validation is None or d < first_validation]
    if not days or not (start and end):
        return 1.0
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return sum(not first <= d <= last for d in days) / len(days)


def numbers(measured: dict[str, float | str]) -> dict[str, float]:
    return {k: float(v) for k, v in measured.items() if not isinstance(v, str)}


def gate_fields(
    stability: StabilityReport | None,
    config: IncrementalUpdateConfig,
    measured: dict[str, float | str],
) -> dict[str, object]:
    judged = measured.get("judged_through")
    return {
        "p_value": stability.p_value if stability else math.nan,
        "execution": stability.execution if stability else config.execution,
        "cost_bps": config.cost_bps,
        "judged_through": judged if isinstance(judged, str) else None,
    }


def unjudgeable(rows: int, days: int, config: IncrementalUpdateConfig) -> str:
    """Why validation rows are too few to judge on, in words."""
    return (
        f"{rows} validation rows on {days} day(s); the gate needs "
        f"{config.min_validation_samples} rows on {config.min_validation_days} days"
    )


def explain(stability: StabilityReport, config: IncrementalUpdateConfig) -> str:
    if stability.reason == "insufficient_validation_data":
        return unjudgeable(stability.n_samples, stability.n_days, config)
    return (
        f"worse than the champion with {config.gate_confidence:.0%} confidence: daily net "
        f"return difference {stability.mean_difference:+.2e} over {stability.n_days} days "
        f"(p={stability.p_value:.3f}); validation Sharpe {stability.sharpe_pre:.2f} -> "
        f"{stability.sharpe_post:.2f} at {stability.execution}, {config.cost_bps:g} bps"
    )


def run_metrics(
    stability: StabilityReport | None, train_loss: float, state: EWCState | None
) -> dict[str, float]:
    metrics: dict[str, float] = {"train_loss": train_loss}
    if stability is not None:
        metrics.update(
            sharpe_pre=stability.sharpe_pre,
            sharpe_post=stability.sharpe_post,
            degradation_pct=stability.degradation_pct,
            n_validation=float(stability.n_samples),
            n_validation_days=float(stability.n_days),
            gate_p_value=stability.p_value,
            mean_return_difference=stability.mean_difference,
            turnover_pre=stability.turnover_pre,
            turnover_post=stability.turnover_post,
        )
    if state is not None:
        metrics.update({k: float(v) for k, v in state.stats().items()})
    return metrics


def run_tags(
    window: UpdateWindow, regime: str | None, decision: str, reason: str, parent: str
) -> dict[str, str]:
    tags = {
        "kind": "incremental",
        "decision": decision,
        "reason": reason,
        "parent_version": parent,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
    }
    training_days = [d for d in window.trading_days if d not in set(window.validation_days)]
    if training_days:
        tags["train_start"] = training_days[0].isoformat()
        tags["train_end"] = training_days[-1].isoformat()
    if regime:
        tags["regime"] = regime
    return tags
