"""Run one update and record it: history row and ``model_update`` event in one transaction.

This is what the CLI, the Prefect flows and the serving API's update jobs call. The broker is
never on this path: the event goes to the outbox with the history row, and the
:class:`~online_learning.events.relay.OutboxRelay` delivers it, now or once the broker is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

import pandas as pd

from online_learning.events.schema import (
    MODEL_UPDATES_TOPIC,
    ModelUpdateEvent,
    OutboxEvent,
    utc_now,
)
from online_learning.metrics_store import UpdateRecord
from online_learning.metrics_store.records import this_worker
from online_learning.models.definition import ModelDefinition
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner
from online_learning.update.outcomes import GATE_REASONS, UpdateOutcome
from online_learning.update_result import UpdateResult


class UpdateRecorder(Protocol):
    def record_update(self, record: UpdateRecord, events: list[OutboxEvent]) -> None: ...


def last_judged_day(store: object, model_id: str) -> date | None:
    """The last validation day the gate judged for ``model_id``, from the update history.

    It is the ``window_end`` of the newest recorded update whose gate decided (promoted or
    rejected on its validation days); ``None`` when there is none or the store keeps no
    history (a recorder without ``update_history``).

    Examples
    --------
    >>> last_judged_day(object(), "m") is None
    True
    """
    history = getattr(store, "update_history", None)
    if history is None:
        return None
    for record in history(model_id=model_id, limit=200):
        if record.reason in GATE_REASONS and record.window_end:
            return date.fromisoformat(str(record.window_end)[:10])
    return None


class UpdateObserver(Protocol):
    """Anything that wants to see outcomes as they happen (Prometheus metrics, logs)."""

    def observe(self, outcome: UpdateOutcome, **kwargs: object) -> None: ...

    def observe_failure(self, model_id: str, duration_s: float) -> None: ...


def new_job_id() -> str:
    return uuid.uuid4().hex


def run_update(
    *,
    learner: OnlineLearner,
    store: UpdateRecorder,
    config: IncrementalUpdateConfig,
    job_id: str | None = None,
    topic: str = MODEL_UPDATES_TOPIC,
    observer: UpdateObserver | None = None,
    transform_train: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    definition: ModelDefinition | None = None,
) -> UpdateOutcome:
    """Run ``learner.incremental_update(config)`` and record what happened.

    A promoted or rolled-back update writes its history row and its event together. An
    update that raises is recorded as ``failed`` (with its event) and the error is raised
    again, so callers still see it. Unless ``config.judged_through`` is set, the validation
    days an earlier decision of the model judged are read from the store
    (:func:`last_judged_day`) and not judged again. ``definition`` is what the configuration
    says the model is: an update whose champion differs is refused (and recorded as failed).
    """
    if config.judged_through is None:
        judged = last_judged_day(store, config.model_id)
        if judged is not None:
            config = config.replace(judged_through=judged)
    job_id = job_id or new_job_id()
    started = utc_now()
    try:
        outcome = learner.incremental_update(
            config, transform_train=transform_train, definition=definition
        )
    except Exception as exc:
        finished = utc_now()
        failure = UpdateResult(
            model_id=config.model_id, decision="failed", reason=f"{type(exc).__name__}: {exc}"
        )
        _record(store, config, failure, job_id, started, finished, topic)
        if observer is not None:
            observer.observe_failure(config.model_id, (finished - started).total_seconds())
        raise
    _record(store, config, outcome.result(), job_id, started, utc_now(), topic)
    if observer is not None:
        observer.observe(outcome, fisher_stats=outcome.fisher_stats or None)
    return outcome


def _record(
    store: UpdateRecorder,
    config: IncrementalUpdateConfig,
    result: UpdateResult,
    job_id: str,
    started: datetime,
    finished: datetime,
    topic: str,
) -> None:
    """The history row and the ``model_update`` event of ``result``, in one transaction."""
    times = {"job_id": job_id, "started_at": started, "finished_at": finished}
    record = UpdateRecord.of(result, config=config.to_params(), worker=this_worker(), **times)
    event = ModelUpdateEvent.of(result, data_window=config.data_window, **times)
    store.record_update(record, [event.to_outbox(topic)])
