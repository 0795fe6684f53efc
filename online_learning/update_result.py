"""What one update decided, declared once for every record of it.

:class:`UpdateResult` is the shape of an update's result as it leaves the update path. The
metrics store's history row (:class:`~online_learning.metrics_store.records.UpdateRecord`),
the ``model_update`` event (:class:`~online_learning.events.schema.ModelUpdateEvent`), a flow
run's report line (``flows.report.ModelReport``) and an update job (``flows.jobs.Job``)
extend it with what each adds (a job id, timestamps, an error); a new result field is a new
field here and its value in :meth:`UpdateOutcome.result
<online_learning.update.outcomes.UpdateOutcome.result>`.

A leaf module: the update path, the store, the events and the adapters all import it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from online_learning.numbers import finite_or_none

__all__ = ["DECISIONS", "Decision", "UpdateResult"]

#: ``promoted``: the candidate became champion; ``rolled_back``: the gate (or a check) kept
#: the champion; ``deferred``: too few new validation days, nothing trained or judged;
#: ``failed``: the update raised before deciding.
Decision = Literal["promoted", "rolled_back", "failed", "deferred"]
DECISIONS: tuple[str, ...] = get_args(Decision)


_NUMBERS = ("sharpe_pre", "sharpe_post", "degradation_pct", "duration_s")


@dataclass(frozen=True, kw_only=True)
class UpdateResult:
    """What one update attempt of one model decided.

    ``version`` is the version serving after the attempt: the new champion when promoted, the
    champion that stayed otherwise (None when the update failed); ``previous_version`` the
    champion a promotion replaced. ``sharpe_pre`` and ``sharpe_post`` are the annualised
    validation Sharpe ratios of champion and candidate on the same held-out days,
    ``degradation_pct`` is positive when the candidate is worse; non-finite numbers are None.
    ``window_start`` and ``window_end`` bound the data window, ``judged_start`` and
    ``judged_end`` the days of it the gate judged (the rest were trained on), as ISO dates
    (None when nothing was judged). The ``challenger_*`` fields describe the model's
    challenger when the update named, judged or decided one (see
    :mod:`online_learning.update.challenger`): its version, the days of its period so far, and the
    confidence sequence of its annualised net return difference over the champion
    (``challenger_low``, ``challenger_high``; None before two days).

    Examples
    --------
    >>> result = UpdateResult(model_id="bull", decision="rolled_back", reason="non_finite",
    ...     sharpe_pre=float("nan"), version="3")
    >>> result.sharpe_pre is None, UpdateResult.names()[:3]
    (True, ('model_id', 'decision', 'reason'))
    """

    model_id: str
    decision: Decision
    reason: str
    version: str | None = None
    previous_version: str | None = None
    sharpe_pre: float | None = None
    sharpe_post: float | None = None
    degradation_pct: float | None = None
    duration_s: float | None = None
    window_start: str | None = None
    window_end: str | None = None
    judged_start: str | None = None
    judged_end: str | None = None
    challenger_version: str | None = None
    challenger_days: int | None = None
    challenger_low: float | None = None
    challenger_high: float | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {self.decision!r}")
        for name in (*_NUMBERS, "challenger_low", "challenger_high"):
            object.__setattr__(self, name, finite_or_none(getattr(self, name)))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The result's fields, in order (those of :class:`UpdateResult` only)."""
        return tuple(f.name for f in dataclasses.fields(UpdateResult))

    def result_fields(self) -> dict[str, Any]:
        """The result's fields of this record, by name (to build another record from)."""
        return {name: getattr(self, name) for name in UpdateResult.names()}

    @property
    def promoted(self) -> bool:
        return self.decision == "promoted"
