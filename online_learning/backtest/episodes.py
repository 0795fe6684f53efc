"""Known regime changes in a replay, and how fast each policy adapted and recovered.

A synthetic environment knows its regime schedule; a change is on day ``c`` (an index of the
evaluation days) when the day's position earns the new regime's return (the environment's
``phase_b_start_day``). For each change and policy (:func:`change_episodes`):

* **detection**: the first drift detection fired by a return of day ``c`` or later. The
  harness records a detection at the close of day ``d`` from the return of day ``d - 1``, so
  ``d > c``; a policy without detectors reports it as not applicable;
* **promotion**: the first promotion of a version that trained on the change day or later
  (its ``train_end``: an update promoted at the change's close trained on days before it and
  is no adaptation), at or after the change, and of the detecting model at or after the
  detection (a drift-triggered update runs at the detection's close);
* **recovery** (learning efficiency):
  :func:`~online_learning.success.adaptation.adaptation_episodes` on one ledger row a day
  carrying the policy's daily return and the regime it was earned in, its episode anchored at
  the detecting return (without a detection: at the change), with the promotions that follow.

Each change's search stops at the next change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np

from online_learning.backtest.config import DRIFT_POLICIES
from online_learning.backtest.harness import RunResult
from online_learning.backtest.impact import BOOK
from online_learning.metrics_store.ledger_records import LedgerTrade
from online_learning.success.adaptation import adaptation_episodes

__all__ = ["ChangeEpisode", "change_episodes", "earned_regimes"]


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class ChangeEpisode:
    """A known regime change and what the policy did after it, in trading days.

    ``detection`` is ``detected``, ``not_detected`` (the policy has detectors; none fired
    before the next change or the end) or ``not_applicable``. ``change_to_promotion_days`` is
    to the first promotion at or after the change of a version that trained on the change day
    or later, ``detection_to_promotion_days`` to the first such promotion of the detecting
    model at or after the detection. Learning efficiency:
    ``recovery_anchor`` (``detection`` or ``change``), ``pre_change_level`` (mean daily return
    over the window before the change) and ``days_to_recover`` (None: not recovered).
    """

    change_day: int
    detection: Literal["detected", "not_detected", "not_applicable"]
    detection_day: int | None
    change_to_detection_days: int | None
    detection_to_promotion_days: int | None
    change_to_promotion_days: int | None
    recovery_anchor: Literal["detection", "change"]
    pre_change_level: float | None
    days_to_recover: int | None


def earned_regimes(run: RunResult) -> list[str] | None:
    """The regime each day's position earns its return in (None: not known): the true regime
    of the next day, as the synthetic environments define their phases.

    Examples
    --------
    >>> import numpy as np
    >>> run = RunResult("bull", "synthetic", 0, [None] * 4, {}, np.array([]),
    ...                 true_regimes=["bull", "bull", "sideways", "sideways"])
    >>> earned_regimes(run)  # day 1's position earns day 2's return
    ['bull', 'sideways', 'sideways', 'sideways']
    """
    regimes = run.true_regimes
    if not regimes or len(regimes) != len(run.days) or not all(regimes):
        return None
    return [*regimes[1:], regimes[-1]]


def change_episodes(
    run: RunResult, policy: str, *, window: int = 20, detects: bool | None = None
) -> list[ChangeEpisode] | None:
    """The episodes of each known regime change of ``run`` for ``policy`` (None: changes not
    known, as on real data). ``detects`` says whether the policy watches its returns with
    drift detectors (default: whether it is one of the
    :data:`~online_learning.backtest.config.DRIFT_POLICIES`).

    A change is on day ``c`` when the day's position earns the new regime's return. A detection
    recorded at the close of day ``d`` was fired by the return of day ``d - 1``, so the first
    one after the change has ``d > c``.

    Examples
    --------
    A policy earns 0.01 a day, loses 0.01 from the change on day 40 and earns 0.012 once
    adapted; its detector fires at the close of day 46, a drift update is promoted at the
    close of day 47:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from online_learning.backtest.policies import DriftRecord, PolicyUpdate
    >>> days = list(pd.bdate_range("2024-01-01", periods=100).date)
    >>> pnl = np.array([0.01] * 40 + [-0.01] * 8 + [0.012] * 52)
    >>> run = RunResult("bull", "synthetic", 0, days, {"ewc_drift": pnl}, np.array([]),
    ...     true_regimes=["bull"] * 41 + ["sideways"] * 59,
    ...     drifts=[DriftRecord("ewc_drift", "m", 46, days[46], ("adwin",), True)],
    ...     updates=[PolicyUpdate(model_id="m", decision="promoted", reason="accepted",
    ...                           version="2", policy="ewc_drift", day=47, date=days[47],
    ...                           kind="drift")])
    >>> [e] = change_episodes(run, "ewc_drift", window=10)
    >>> e.change_day, e.change_to_detection_days, e.detection_to_promotion_days
    (40, 6, 1)
    >>> e.recovery_anchor, e.pre_change_level, e.days_to_recover
    ('detection', 0.01, 12)
    """
    earned = earned_regimes(run)
    if earned is None:
        return None
    detects = policy in DRIFT_POLICIES if detects is None else detects
    changes = [i for i in range(1, len(earned)) if earned[i] != earned[i - 1]]
    drifts = sorted((d for d in run.drifts if d.policy == policy), key=lambda d: d.day)
    promotions = sorted(
        (
            u
            for u in run.updates
            if u.policy == policy and u.decision == "promoted" and u.fault is None
        ),
        key=lambda u: u.day,
    )
    episodes = []
    for n, change in enumerate(changes):
        end = changes[n + 1] if n + 1 < len(changes) else len(run.days)
        episodes.append(
            _episode(run, policy, earned, change, end, drifts, promotions, detects, window)
        )
    return episodes


def _learned_since(run: RunResult, policy: str, update: Any, change: int) -> bool:
    """Whether the version ``update`` promoted trained on day ``change`` or later (its age on
    the day of its promotion says; a run that did not record ages counts every promotion)."""
    ages = run.model_age.get(policy, {}).get(update.model_id)
    if ages is None or not np.isfinite(ages[update.day]):
        return True
    return update.day - ages[update.day] >= change


def _episode(run, policy, earned, change, end, drifts, promotions, detects, window):
    detection = next((d for d in drifts if change < d.day <= end), None) if detects else None
    after_change = [
        u for u in promotions if change <= u.day < end and _learned_since(run, policy, u, change)
    ]
    promoted = after_change[0].day if after_change else None
    to_promotion = None
    if detection is not None:
        mine = [
            u for u in after_change if u.model_id == detection.model_id and u.day >= detection.day
        ]
        to_promotion = mine[0].day - detection.day if mine else None
        anchor, detected_at, episode_promotions = detection.day - 1, detection.day, mine
    else:
        anchor, detected_at, episode_promotions = change, change, after_change
    returns = run.returns[policy]
    trades = [
        LedgerTrade(
            f"d{i}",
            BOOK,
            policy,
            _at(run.days[i]),
            float(returns[i]),
            float(returns[i]),
            known_regime=earned[i],
        )
        for i in range(end)
    ]
    drift = SimpleNamespace(
        drift_id=f"{policy}-{change}",
        model_id=policy,
        symbol=BOOK,
        detected_at=_at(run.days[detected_at]),
        statistics={"trade_id": f"d{anchor}"},
        adaptation_requested=True,
    )
    updates = [
        SimpleNamespace(
            model_id=policy,
            decision="promoted",
            version=str(u.version),
            started_at=_at(run.days[u.day]),
            finished_at=_at(run.days[u.day]),
        )
        for u in episode_promotions
    ]
    [found] = adaptation_episodes(trades, [drift], updates, window=window)
    return ChangeEpisode(
        change_day=change,
        detection=(
            "not_applicable" if not detects else "detected" if detection else "not_detected"
        ),
        detection_day=None if detection is None else detection.day,
        change_to_detection_days=None if detection is None else detection.day - change,
        detection_to_promotion_days=to_promotion,
        change_to_promotion_days=None if promoted is None else promoted - change,
        recovery_anchor="detection" if detection is not None else "change",
        pre_change_level=found.pre_drift_level,
        days_to_recover=found.days_to_recover,
    )
