"""Run one update and record it: history row and ``model_update`` event in one transaction.

This is what the CLI, the Prefect flows and the serving API's update jobs call. The broker is
never on this path: the event goes to the outbox with the history row, and the
:class:`~online_learning.events.relay.OutboxRelay` delivers it, now or once the broker is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import pandas as pd

from online_learning.events.schema import (
    MODEL_UPDATES_TOPIC,
    ModelUpdateEvent,
    OutboxEvent,
    utc_now,
)
from online_learning.metrics_store import UpdateRecord
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.incremental_trainer import OnlineLearner
from online_learning.update.outcomes import UpdateOutcome


class UpdateRecorder(Protocol):
    def record_update(self, record: UpdateRecord, events: list[OutboxEvent]) -> None: ...


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
) -> UpdateOutcome:
    """Run ``learner.incremental_update(config)`` and record what happened.

    A promoted or rolled-back update writes its history row and its event together. An
    update that raises is recorded as ``failed`` (with its event) and the error is raised
    again, so callers still see it.
    """
    job_id = job_id or new_job_id()
    started = utc_now()
    try:
        outcome = learner.incremental_update(config, transform_train=transform_train)
    except Exception as exc:
        finished = utc_now()
        _record_failure(store, config, job_id, exc, started, finished, topic)
        if observer is not None:
            observer.observe_failure(config.model_id, (finished - started).total_seconds())
        raise
    finished = utc_now()
    record = UpdateRecord.from_outcome(
        outcome, job_id=job_id, config=config.to_params(), started_at=started, finished_at=finished
    )
    event = ModelUpdateEvent.from_outcome(
        outcome,
        job_id=job_id,
        data_window=config.data_window,
        started_at=started,
        finished_at=finished,
    )
    store.record_update(record, [event.to_outbox(topic)])
    if observer is not None:
        observer.observe(outcome, fisher_stats=outcome.fisher_stats or None)
    return outcome


def _record_failure(
    store: UpdateRecorder,
    config: IncrementalUpdateConfig,
    job_id: str,
    exc: BaseException,
    started: datetime,
    finished: datetime,
    topic: str,
) -> None:
    error = f"{type(exc).__name__}: {exc}"
    record = UpdateRecord.from_error(
        exc,
        model_id=config.model_id,
        job_id=job_id,
        config=config.to_params(),
        started_at=started,
        finished_at=finished,
    )
    event = ModelUpdateEvent.failed(
        model_id=config.model_id,
        error=error,
        job_id=job_id,
        data_window=config.data_window,
        started_at=started,
        finished_at=finished,
    )
    store.record_update(record, [event.to_outbox(topic)])
