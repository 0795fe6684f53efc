"""Every orchestrated path updates a configured model on its own data: the daily flow, a drift
adaptation and an update job (the bug: they used to train on the synthetic market)."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.adaptation import adaptation
from flows.daily_update import daily_update
from flows.jobs import get_job, submit_update
from online_learning.configuration import load_configuration
from online_learning.configuration.plans import training_plan
from online_learning.data import resolve_source
from online_learning.update.bootstrap import train_and_register
from tests.utils.waiting import wait_for

MODEL = "team_index"
CONFIG = f"""
[models.{MODEL}]
network = "builtin"
features = "builtin"
data = "sp500"
window_days = 45
epochs = 2
"""
SP500_LAST_DAY = "2018-12-31"


@pytest.fixture
def configured(home, registry, monkeypatch, tmp_path):
    """A team's model on the bundled S&P 500 index (1999-2018), bootstrapped up to 2017."""
    path = tmp_path / "online-learning.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("ONLINE_LEARNING_CONFIG", str(path))
    plan = training_plan(load_configuration(), MODEL)
    train_and_register(
        registry=registry,
        source=resolve_source(plan.data),
        model_id=MODEL,
        definition=plan.definition,
        end=dt.date(2017, 12, 29),
        epochs=3,
    )
    return path


def _on_own_data(record) -> None:
    assert record.decision in ("promoted", "rolled_back", "deferred"), record
    # The synthetic market runs 2015-2022: a window ending in 2018 and judged there is the
    # index's, and the champion's recorded definition agreed with the configuration.
    assert record.window_end <= SP500_LAST_DAY, record
    assert record.config["data_window"] in (45, 40), record


def test_the_daily_flow_and_an_adaptation_update_on_the_models_own_data(
    prefect_api, configured, metrics_store
):
    state = daily_update(return_state=True)  # no model named: the configured ones
    assert state.is_completed(), state
    [row] = state.result()
    assert row["model"] == MODEL and row["window_end"] <= SP500_LAST_DAY, row

    state = adaptation(model_id=MODEL, reason="drift", return_state=True)
    assert state.is_completed(), state
    records = metrics_store.update_history(model_id=MODEL)
    assert len(records) == 2
    for record in records:
        _on_own_data(record)
    adapted = records[0]  # newest first
    assert adapted.config["data_window"] == 40  # the drift profile's window


def test_an_update_job_trains_on_the_models_own_data(
    prefect_api, configured, metrics_store, home, monkeypatch
):
    from flows.serve import serving

    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with serving(prefect_api, log_path=home / "serve.log", poll_seconds=1):
        job_id = submit_update(MODEL, learning_rate=2e-4)
        job = wait_for(
            lambda: (lambda j: j if j.final else None)(get_job(job_id)),
            timeout_s=240,
            what="the job to finish",
            every_s=1.0,
        )
    assert job.status in ("promoted", "rolled_back", "deferred"), job
    [record] = metrics_store.update_history(model_id=MODEL)
    _on_own_data(record)
    assert record.config["learning_rate"] == 2e-4
    assert job.result.window_end == record.window_end


ESTIMATOR = "team_trees"
ESTIMATOR_CONFIG = f"""
[models.{ESTIMATOR}]
estimator = "sklearn.ensemble:HistGradientBoostingClassifier"
estimator_params = {{ max_iter = 10, max_depth = 3 }}
data = "sp500"
window_days = 45
policy = "warm_start"
stability_check = false
"""


def test_a_drift_adaptation_warm_starts_an_estimator_on_its_own_data(
    prefect_api, home, registry, metrics_store, monkeypatch, tmp_path
):
    path = tmp_path / "online-learning.toml"
    path.write_text(ESTIMATOR_CONFIG)
    monkeypatch.setenv("ONLINE_LEARNING_CONFIG", str(path))
    plan = training_plan(load_configuration(), ESTIMATOR)
    train_and_register(
        registry=registry, source=resolve_source(plan.data), model_id=ESTIMATOR,
        definition=plan.definition, end=dt.date(2017, 12, 29),
    )  # fmt: skip

    state = adaptation(model_id=ESTIMATOR, reason="drift", return_state=True)

    assert state.is_completed(), state
    [record] = metrics_store.update_history(model_id=ESTIMATOR)
    _on_own_data(record)
    assert record.decision == "promoted" and record.config["data_window"] == 40, record
    champion = registry.load_champion(ESTIMATOR)
    assert champion.version == record.version
    assert champion.model.estimator.max_iter == 20  # the champion's 10 iterations, and 10 more
