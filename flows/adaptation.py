"""``adaptation``: a shorter, more conservative update of one model after a drift signal.

Started by the ``drift-adaptation`` deployment's trigger when the feedback service emits
``online_learning.drift.detected`` for a model (see :mod:`flows.events`), or by hand. It runs
the same :func:`~flows.updates.update_model` task as the daily update, through the same
stability gate (which cannot be switched off here), with a profile chosen by the reason:

==============  ===========  ================  =============  ==============
reason          window days  learning rate     EWC lambda     epochs
==============  ===========  ================  =============  ==============
daily (ref.)    60           default (D)       default (L)    default (E)
drift           40           D / 2             2 L            E
performance     45           D / 2             2 L            E
regime_change   30           D                 L              E
==============  ===========  ================  =============  ==============

(D, L and E are the measured defaults of
:class:`~online_learning.update.config.IncrementalUpdateConfig`.) Shorter windows weigh the
recent days that raised the alarm; a smaller step (and, unless the regime changed, a stronger
pull towards the champion's weights) keeps one alarm from moving the model far. After a regime
change the old weights are the wrong anchor, so the pull stays at the daily value and the
window is the shortest allowed. An adaptation goes through the same gate, which judges only
validation days no earlier decision judged (it waits when too few are new).

The run publishes the ``drift-adaptation`` table artifact and ends Completed (promoted or
rolled back) or Failed (the update raised), as described in :mod:`flows.report`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow
from prefect.states import State

from flows.events import Reason
from flows.report import final_state, publish, report_of
from flows.updates import update_model
from online_learning.update.config import (
    DEFAULT_EPOCHS,
    DEFAULT_EWC_LAMBDA,
    DEFAULT_LEARNING_RATE,
    IncrementalUpdateConfig,
    UpdateSettings,
)

ARTIFACT_KEY = "drift-adaptation"


_CAUTIOUS = {
    "learning_rate": DEFAULT_LEARNING_RATE / 2,
    "ewc_lambda": 2 * DEFAULT_EWC_LAMBDA,
    "epochs": DEFAULT_EPOCHS,
}
#: The settings each reason changes (the others keep their defaults).
PROFILES: dict[str, dict[str, Any]] = {
    "drift": {"data_window": 40, **_CAUTIOUS},
    "performance": {"data_window": 45, **_CAUTIOUS},
    "regime_change": {
        "data_window": 30,
        "learning_rate": DEFAULT_LEARNING_RATE,
        "ewc_lambda": DEFAULT_EWC_LAMBDA,
        "epochs": DEFAULT_EPOCHS,
    },
}


@flow(name="adaptation", flow_run_name="adapt-{model_id}-{reason}", validate_parameters=True)
def adaptation(
    model_id: str,
    reason: Reason = "drift",
    data: str = "synthetic",
    seed: int = 0,
    as_of: date | None = None,
) -> State:
    """Adapt ``model_id`` after a ``reason`` signal: the reason's profile, the usual gate."""
    settings = UpdateSettings(**PROFILES[reason], stability_check=True)
    IncrementalUpdateConfig.of(model_id, settings, as_of=as_of, seed=seed)
    future = update_model.submit(
        model_id=model_id, settings=settings, data=data, seed=seed, as_of=as_of
    )
    reports = [report_of(model_id, future)]
    publish(reports, key=ARTIFACT_KEY, title=f"Adaptation of {model_id} after {reason}")
    return final_state(reports)
