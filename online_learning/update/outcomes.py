"""What an incremental update returns: promoted, rolled back, or deferred (nothing decided)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from online_learning.update.sequential import BETTER, INCONCLUSIVE, WORSE
from online_learning.update_result import UpdateResult

#: Reasons of an outcome on which the gate judged the validation days (they are used up): the
#: gate's own, and a challenger's naming and the end of its period (whose days it judged).
#: Reason of a candidate that passed the gate and became the model's challenger.
NAMED = "challenger_named"
GATE_REASONS: tuple[str, ...] = ("passed", "sharpe_degradation", NAMED, BETTER, WORSE, INCONCLUSIVE)
#: Reason of an update that waited for new validation days (nothing was trained).
AWAITING = "awaiting_validation_days"
#: Reason of an update deferred because its new validation days hold too few of the model's
#: rows (or too few with a known executed return) to judge a candidate on.
UNJUDGEABLE = "insufficient_validation_data"
#: Reasons of a deferral: nothing was decided against the candidate.
DEFERRAL_REASONS: tuple[str, ...] = (AWAITING, UNJUDGEABLE)


@dataclass(frozen=True)
class UpdateOutcome:
    """Fields common to both outcomes.

    ``sharpe_pre`` and ``sharpe_post`` are the annualised validation Sharpe ratios of the
    champion and the candidate on the same held-out days; ``degradation_pct`` is positive when
    the candidate is worse (see :mod:`online_learning.update.gate`). ``timings`` holds
    seconds per step: ``data``, ``fisher``, ``training``, ``gate``, ``registry``;
    ``fisher_stats`` summarises the Fisher that travels with the new version (see
    :meth:`online_learning.ewc.EWCState.stats`), or the one that was found non-finite;
    ``weight_change`` is the size of the update, ``||theta_new - theta_old|| / ||theta_old||``
    over the parameters (NaN when training did not run). ``p_value`` is the gate's one-sided
    p-value of "the candidate is no worse than the champion" (small: worse), ``execution`` the
    timing and ``cost_bps`` the cost it priced both models with, ``judged_through`` the last
    validation day the gate judged (None when it did not run: those days stay available to the
    next decision), ``judged_start`` and ``judged_end`` the validation days held out for the
    gate (the window's days before them were trained on), ``held_back`` the newest days left
    out because not every symbol had arrived yet, and ``fisher_weight`` the share of new
    training days the new Fisher was weighted by. The ``challenger_*`` fields are those of
    :class:`~online_learning.update_result.UpdateResult`.
    """

    model_id: str
    sharpe_pre: float
    sharpe_post: float
    degradation_pct: float
    duration_s: float
    n_train: int
    n_validation: int
    window_start: str | None
    window_end: str | None
    timings: dict[str, float] = field(default_factory=dict)
    fisher_stats: dict[str, float] = field(default_factory=dict)
    weight_change: float = math.nan
    p_value: float = math.nan
    execution: str = ""
    cost_bps: float = math.nan
    judged_through: str | None = None
    fisher_weight: float = math.nan
    judged_start: str | None = None
    judged_end: str | None = None
    held_back: tuple[str, ...] = ()
    challenger_version: str | None = None
    challenger_days: int | None = None
    challenger_low: float = math.nan
    challenger_high: float = math.nan

    @property
    def promoted(self) -> bool:
        return self.decision == "promoted"

    def result(self) -> UpdateResult:
        """What the update decided, as every record of it carries it."""
        return UpdateResult(
            model_id=self.model_id,
            decision=self.decision,
            reason=self.reason,
            version=self.serving_version or None,
            previous_version=getattr(self, "previous_version", None) if self.promoted else None,
            sharpe_pre=self.sharpe_pre,
            sharpe_post=self.sharpe_post,
            degradation_pct=self.degradation_pct,
            duration_s=self.duration_s,
            window_start=self.window_start,
            window_end=self.window_end,
            judged_start=self.judged_start,
            judged_end=self.judged_end if self.judged_start else None,
            challenger_version=self.challenger_version,
            challenger_days=self.challenger_days,
            challenger_low=self.challenger_low,
            challenger_high=self.challenger_high,
        )

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["decision"] = self.decision
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data


@dataclass(frozen=True)
class UpdateSuccess(UpdateOutcome):
    """The candidate passed the gate; ``champion`` now points to ``version``."""

    version: str = ""
    previous_version: str | None = None
    run_id: str | None = None
    decision: Literal["promoted"] = "promoted"
    reason: str = "passed"

    @property
    def serving_version(self) -> str:
        """The version serving after the update: the new champion."""
        return self.version


@dataclass(frozen=True)
class RollbackResult(UpdateOutcome):
    """The candidate was rejected; ``champion`` still points to ``champion_version``.

    ``reason`` is one of ``sharpe_degradation`` (the gate found the candidate worse),
    ``non_finite``, ``non_finite_data``, ``inconsistent_data`` (see
    :mod:`online_learning.update.integrity`), ``suspect_prices`` (see
    :mod:`online_learning.update.price_checks`), ``training_diverged``, ``update_too_large``,
    or ``insufficient_training_data``. An update that waits for new validation days, or whose
    validation days hold too few rows to judge, is not a rollback but an
    :class:`UpdateDeferred`.
    """

    champion_version: str = ""
    reason: str = ""
    detail: str = ""
    run_id: str | None = None
    decision: Literal["rolled_back"] = "rolled_back"

    @property
    def serving_version(self) -> str:
        """The version serving after the update: the champion that stayed."""
        return self.champion_version


@dataclass(frozen=True)
class UpdateDeferred(UpdateOutcome):
    """Nothing was decided; ``champion`` still points to ``champion_version``.

    Too few validation days are new since the last decision (``reason`` is
    ``awaiting_validation_days``): the gate does not judge again days on which the champion
    already won or lost, so the update waits until enough new days have come in. Or the new
    days hold too few of the model's rows to judge a candidate on
    (``insufficient_validation_data``: a regime specialist outside its regime); nothing is
    held against a candidate that could not be judged. A deferral is not a rollback: it counts
    in no rollback rate and in no run of failures.
    """

    champion_version: str = ""
    reason: str = AWAITING
    detail: str = ""
    run_id: str | None = None
    decision: Literal["deferred"] = "deferred"

    @property
    def serving_version(self) -> str:
        """The version serving after the update: the champion, unchanged."""
        return self.champion_version
