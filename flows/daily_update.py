"""``daily-update``: incremental EWC update of every model after the close, in parallel if asked.

One :func:`~flows.updates.update_model` task per model. A model whose update fails or is
rolled back does not stop the others; transient errors are retried by Prefect (see
:mod:`flows.updates`), a rollback never is. The run publishes the ``daily-update`` table
artifact and ends Completed or Failed as described in :mod:`flows.report`.

Where the tasks run
-------------------
- ``workers=1`` (default): one after the other in the flow's process. Training seeds torch's
  process-wide generator, so two updates sharing a process could not be reproduced.
- ``workers=N>1``: a Dask ``LocalCluster`` of N single-threaded worker *processes*
  (prefect-dask's ``DaskTaskRunner``), created for the run and closed after it.
- ``dask_address="tcp://scheduler:8786"``: an existing Dask cluster. Its workers need this
  package installed and the same settings (``ONLINE_LEARNING_HOME`` on a shared disk, or
  ``MLFLOW_TRACKING_URI`` and ``ONLINE_LEARNING_DATABASE_URL`` pointing at servers) and must
  reach the Prefect API (the run's ``PREFECT_API_URL`` travels with each task).
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.states import State
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.report import final_state, publish, report_of
from flows.updates import update_model
from online_learning.execution import DEFAULT_COST_BPS, DEFAULT_EXECUTION
from online_learning.models import SPECIALISTS
from online_learning.update.config import (
    DEFAULT_EPOCHS,
    DEFAULT_EWC_LAMBDA,
    DEFAULT_LEARNING_RATE,
    IncrementalUpdateConfig,
)

DEFAULT_MODELS: tuple[str, ...] = tuple(SPECIALISTS)
ARTIFACT_KEY = "daily-update"


def task_runner(*, workers: int, dask_address: str | None, n_tasks: int) -> TaskRunner:
    """The runner for the per-model tasks: in process, a local Dask cluster, or a remote one."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    if workers > 1 and n_tasks > 1:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": min(workers, n_tasks),
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            },
        )
    return ThreadPoolTaskRunner(max_workers=1)


@flow(name="daily-update", validate_parameters=True)
def daily_update(
    model_ids: list[str] | None = None,
    data_window_days: int = 60,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    ewc_lambda: float = DEFAULT_EWC_LAMBDA,
    stability_check: bool = True,
    epochs: int = DEFAULT_EPOCHS,
    data: str = "synthetic",
    seed: int = 0,
    as_of: date | None = None,
    workers: int = 1,
    dask_address: str | None = None,
    execution: str = DEFAULT_EXECUTION,
    cost_bps: float = DEFAULT_COST_BPS,
    validation_days: int = 10,
    min_validation_days: int = 5,
    gate_confidence: float = 0.95,
) -> State:
    """Update each model on its latest ``data_window_days`` window; promote or roll back.

    ``model_ids`` defaults to the three regime specialists. ``data`` is ``synthetic``,
    ``sp500`` or a CSV/Parquet path; ``as_of`` the last day the update may use (default: the
    latest the source has). ``workers`` > 1 runs the models in parallel on a local Dask
    cluster of that many processes, ``dask_address`` on an existing Dask scheduler.
    ``execution`` and ``cost_bps`` price the gate's comparison (see
    :mod:`online_learning.execution`); ``validation_days``, ``min_validation_days`` and
    ``gate_confidence`` set the gate (see :class:`IncrementalUpdateConfig`). The defaults of
    the learning rate, lambda and epochs are the measured ones; the seed's 1e-5 / 1000 / 10
    are the ``conservative`` preset. Invalid values fail the run before any model is touched.
    """
    models = list(dict.fromkeys(model_ids or DEFAULT_MODELS))
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    options = {
        "data_window": data_window_days,
        "learning_rate": learning_rate,
        "ewc_lambda": ewc_lambda,
        "stability_check": stability_check,
        "epochs": epochs,
        "execution": execution,
        "cost_bps": cost_bps,
        "validation_days": validation_days,
        "min_validation_days": min_validation_days,
        "gate_confidence": gate_confidence,
    }
    for model_id in models:  # raises ConfigError for the first bad value
        IncrementalUpdateConfig(model_id=model_id, as_of=as_of, seed=seed, **options)

    with task_runner(workers=workers, dask_address=dask_address, n_tasks=len(models)) as runner:
        common = {**options, "data": data, "seed": seed, "as_of": as_of}
        futures = {
            model_id: runner.submit(update_model, parameters={"model_id": model_id, **common})
            for model_id in models
        }
        reports = [report_of(model_id, future) for model_id, future in futures.items()]
    publish(reports, key=ARTIFACT_KEY, title=f"Daily update of {len(models)} model(s)")
    return final_state(reports)
