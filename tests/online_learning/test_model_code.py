"""The team's code a version carries: its own packages, never an installed distribution."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from online_learning.models.code import team_code_paths
from online_learning.models.definition import ModelDefinition

TEAM_CODE = Path(__file__).resolve().parent / "team_code"


def test_the_teams_packages_travel_and_installed_ones_do_not(monkeypatch):
    monkeypatch.syspath_prepend(str(TEAM_CODE))
    base = ModelDefinition.builtin("m")
    team = replace(base, kind="estimator", entry="lightgbm:LGBMClassifier",
                   features="acme_models.features:momentum")  # fmt: skip
    assert team_code_paths(team) == [str((TEAM_CODE / "acme_models").resolve())]
    network = replace(base, entry="acme_models.nets:make_gru", features="acme_data.sources:X")
    assert team_code_paths(network) == [
        str((TEAM_CODE / "acme_models").resolve()), str((TEAM_CODE / "acme_data").resolve()),
    ]  # fmt: skip
    trees = "sklearn.ensemble:HistGradientBoostingRegressor"
    installed = replace(base, kind="estimator", entry=trees, features="json:loads")
    assert team_code_paths(installed) == []
