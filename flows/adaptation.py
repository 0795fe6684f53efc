"""``adaptation``: a shorter, more conservative update of one model after a drift signal.

Started by the ``drift-adaptation`` deployment's trigger when the feedback service emits
``online_learning.drift.detected`` for a model (see :mod:`flows.events`), or by hand. It runs
the same :func:`~flows.updates.update_model` task as the daily update, through the same
stability gate (which cannot be switched off here), with a profile chosen by the reason:

==============  ===========  =============  ==========  ======
reason          window days  learning rate  EWC lambda  epochs
==============  ===========  =============  ==========  ======
daily (ref.)    60           1e-5           1000        10
drift           40           5e-6           2000        5
performance     45           5e-6           2000        5
regime_change   30           5e-6           1000        5
==============  ===========  =============  ==========  ======

Shorter windows weigh the recent days that raised the alarm; smaller steps and fewer epochs
(and, unless the regime changed, a stronger pull towards the champion's weights) keep one
alarm from moving the model far. After a regime change the old weights are the wrong anchor,
so the EWC pull stays at the daily value and the window is the shortest allowed.

The run publishes the ``drift-adaptation`` table artifact and ends Completed (promoted or
rolled back) or Failed (the update raised), as described in :mod:`flows.report`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from prefect import flow
from prefect.states import State

from flows.events import Reason
from flows.report import final_state, publish, report_of
from flows.updates import update_model
from online_learning.update.config import IncrementalUpdateConfig

ARTIFACT_KEY = "drift-adaptation"


@dataclass(frozen=True)
class AdaptationProfile:
    data_window: int
    learning_rate: float
    ewc_lambda: float
    epochs: int


PROFILES: dict[str, AdaptationProfile] = {
    "drift": AdaptationProfile(data_window=40, learning_rate=5e-6, ewc_lambda=2000.0, epochs=5),
    "performance": AdaptationProfile(
        data_window=45, learning_rate=5e-6, ewc_lambda=2000.0, epochs=5
    ),
    "regime_change": AdaptationProfile(
        data_window=30, learning_rate=5e-6, ewc_lambda=1000.0, epochs=5
    ),
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
    profile = asdict(PROFILES[reason])
    IncrementalUpdateConfig(model_id=model_id, as_of=as_of, seed=seed, **profile)
    future = update_model.submit(
        model_id=model_id, **profile, stability_check=True, data=data, seed=seed, as_of=as_of
    )
    reports = [report_of(model_id, future)]
    publish(reports, key=ARTIFACT_KEY, title=f"Adaptation of {model_id} after {reason}")
    return final_state(reports)
