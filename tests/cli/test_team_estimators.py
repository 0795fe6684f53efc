"""A team's scikit-learn-API estimators through the command line: a LightGBM classifier on
the team's own features and a scikit-learn regressor of the 5-day return, configured in a TOML
file, trained, updated by retraining and by warm start, promoted, rolled back, refused by the
gate, and loaded with MLflow's own flavour in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import EXIT_DEFERRED, EXIT_ERROR, app
from online_learning.models.estimator import ContractEstimator
from online_learning.registry import MlflowRegistry
from online_learning.settings import get_settings
from tests.utils.team_code import STOCKS

runner = CliRunner()

CONFIG = """
[models.team_lgbm]
estimator = "lightgbm:LGBMClassifier"
estimator_params = {{ n_estimators = 30, num_leaves = 7, min_child_samples = 10, verbose = -1 }}
features = "acme_models.features:momentum"
data = "{stocks}"
symbols = {symbols}
window_days = 60
policy = "warm_start"

[models.team_trees]
estimator = "sklearn.ensemble:HistGradientBoostingRegressor"
estimator_params = {{ max_iter = 20, max_depth = 3 }}
target = "return"
horizon_days = 5
data = "sp500"
window_days = 60
policy = "retrain"
"""


@pytest.fixture
def team(configure_team) -> Path:
    return configure_team(CONFIG)


def run(*args: str):
    return runner.invoke(app, list(args))


def update(model_id: str, *options: str) -> dict:
    result = run("update", "--model-id", model_id, "--json", *options)
    assert result.stdout.startswith("["), result.output
    [outcome] = json.loads(result.stdout)
    return outcome


def load_in_a_fresh_process(model_id: str, home: Path, columns: list[str]) -> list[str]:
    """``mlflow.pyfunc.load_model`` of the champion where the team's code is not installed:
    its flavour, and the shape of its predictions on three rows."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = get_settings().tracking_uri
    script = textwrap.dedent(
        f"""
        import mlflow.pyfunc, numpy as np, pandas as pd
        try:
            import acme_models
        except ImportError:
            pass
        else:
            raise SystemExit("the team's code should not be importable here")
        model = mlflow.pyfunc.load_model("models:/{model_id}@champion")
        rows = pd.DataFrame(np.zeros((3, {len(columns)})), columns={columns!r})
        print(model.loader_module, np.asarray(model.predict(rows)).shape)
        """
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=home, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    return loaded.stdout.split()


def test_a_lightgbm_classifier_warm_starts_is_promoted_rolled_back_and_refused(team, home):
    trained = run("train", "--model-id", "team_lgbm", "--end", "2019-06-28")
    assert trained.exit_code == 0, trained.output
    registry = MlflowRegistry.from_settings(get_settings())
    first = registry.load_champion("team_lgbm")
    assert isinstance(first.model, ContractEstimator)
    assert type(first.model.estimator).__name__ == "LGBMClassifier"
    assert first.definition.kind == "estimator" and first.ewc_state is None
    assert first.definition.feature_names == ("mom_5", "mom_20", "vol_20")
    assert first.model.estimator.booster_.num_trees() == 30
    p_up = first.model.predict_proba(np.zeros((2, 3)))
    assert p_up.shape == (2,) and np.all((p_up > 0) & (p_up < 1))

    # Warm start: the window's 30 trees are added to the champion's 30.
    promoted = update("team_lgbm", "--as-of", "2019-09-30", "--no-stability-check")
    assert promoted["decision"] == "promoted", promoted
    assert promoted["n_train"] > 0 and promoted["judged_start"] is not None
    second = registry.load_champion("team_lgbm")
    assert second.version == promoted["version"] != first.version
    assert second.model.estimator.booster_.num_trees() == 60

    rolled = run("rollback", "--model-id", "team_lgbm")
    assert rolled.exit_code == 0, rolled.output
    assert registry.champion_version("team_lgbm") == first.version

    # Too few rows to judge a candidate on: deferred before training, the champion stays.
    refused = run("update", "--model-id", "team_lgbm", "--as-of", "2019-12-31", "--json",
                  "--min-validation-samples", "100000")  # fmt: skip
    assert refused.exit_code == EXIT_DEFERRED, refused.output
    [outcome] = json.loads(refused.stdout)
    assert (outcome["decision"], outcome["reason"]) == ("deferred", "insufficient_validation_data")
    assert outcome["sharpe_post"] is None, outcome
    assert registry.champion_version("team_lgbm") == first.version

    flavour, shape = load_in_a_fresh_process("team_lgbm", home, ["mom_5", "mom_20", "vol_20"])
    assert (flavour, shape) == ("mlflow.lightgbm", "(3,)")


def test_a_scikit_learn_regressor_of_the_5_day_return_retrains_then_warm_starts(team, home):
    trained = run("train", "--model-id", "team_trees", "--start", "2010-01-04",
                  "--end", "2014-12-31")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    registry = MlflowRegistry.from_settings(get_settings())
    first = registry.load_champion("team_trees")
    assert type(first.model.estimator).__name__ == "HistGradientBoostingRegressor"
    assert (first.definition.target, first.definition.horizon_days) == ("return", 5)
    assert first.model.target_scale > 0  # the spread of the 5-day returns it learned

    retrained = update("team_trees", "--as-of", "2015-03-31", "--no-stability-check")
    assert retrained["decision"] == "promoted", retrained
    second = registry.load_champion("team_trees")
    assert second.model.estimator.max_iter == 20  # from scratch: as many iterations as v1
    assert second.model.target_scale == pytest.approx(first.model.target_scale, rel=0.5)

    # The same model maintained by warm start from now on: its iterations accumulate.
    team.write_text(team.read_text().replace('policy = "retrain"', 'policy = "warm_start"'))
    continued = update("team_trees", "--as-of", "2015-06-30", "--no-stability-check")
    assert continued["decision"] == "promoted", continued
    third = registry.load_champion("team_trees")
    assert third.model.estimator.max_iter == 40
    assert third.model.target_scale == second.model.target_scale  # p_up keeps its meaning

    names = list(first.definition.feature_names)
    assert load_in_a_fresh_process("team_trees", home, names) == ["mlflow.sklearn", "(3,)"]


LGBM = "lightgbm:LGBMClassifier"
LGBM_PARAMS = "n_estimators = 30, num_leaves = 7, min_child_samples = 10, verbose = -1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ([('policy = "warm_start"', 'policy = "ewc"')],
         "policy 'ewc' needs a network; an estimator: retrain or warm_start"),
        ([(LGBM, "sklearn.neighbors:KNeighborsClassifier"), (LGBM_PARAMS, "")],
         "a KNeighborsClassifier has none: use policy 'retrain'"),
        ([(LGBM, "sklearn.linear_model:LinearRegression"), (LGBM_PARAMS, "")],
         "a LinearRegression has no predict_proba(); an estimator for target 'direction'"),
        ([(LGBM, "sklearn.ensemble:HistGradientBoostingClassifier")],
         "unexpected keyword argument 'n_estimators'"),
    ],
)  # fmt: skip
def test_an_estimator_that_does_not_fit_the_contract_is_refused_naming_the_model(
    team, changes, message
):
    config = team.read_text()
    for old, new in changes:
        config = config.replace(old, new)
    team.write_text(config)
    refused = run("train", "--model-id", "team_lgbm", "--end", "2019-06-28")
    assert refused.exit_code == EXIT_ERROR
    output = " ".join(refused.output.split())
    assert message in output
    assert "[models.team_lgbm]" in output
    assert MlflowRegistry.from_settings(get_settings()).champion_version("team_lgbm") is None


