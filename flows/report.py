"""What a flow run reports: one row per model, a table artifact, and a final state that tells
the truth.

Flow-run states
---------------
A run of ``daily-update`` or ``adaptation`` ends

- **Completed** when every model was decided, promoted or rolled back: a rollback is the
  stability gate doing its job, not a failure. The state message counts both, e.g.
  ``"2 promoted, 1 rolled back"``.
- **Failed** when the update of at least one model raised (after Prefect's retries of
  transient errors), even if the others were promoted: the message names each failed model
  and its error. The other models are still updated and reported; a failed model never stops
  them.

Either way the run publishes a table artifact (the ``REPORT_COLUMNS`` below, one row per model,
``decision`` one of ``promoted``, ``rolled_back``, ``failed``, ``deferred``) under the flow's
artifact key, which is also where :mod:`flows.jobs` reads a job's result from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture
from prefect.states import Completed, Failed, State

from online_learning.numbers import finite_or_none
from online_learning.update.outcomes import (
    RollbackResult,
    UpdateDeferred,
    UpdateOutcome,
    UpdateSuccess,
)
from online_learning.update_result import UpdateResult

#: The columns of a run's table artifact: the update's result (``model`` is its ``model_id``)
#: and, for a failed update, the error.
REPORT_COLUMNS: tuple[str, ...] = (
    *("model" if name == "model_id" else name for name in UpdateResult.names()),
    "error",
)


@dataclass(frozen=True, kw_only=True)
class ModelReport(UpdateResult):
    """One model's line of a run's report: the update's result, or why it failed.

    ``version`` is the champion after the update: the new version when promoted, the one that
    stayed when rolled back, None when the update failed. Numbers are rounded to 6 decimals.
    """

    error: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("sharpe_pre", "sharpe_post", "degradation_pct", "duration_s"):
            object.__setattr__(self, name, _number(getattr(self, name)))

    @classmethod
    def from_outcome(cls, outcome: UpdateOutcome) -> ModelReport:
        if not isinstance(outcome, UpdateSuccess | RollbackResult | UpdateDeferred):
            raise TypeError(f"not an update outcome: {outcome!r}")
        return cls(**outcome.result().result_fields())

    @classmethod
    def from_error(
        cls, model: str, error: BaseException | str, duration_s: float | None
    ) -> ModelReport:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(
            model_id=model, decision="failed", reason="error", error=text, duration_s=duration_s
        )

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> ModelReport:
        """Read back :meth:`to_row` (columns it does not know are ignored)."""
        values = {("model_id" if k == "model" else k): v for k, v in row.items()}
        return cls(**{k: v for k, v in values.items() if k in _FIELDS})

    def to_row(self) -> dict[str, object]:
        row = asdict(self)
        row["model"] = row.pop("model_id")
        return {column: row[column] for column in REPORT_COLUMNS}


_FIELDS = frozenset(f.name for f in fields(ModelReport))


def _number(value: float | None) -> float | None:
    number = finite_or_none(value)
    return None if number is None else round(number, 6)


def report_of(model_id: str, future: PrefectFuture) -> ModelReport:
    """The report line of one finished task: its outcome, or the error it failed with."""
    future.wait()
    state: State = future.state
    if state.is_completed():
        return ModelReport.from_outcome(state.result())
    error = state.result(raise_on_failure=False)
    took = None
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        # Task runs are recorded from events: the record may lag a task on another worker.
        run = client.read_task_run(future.task_run_id)
        if run.start_time and run.end_time:
            took = (run.end_time - run.start_time).total_seconds()
    if not isinstance(error, BaseException):
        error = state.message or state.name
    return ModelReport.from_error(model_id, error, took)


def summary(reports: list[ModelReport]) -> str:
    """``"2 promoted, 1 rolled back, 1 failed: bear_specialist (ModelNotFoundError: ...)"``.

    Deferred updates (waiting for new validation days) are named only when there are some:
    ``"0 promoted, 0 rolled back, 3 deferred"``.
    """
    counts = {
        d: sum(r.decision == d for r in reports) for d in ("promoted", "rolled_back", "deferred")
    }
    parts = [f"{counts['promoted']} promoted", f"{counts['rolled_back']} rolled back"]
    if counts["deferred"]:
        parts.append(f"{counts['deferred']} deferred")
    failed = [r for r in reports if r.decision == "failed"]
    text = ", ".join(parts)
    if failed:
        names = "; ".join(f"{r.model_id} ({r.error})" for r in failed)
        text += f", {len(failed)} failed: {names}"
    return text


def publish(reports: list[ModelReport], *, key: str, title: str) -> None:
    """Create the run's table artifact: one row per model, in the order given."""
    lines = [f"**{title}**: {summary(reports)}"]
    create_table_artifact(
        table=[r.to_row() for r in reports], key=key, description="\n\n".join(lines)
    )


def final_state(reports: list[ModelReport]) -> State:
    """Completed (result: the rows) when every model was decided, Failed when any update
    raised."""
    message = summary(reports)
    if any(r.decision == "failed" for r in reports):
        # A failed state's data must be an exception; the rows are in the artifact.
        return Failed(message=message)
    return Completed(message=message, data=[r.to_row() for r in reports])
