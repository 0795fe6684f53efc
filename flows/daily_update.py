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
from typing import Any

from prefect import flow
from prefect.states import State
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.parameters import with_update_settings
from flows.report import final_state, publish, report_of
from flows.updates import plan_parameters, plan_updates, update_model
from online_learning.configuration import load_configuration

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
@with_update_settings
def daily_update(
    model_ids: list[str] | None = None,
    data: str | None = None,
    seed: int = 0,
    as_of: date | None = None,
    workers: int = 1,
    dask_address: str | None = None,
    *,
    overrides: dict[str, Any],
) -> State:
    """Update each model on its latest window; promote or roll back.

    ``model_ids`` defaults to every configured model (``$ONLINE_LEARNING_CONFIG``,
    ``./online-learning.toml``, else the three regime specialists). Each updates with its
    configured settings on its own data; ``data`` (a source for every model) and the update
    settings given (``data_window_days``, ``learning_rate``, ``ewc_lambda``, ... : the
    parameters of :class:`~online_learning.update.config.UpdateSettings`) override them.
    ``as_of`` is the last day the update may use (default: the latest the source has).
    ``workers`` > 1 runs the models in parallel on a local Dask cluster of that many
    processes, ``dask_address`` on an existing Dask scheduler. Invalid values fail the run
    before any model is touched.
    """
    models = list(dict.fromkeys(model_ids or default_models()))
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    plans = plan_updates(models, overrides=overrides, data=data, seed=seed, as_of=as_of)

    with task_runner(workers=workers, dask_address=dask_address, n_tasks=len(models)) as runner:
        futures = {
            plan.config.model_id: runner.submit(update_model, parameters=plan_parameters(plan))
            for plan in plans
        }
        reports = [report_of(model_id, future) for model_id, future in futures.items()]
    publish(reports, key=ARTIFACT_KEY, title=f"Daily update of {len(models)} model(s)")
    return final_state(reports)


def default_models() -> tuple[str, ...]:
    """The models a run updates when none are named: the configured ones."""
    return load_configuration().ids
