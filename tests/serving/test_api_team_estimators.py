"""A team's estimators served: a LightGBM classifier on its own features by ``model_id`` from
bars, and a scikit-learn classifier on the platform's features in the ensemble beside the
specialists, swapped when its alias moves."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from online_learning.configuration import load_configuration
from online_learning.configuration.models import ModelConfig
from online_learning.data import resolve_source
from online_learning.features import FEATURE_COLUMNS
from online_learning.update.bootstrap import train_and_register
from online_learning_client import Client
from tests.utils.api_keys import AGENT, bearer
from tests.utils.team_code import STOCKS, TEAM_CODE, bars


def test_a_lightgbm_model_answers_by_id_from_bars_as_its_registered_version_does(
    platform_champions, registry, client, monkeypatch
):
    monkeypatch.syspath_prepend(str(TEAM_CODE))
    config = ModelConfig(
        estimator="lightgbm:LGBMClassifier",
        estimator_params={"n_estimators": 20, "num_leaves": 7, "verbose": -1},
        features="acme_models.features:momentum", data="sp500-stocks", symbols=STOCKS,
        policy="warm_start",
    )  # fmt: skip
    train_and_register(
        registry=registry, source=resolve_source("sp500-stocks"), model_id="team_lgbm",
        definition=config.definition("team_lgbm"), start=dt.date(2018, 1, 2),
        end=dt.date(2019, 6, 28),
    )  # fmt: skip
    assert client.get("/api/v1/ready").status_code == 200
    answer = client.post(
        "/api/v1/predictions",
        json={"symbol": "MSFT", "bars": bars("MSFT", 40), "model_id": "team_lgbm"},
        headers=bearer(AGENT),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [component] = body["components"]
    assert (component["name"], component["weight"]) == ("team_lgbm", 1.0)
    assert component["version"] == registry.champion_version("team_lgbm")
    # The p_up of the registered version on the features of the last bar, to float precision.
    champion = registry.load_champion("team_lgbm").model
    row = np.array([[body["features"][n] for n in ("mom_5", "mom_20", "vol_20")]])
    assert body["p_up"] == pytest.approx(float(champion.predict_proba(row)[0]), abs=1e-9)

    with Client("http://testserver", AGENT, http=client) as sdk:
        signal = sdk.predict("MSFT", bars=bars("MSFT", 40), model_id="team_lgbm")
    assert signal.p_up == pytest.approx(body["p_up"])

    models = {m["model_id"]: m for m in client.get("/api/v1/models", headers=bearer(AGENT)).json()}
    definition = models["team_lgbm"]["definition"]
    assert (definition["kind"], definition["entry"], definition["policy"]) == (
        "estimator", "lightgbm:LGBMClassifier", "warm_start"
    )  # fmt: skip


def test_an_estimator_on_the_platforms_features_joins_the_ensemble_and_is_swapped(
    platform_champions, registry, make_client, tmp_path
):
    config = ModelConfig(
        estimator="sklearn.ensemble:HistGradientBoostingClassifier",
        estimator_params={"max_iter": 15, "max_depth": 3}, policy="retrain",
    )  # fmt: skip
    trained = train_and_register(
        registry=registry, source=resolve_source("synthetic"), model_id="team_trees",
        definition=config.definition("team_trees"), end=dt.date(2021, 6, 30),
    )  # fmt: skip
    # The configuration's default ensemble takes an estimator that reads the built-in rows.
    path = tmp_path / "online-learning.toml"
    path.write_text(
        "[models.team_trees]\n"
        'estimator = "sklearn.ensemble:HistGradientBoostingClassifier"\n'
        'policy = "retrain"\n'
        "[models.team_seq]\n"
        'network = "acme_models.nets:make_gru"\n'
        "sequence_length = 5\n"
    )
    assert load_configuration(path).ensemble == ("team_trees",)

    ensemble = (*platform_champions, "team_trees")
    row = dict.fromkeys(FEATURE_COLUMNS, 0.0) | {"trend_63": 2.5}
    with make_client(serving_models=ensemble) as client:
        assert client.get("/api/v1/ready").status_code == 200
        first = client.post(
            "/api/v1/predictions", json={"symbol": "AAA", "features": row},
            headers=bearer(AGENT),
        ).json()  # fmt: skip
        assert "components" in first, first
        components = {c["name"]: c for c in first["components"]}
        assert set(components) == set(ensemble)
        assert components["team_trees"]["version"] == trained.version
        assert sum(c["weight"] for c in components.values()) == pytest.approx(1.0)
        assert 0.0 < first["p_up"] < 1.0

        # A new version of the estimator is served once its alias moves.
        retrained = train_and_register(
            registry=registry, source=resolve_source("synthetic"), model_id="team_trees",
            definition=config.definition("team_trees"), end=dt.date(2021, 12, 31),
        )  # fmt: skip
        client.app.state.holder.refresh()
        second = client.post(
            "/api/v1/predictions", json={"symbol": "AAA", "features": row},
            headers=bearer(AGENT),
        ).json()  # fmt: skip
        versions = {c["name"]: c["version"] for c in second["components"]}
        assert versions["team_trees"] == retrained.version != trained.version
