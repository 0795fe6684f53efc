"""The Prefect task that updates one model, and the retry policy that decides what to retry.

Both flows (``daily-update`` and ``adaptation``) run :func:`update_model`, once per model. The
task is a thin wrapper around :func:`online_learning.update.service.run_update`, so every
update a flow runs is recorded in the metrics store with its ``model_update`` outbox event.

What is retried
---------------
Prefect retries the task (``retries=2``, after 5 s then 30 s) only when
:func:`is_transient` says the error is transient: the registry or the metrics store briefly
unreachable or busy (:class:`~online_learning.errors.RegistryError`,
:class:`~online_learning.metrics_store.errors.StoreError`, ``OSError`` such as
``ConnectionError``/``TimeoutError``, SQLite's "database is locked"), also when the library
lets such an error through wrapped in another exception. A missing model, bad data or a bad
configuration (:class:`~online_learning.errors.ModelNotFoundError`,
:class:`~online_learning.errors.DataError`, :class:`~online_learning.errors.ConfigError`)
fails at once. A rollback is not an error at all: the task returns the
:class:`~online_learning.update.outcomes.RollbackResult`, and a returned value is never retried.

One update of a model at a time
-------------------------------
Each update holds the Prefect global concurrency limit ``online-learning-update-<model_id>``
(one slot, created on first use) while it runs, so the daily run, a drift adaptation and an
update job never update the same model at once; the second waits for the first. Updates of
different models do not wait for each other.

Workers may be other processes or machines (Dask): the task takes plain values and builds
its registry, data source and store from the worker's own settings (``ONLINE_LEARNING_HOME``,
``MLFLOW_TRACKING_URI``, ``ONLINE_LEARNING_DATABASE_URL``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.context import TaskRunContext
from prefect.exceptions import ObjectAlreadyExists
from prefect.states import State

from online_learning.configuration import load_configuration
from online_learning.configuration.plans import UpdatePlan, update_plan
from online_learning.data import resolve_source
from online_learning.errors import ConfigError, DataError, ModelNotFoundError, RegistryError
from online_learning.metrics_store import MetricsStore, StoreError
from online_learning.models.definition import ModelDefinition
from online_learning.settings import get_settings
from online_learning.update.config import IncrementalUpdateConfig, UpdateSettings
from online_learning.update.learner import OnlineLearner
from online_learning.update.outcomes import UpdateOutcome
from online_learning.update.service import run_update

#: Errors that retrying cannot fix.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ModelNotFoundError, DataError, ConfigError)
#: Errors of a dependency that is briefly unreachable or busy.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (RegistryError, StoreError, OSError)
#: ``OSError`` subclasses that mean a wrong path or permission, not an outage.
_MISCONFIGURATION: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
RETRY_DELAYS_S = [5, 30]


def is_transient(exc: BaseException) -> bool:
    """Whether retrying after ``exc`` may succeed.

    The exception and the errors it was raised from (``__cause__``, then ``__context__``)
    are examined in order; the first that is a known permanent or transient error decides.
    MLflow, for example, raises its own exception from SQLAlchemy's from sqlite3's
    "database is locked", which is transient.

    Examples
    --------
    >>> is_transient(RegistryError("registry unreachable"))
    True
    >>> is_transient(ModelNotFoundError("no champion"))
    False
    >>> try:
    ...     try:
    ...         raise sqlite3.OperationalError("database is locked")
    ...     except sqlite3.OperationalError as locked:
    ...         raise RuntimeError("could not read the registry") from locked
    ... except RuntimeError as wrapped:
    ...     is_transient(wrapped)
    True
    >>> is_transient(ValueError("a bug"))
    False
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PERMANENT_ERRORS + _MISCONFIGURATION):
            return False
        if isinstance(current, TRANSIENT_ERRORS) or _sqlite_busy(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _sqlite_busy(exc: BaseException) -> bool:
    message = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def retry_transient(task: Any, task_run: TaskRun, state: State) -> bool:
    """``retry_condition_fn`` of :func:`update_model`: retry only :func:`is_transient` errors."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)


def model_lock_name(model_id: str) -> str:
    """Name of the global concurrency limit that serialises updates of ``model_id``."""
    return f"online-learning-update-{model_id}"


def ensure_lock(name: str) -> str:
    """Create the one-slot global concurrency limit ``name`` unless it exists; return it."""
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    return name


def _job_id(model_id: str) -> str:
    """``<flow run id>/<model id>/<attempt>``: the history row links to the Prefect run, and
    an attempt that failed before a retry keeps its own row."""
    context = TaskRunContext.get()
    if context is None:
        return f"local/{model_id}"
    run = context.task_run
    return f"{run.flow_run_id}/{model_id}/{run.run_count}"


@task(
    name="update-model",
    task_run_name="update-{model_id}",
    retries=len(RETRY_DELAYS_S),
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
def update_model(
    model_id: str,
    config: IncrementalUpdateConfig,
    data: str,
    definition: dict[str, Any] | None = None,
) -> UpdateOutcome:
    """Incrementally update ``model_id`` with ``config`` on ``data`` through the recorded
    path; promote or keep the champion. ``definition`` (a
    :class:`~online_learning.models.definition.ModelDefinition` as a dict) is what the
    configuration says the model is: a champion that differs is not updated.

    Returns the :class:`~online_learning.update.outcomes.UpdateSuccess`,
    :class:`~online_learning.update.outcomes.RollbackResult` or
    :class:`~online_learning.update.outcomes.UpdateDeferred`; raises what the update raised.
    """
    # Imported here, where the update runs, not by everything that imports the flows (the
    # jobs API of the serving process has no use for MLflow's import time).
    from online_learning.registry import MlflowRegistry

    platform = get_settings()
    source = resolve_source(data, seed=config.seed)
    with MetricsStore.from_settings(platform) as store:
        # Reaching the store before training: an unreachable store fails (and is retried)
        # before the model is updated, not after.
        store.migrate()
        with concurrency(ensure_lock(model_lock_name(model_id)), occupy=1, strict=True):
            return run_update(
                learner=OnlineLearner(MlflowRegistry.from_settings(platform), source),
                store=store,
                config=config,
                definition=None if definition is None else ModelDefinition.from_dict(definition),
                job_id=_job_id(model_id),
                topic=platform.model_updates_topic,
            )


def plan_updates(
    model_ids: list[str],
    *,
    overrides: dict[str, Any],
    data: str | None,
    seed: int,
    as_of: date | None,
    base: UpdateSettings | None = None,
) -> list[UpdatePlan]:
    """The update of each model under the configuration (its settings, data and definition;
    ``overrides``, ``data`` and ``base`` as in
    :func:`~online_learning.configuration.plans.update_plan`). Raises
    :class:`~online_learning.errors.ConfigError` for the first bad value, before any model is
    touched."""
    configuration = load_configuration()
    registry = None

    def recorded(model_id: str):
        def read() -> str | None:
            nonlocal registry
            if registry is None:
                from online_learning.registry import MlflowRegistry

                registry = MlflowRegistry.from_settings(get_settings())
            definition = registry.champion_definition(model_id)
            return None if definition is None else definition.data

        return read

    return [
        update_plan(configuration, m, overrides=overrides, base=base, data=data, seed=seed,
                    as_of=as_of, recorded_data=recorded(m))
        for m in model_ids
    ]  # fmt: skip


def plan_parameters(plan: UpdatePlan) -> dict[str, Any]:
    """The :func:`update_model` parameters of a plan."""
    return {
        "model_id": plan.config.model_id,
        "config": plan.config,
        "data": plan.data,
        "definition": None if plan.definition is None else plan.definition.to_dict(),
    }
