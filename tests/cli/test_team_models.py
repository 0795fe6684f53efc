"""A team's own models through the command line: a GRU over sequences of its own features and
a small network predicting a 5-day return, configured in a TOML file, trained and updated on
the bundled real data; look-ahead features refused; a champion that loads where the team's
code is not installed; a day on which a symbol has not arrived held back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import EXIT_ERROR, app
from online_learning.data import FileSource
from online_learning.registry import MlflowRegistry
from online_learning.settings import get_settings
from tests.utils.team_code import STOCKS

runner = CliRunner()

CONFIG = """
[models.team_gru]
network = "acme_models.nets:make_gru"
network_params = {{ hidden = 8 }}
features = "acme_models.features:momentum"
sequence_length = 10
data = "{stocks}"
symbols = {symbols}
window_days = 40
epochs = 2

[models.team_return]
network = "acme_models.nets:make_mlp"
target = "return"
horizon_days = 5
data = "sp500"
policy = "finetune"
window_days = 40
epochs = 2
"""


@pytest.fixture
def team(configure_team) -> Path:
    return configure_team(CONFIG)


def run(*args: str):
    result = runner.invoke(app, list(args))
    return result


def test_a_gru_over_sequences_of_its_own_features_trains_updates_and_loads_anywhere(team, home):
    trained = run("train", "--model-id", "team_gru", "--end", "2019-06-28", "--epochs", "3")
    assert trained.exit_code == 0, trained.output
    registry = MlflowRegistry.from_settings(get_settings())
    champion = registry.load_champion("team_gru")
    definition = champion.definition
    assert (definition.entry, definition.features) == (
        "acme_models.nets:make_gru", "acme_models.features:momentum"
    )  # fmt: skip
    assert definition.feature_names == ("mom_5", "mom_20", "vol_20")
    assert (definition.sequence_length, definition.symbols) == (10, tuple(STOCKS))
    assert definition.data.endswith("stocks.csv")
    p_up = champion.model.predict_proba(np.zeros((2, 10, 3), dtype=np.float32))
    assert p_up.shape == (2,) and np.all((p_up > 0) & (p_up < 1))

    updated = run("update", "--model-id", "team_gru", "--as-of", "2019-09-30", "--json")
    [outcome] = json.loads(updated.stdout)
    assert outcome["decision"] in ("promoted", "rolled_back"), outcome
    assert outcome["reason"] not in ("inconsistent_data", "non_finite_data"), outcome
    assert outcome["window_end"] <= "2019-09-30" and outcome["judged_start"] is not None
    assert outcome["n_validation"] > 0

    # A fresh process without the team's package on the path loads and uses the champion.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = get_settings().tracking_uri
    script = textwrap.dedent(
        """
        import sys, mlflow.pytorch, numpy as np
        assert not any("team_code" in p for p in sys.path), sys.path
        try:
            import acme_models
        except ImportError:
            pass
        else:
            raise SystemExit("the team's code should not be importable here")
        model = mlflow.pytorch.load_model("models:/team_gru@champion")
        p_up = model.predict_proba(np.zeros((3, 10, 3), np.float32))
        print(type(model.net).__module__, p_up.shape)
        """
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=home, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["acme_models.nets", "(3,)"]


def test_a_network_predicting_a_5_day_return_trains_on_its_own_labels_and_updates(team):
    trained = run("train", "--model-id", "team_return", "--start", "2010-01-04",
                  "--end", "2014-12-31", "--epochs", "3")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    registry = MlflowRegistry.from_settings(get_settings())
    champion = registry.load_champion("team_return")
    assert (champion.definition.target, champion.definition.horizon_days) == ("return", 5)
    assert float(champion.model.target_scale) > 0  # the spread of 5-day returns it learned
    updated = run("update", "--model-id", "team_return", "--as-of", "2015-06-30", "--json")
    [outcome] = json.loads(updated.stdout)
    assert outcome["decision"] in ("promoted", "rolled_back"), outcome
    assert outcome["reason"] not in ("inconsistent_data", "non_finite_data"), outcome


def test_an_update_on_other_data_than_the_champions_is_refused(team, stocks_csv):
    assert run("train", "--model-id", "team_return", "--end", "2014-12-31",
               "--epochs", "1").exit_code == 0  # fmt: skip
    refused = run("update", "--model-id", "team_return", "--data", "synthetic")
    assert refused.exit_code == EXIT_ERROR
    assert "does not match its champion" in refused.output
    assert "data: the champion's is 'sp500', this update's 'synthetic'" in refused.output


def test_features_that_look_ahead_are_refused_naming_the_column_and_the_day(
    team, home, monkeypatch
):
    config = team.read_text().replace(
        "acme_models.features:momentum", "acme_models.features:peeking"
    )
    team.write_text(config)
    refused = run("train", "--model-id", "team_gru", "--end", "2019-06-28")
    assert refused.exit_code == EXIT_ERROR
    assert "feature 'tomorrow' looks ahead" in refused.output
    assert "on 2018-" in refused.output or "on 2019-" in refused.output
    registry = MlflowRegistry.from_settings(get_settings())
    assert registry.champion_version("team_gru") is None  # nothing registered half-way


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("acme_models.nets:make_gru", "acme_models.nets:make_wrong_output"),
         "must return (3, 2) on an input of shape (3, 10, 3), got (3, 10, 3)"),
        (("acme_models.nets:make_gru", "acme_models.nope:make"),
         "cannot import 'acme_models.nope'"),
        (("hidden = 8", "hidden = 8, layers = 2"), "unexpected keyword argument 'layers'"),
    ],
)  # fmt: skip
def test_a_network_that_does_not_fit_the_contract_is_refused_naming_the_model(
    team, change, message
):
    team.write_text(team.read_text().replace(*change))
    refused = run("train", "--model-id", "team_gru", "--end", "2019-06-28")
    assert refused.exit_code == EXIT_ERROR
    assert message in refused.output
    assert f"{team}: [models.team_gru] network" in refused.output


def test_a_day_on_which_a_symbol_has_not_arrived_is_held_back_until_it_has(
    team, stocks_csv, tmp_path
):
    assert run("train", "--model-id", "team_gru", "--end", "2019-06-28",
               "--epochs", "1").exit_code == 0  # fmt: skip
    prices = FileSource(stocks_csv).fetch()
    last = prices["date"].max()
    partial = prices[~((prices["date"] == last) & (prices["symbol"] == "XOM"))]
    arrived = tmp_path / "partial.csv"
    partial.to_csv(arrived, index=False)
    stocks_csv_backup = stocks_csv.read_bytes()
    try:
        stocks_csv.write_bytes(arrived.read_bytes())
        waiting = run("update", "--model-id", "team_gru", "--json")
        [held] = json.loads(waiting.stdout)
        stocks_csv.write_bytes(stocks_csv_backup)
        complete = run("update", "--model-id", "team_gru", "--json")
        [after] = json.loads(complete.stdout)
    finally:
        stocks_csv.write_bytes(stocks_csv_backup)
    # With XOM missing on the last day, the newest priced day (which needs that day's price)
    # waited; once XOM arrived it is in the window.
    assert held["held_back"], held
    assert pd.Timestamp(held["window_end"]) < pd.Timestamp(after["window_end"])
    assert after["held_back"] == []


def test_the_backtest_compares_the_policies_of_a_teams_model_on_its_own_data(team, tmp_path):
    out = tmp_path / "backtest"
    result = run(
        "backtest", "--model-id", "team_gru", "--policy", "static,ewc", "--start", "2019-01-02",
        "--data-seeds", "1", "--update-every", "5", "--holdout-days", "20",
        "--horizon", "30", "--workers", "1", "--no-plots", "--output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    [definition] = document["config"]["definitions"]
    assert (definition["model_id"], definition["sequence_length"]) == ("team_gru", 10)
    [environment] = document["environments"].values()
    assert set(environment["policies"]) == {"static", "ewc"}
    # Its own data: the team's four stocks, each traded by the model's own features.
    traded = environment["policies"]["static"]["cross_section"]["by_symbol"]
    assert set(traded) == set(STOCKS)
    assert environment["end"] <= "2019-12-31"
