"""The models' configuration: where it is found, what a table may say, and how it says no."""

from __future__ import annotations

from pathlib import Path

import pytest

from online_learning.configuration import (
    BUILTIN_CONFIGURATION,
    CONFIG_ENV,
    load_configuration,
)
from online_learning.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]

TEAM = """
# a team's two models
[models.team_gru]
network = "team_models.nets:make_gru"
network_params = { hidden = 16 }
features = "team_models.features:momentum"
sequence_length = 20
target = "direction"
data = "sp500-stocks"
symbols = ["AAPL", "MSFT"]
window_days = 45
policy = "ewc"
learning_rate = 0.001

[models.team_return]
network = "team_models.nets:make_mlp"
features = "builtin"
target = "return"
horizon_days = 5
data = "sp500"
policy = "finetune"
"""


def write(folder: Path, text: str, name: str = "online-learning.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_the_builtin_configuration_is_the_three_specialists_and_the_shipped_example() -> None:
    configuration = load_configuration(BUILTIN_CONFIGURATION)
    assert configuration.builtin
    assert configuration.ids == ("bull_specialist", "bear_specialist", "sideways_specialist")
    for model_id, regime in zip(configuration.ids, ("bull", "bear", "sideways"), strict=True):
        model = configuration.model(model_id)
        assert (model.network, model.features, model.regime) == ("builtin", "builtin", regime)
        assert model.update_settings().data_window == 60
    example = ROOT / "examples" / "online-learning.toml"
    assert example.read_text() == BUILTIN_CONFIGURATION.read_text()


def test_a_teams_tables_carry_their_definition_and_their_update_settings(tmp_path) -> None:
    configuration = load_configuration(write(tmp_path, TEAM))
    gru = configuration.model("team_gru")
    assert (gru.sequence_length, gru.network_params, gru.symbols) == (20, {"hidden": 16},
                                                                      ["AAPL", "MSFT"])  # fmt: skip
    settings = gru.update_settings()
    assert (settings.data_window, settings.learning_rate) == (45, 0.001)
    assert settings.epochs == 5  # not overridden: the default
    ret = configuration.model("team_return")
    assert (ret.target, ret.horizon_days, ret.policy) == ("return", 5, "finetune")


def test_the_file_is_the_option_then_the_environment_then_the_folder_then_builtin(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert load_configuration().builtin
    local = write(tmp_path, TEAM)
    assert load_configuration().path == Path.cwd() / "online-learning.toml" == local
    other = write(tmp_path, TEAM.replace("team_gru", "from_env"), "env.toml")
    monkeypatch.setenv(CONFIG_ENV, str(other))
    assert "from_env" in load_configuration()
    explicit = write(tmp_path, TEAM.replace("team_gru", "explicit"), "explicit.toml")
    assert "explicit" in load_configuration(explicit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models.m]\nnetwork = "builtin"\nnetwrk = 1\n',
         r"\[models.m\] line 3: unknown key 'netwrk'"),
        ('[models.m]\nnetwork = "builtin"\nestimator = "a.b:c"\n', "not both"),
        ('[models.m]\nfeatures = "builtin"\n', "give network or estimator, not neither"),
        ('[models.m]\nnetwork = "my_nets.py"\n', "network must be 'builtin' or an entry point"),
        ('[models.m]\nnetwork = "builtin"\nhorizon_days = 0\n',
         r"line 3: horizon_days: Input should be greater than or equal to 1, got 0"),
        ('[models.m]\nnetwork = "builtin"\ntarget = "price"\n', r"line 3: target: "),
        ('[models.m]\nnetwork = "builtin"\nlearning_rate = -1.0\n', r"line 3: learning_rate"),
        ('[models.m]\nnetwork = "builtin"\nvalidation_days = 40\n', "at most half of data_window"),
        ('[models.m]\nnetwork = "builtin"\ntarget = "return"\n', "builtin network predicts a"),
        ('[models.m]\nestimator = "lightgbm:LGBMClassifier"\n', "policy 'ewc' needs a network"),
        ('[models.m]\nnetwork = "builtin"\npolicy = "warm_start"\n', "warm_start' is for estim"),
        ('[models."bad id"]\nnetwork = "builtin"\n', "model_id must be"),
        ("[servng]\nport = 1\n", "line 1: unknown table or key .servng.; expected \\[models"),
        ("title = 'x'\n", "unknown table or key 'title'"),
        ("[models.m\n", "not valid TOML"),
        ("", "no \\[models.<id>\\] table"),
    ],
)  # fmt: skip
def test_every_mistake_names_the_file_the_model_and_the_key(tmp_path, text, message) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as refused:
        load_configuration(path)
    assert str(path) in str(refused.value)


def test_a_missing_file_or_model_says_so(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_configuration(tmp_path / "nope.toml")
    configuration = load_configuration(write(tmp_path, TEAM))
    with pytest.raises(ConfigError, match=r"no \[models.other\] table; configured models: team"):
        configuration.model("other")