def test_the_backtest_compares_an_estimators_policies_on_its_own_data(team, tmp_path):
    out = tmp_path / "backtest"
    result = run(
        "backtest", "--model-id", "team_lgbm", "--start", "2019-01-02", "--data-seeds", "1",
        "--update-every", "5", "--holdout-days", "20", "--horizon", "30", "--workers", "1",
        "--no-plots", "--output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    [definition] = document["config"]["definitions"]
    assert (definition["kind"], definition["entry"]) == ("estimator", "lightgbm:LGBMClassifier")
    [environment] = document["environments"].values()
    assert set(environment["policies"]) == {"static", "retrain", "warm_start"}
    policies = environment["policies"]
    # Both maintenance policies decided every scheduled update through the gate; the full
    # retrain of a network never ran; static never changed its model.
    for name in ("retrain", "warm_start"):
        assert policies[name]["updates"]["mean"] > 10, policies[name]["updates"]
        assert policies[name]["retrains"]["mean"] == 0
    assert policies["static"]["updates"]["mean"] == 0
    traded = policies["warm_start"]["cross_section"]["by_symbol"]
    assert set(traded) == set(STOCKS)


def test_a_backtest_refuses_a_networks_policy_for_an_estimator(team):
    refused = run("backtest", "--model-id", "team_lgbm", "--policy", "static,ewc",
                  "--no-plots")  # fmt: skip
    assert refused.exit_code == EXIT_ERROR
    assert "model 'team_lgbm' is an estimator: policies ['ewc'] do not apply to it" in " ".join(
        refused.output.split()
    )
