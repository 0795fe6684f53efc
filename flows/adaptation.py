"""``adaptation``: a shorter, more conservative update of one model after a drift signal.

Started by the ``drift-adaptation`` deployment's trigger when the feedback service emits
``online_learning.drift.detected`` for a model (see :mod:`flows.events`), or by hand. It runs
the same :func:`~flows.updates.update_model` task as the daily update, through the same
stability gate (which cannot be switched off here), with a profile chosen by the reason:

==============  ===========  ================  =============  ==============
reason          window days  learning rate     EWC lambda     epochs
==============  ===========  ================  =============  ==============
daily (ref.)    the model's  the model's (D)   the model's (L)  the model's (E)
drift           40           D / 2             2 L            E
performance     45           D / 2             2 L            E
regime_change   30           D                 L              E
==============  ===========  ================  =============  ==============

(D, L and E are the model's configured settings, by default the measured defaults of
:class:`~online_learning.update.config.UpdateSettings`.) Shorter windows weigh the
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

from prefect import flow
from prefect.states import State

from flows.events import Reason
from flows.report import final_state, publish, report_of
from flows.updates import plan_parameters, plan_updates, update_model

ARTIFACT_KEY = "drift-adaptation"


#: Each reason's window (trading days) and factors on the model's learning rate and lambda.
PROFILES: dict[str, dict[str, float]] = {
    "drift": {"data_window": 40, "learning_rate": 0.5, "ewc_lambda": 2.0},
    "performance": {"data_window": 45, "learning_rate": 0.5, "ewc_lambda": 2.0},
    "regime_change": {"data_window": 30, "learning_rate": 1.0, "ewc_lambda": 1.0},
}


@flow(name="adaptation", flow_run_name="adapt-{model_id}-{reason}", validate_parameters=True)
def adaptation(
    model_id: str,
    reason: Reason = "drift",
    data: str | None = None,
    seed: int = 0,
    as_of: date | None = None,
) -> State:
    """Adapt ``model_id`` after a ``reason`` signal: the reason's profile over the model's
    configured settings, on its own data (unless ``data`` says otherwise), the usual gate."""
    [usual] = plan_updates([model_id], overrides={}, data=data, seed=seed, as_of=as_of)
    profile = PROFILES[reason]
    overrides = {
        "data_window": int(profile["data_window"]),
        "learning_rate": usual.config.learning_rate * profile["learning_rate"],
        "ewc_lambda": usual.config.ewc_lambda * profile["ewc_lambda"],
        "stability_check": True,
    }
    [plan] = plan_updates([model_id], overrides=overrides, data=data, seed=seed, as_of=as_of)
    future = update_model.submit(**plan_parameters(plan))
    reports = [report_of(model_id, future)]
    publish(reports, key=ARTIFACT_KEY, title=f"Adaptation of {model_id} after {reason}")
    return final_state(reports)
