"""A team's models served: by ``model_id`` with their own features and sequences (bars), in
the ensemble beside the specialists weighted by their realised record, and listed with their
definitions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from online_learning.configuration.models import ModelConfig
from online_learning.data import resolve_source
from online_learning.metrics_store import MetricsStore, PerformanceRow
from online_learning.settings import get_settings
from online_learning.update.bootstrap import train_and_register
from online_learning_client import Client
from tests.utils.api_keys import AGENT, bearer
from tests.utils.team_code import STOCKS, TEAM_CODE, bars


@pytest.fixture
def team_gru(registry, monkeypatch) -> str:
    """A GRU over 10-day sequences of the team's own features, trained on four stocks."""
    monkeypatch.syspath_prepend(str(TEAM_CODE))
    config = ModelConfig(
        network="acme_models.nets:make_gru", network_params={"hidden": 8},
        features="acme_models.features:momentum", sequence_length=10, data="sp500-stocks",
        symbols=STOCKS,
    )  # fmt: skip
    train_and_register(
        registry=registry, source=resolve_source("sp500-stocks"), model_id="team_gru",
        definition=config.definition("team_gru"), start=dt.date(2018, 1, 2),
        end=dt.date(2019, 6, 28), epochs=2,
    )  # fmt: skip
    return "team_gru"


def test_a_teams_sequence_model_answers_by_id_frombars(platform_champions, team_gru, client):
    assert client.get("/api/v1/ready").status_code == 200
    answer = client.post(
        "/api/v1/predictions",
        json={"symbol": "AAPL", "bars": bars("AAPL", 60), "model_id": team_gru},
        headers=bearer(AGENT),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [component] = body["components"]
    assert (component["name"], component["weight"]) == (team_gru, 1.0)
    assert body["regime"] is None and body["session"] is None  # no specialist, no regime
    assert set(body["features"]) == {"mom_5", "mom_20", "vol_20"}  # its own, of the last bar
    assert 0.0 < body["p_up"] < 1.0
    with Client("http://testserver", AGENT, http=client) as sdk:  # the SDK asks the same
        signal = sdk.predict("AAPL", bars=bars("AAPL", 60), model_id=team_gru)
    assert signal.p_up == pytest.approx(body["p_up"])
    assert [c.name for c in signal.components] == [team_gru]

    # Its features warm up over 21 bars and it reads 10 days: 30 bars, said in the 422.
    short = client.post(
        "/api/v1/predictions",
        json={"symbol": "AAPL", "bars": bars("AAPL", 25), "model_id": team_gru},
        headers=bearer(AGENT),
    )
    assert short.status_code == 422
    assert "model 'team_gru' needs at least 30 daily bars" in short.json()["detail"]
    rows = client.post(
        "/api/v1/predictions",
        json={"symbol": "AAPL", "features": {"mom_5": 0.0}, "model_id": team_gru},
        headers=bearer(AGENT),
    )
    assert rows.status_code == 422
    assert "reads sequences of 10 days: send bars" in rows.json()["detail"]
    unknown = client.post(
        "/api/v1/predictions",
        json={"symbol": "AAPL", "bars": bars("AAPL", 60), "model_id": "nobody"},
        headers=bearer(AGENT),
    )
    assert unknown.status_code == 404, unknown.text

    batch = client.post(
        "/api/v1/predictions",
        json={"requests": [
            {"symbol": "MSFT", "bars": bars("MSFT", 60), "model_id": team_gru},
            {"symbol": "AAA", "features": dict.fromkeys(platform_champions_features(), 0.0)},
        ]},
        headers=bearer(AGENT),
    )  # fmt: skip
    assert batch.status_code == 200, batch.text
    first, second = batch.json()["predictions"]
    assert [c["name"] for c in first["components"]] == [team_gru]
    assert {c["name"] for c in second["components"]} >= {"bull_specialist"}

    models = {m["model_id"]: m for m in client.get("/api/v1/models", headers=bearer(AGENT)).json()}
    definition = models[team_gru]["definition"]
    assert (definition["features"], definition["sequence_length"], definition["target"]) == (
        "acme_models.features:momentum", 10, "direction"
    )  # fmt: skip
    assert models[team_gru]["feature_names"] == ["mom_5", "mom_20", "vol_20"]
    assert definition["data"] == "sp500-stocks" and definition["policy"] == "ewc"


def platform_champions_features() -> list[str]:
    from online_learning.features import FEATURE_COLUMNS

    return list(FEATURE_COLUMNS)


def test_a_teams_model_in_the_ensemble_is_weighted_by_its_realised_record(
    platform_champions, registry, make_client
):
    import torch

    from online_learning.models import RegimeSpecialist

    torch.manual_seed(7)  # a team's network on the platform's features, no regime of its own
    model = RegimeSpecialist(platform_champions_features(), hidden=(4,))
    record = registry.log_candidate(model_id="team_mlp", model=model, ewc_state=None,
                                    params={}, metrics={}, tags={}, register=True)  # fmt: skip
    registry.promote(model_id="team_mlp", version=record.version)
    with MetricsStore.from_settings(get_settings()) as store:
        store.migrate()
        days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(30)]
        rng = np.random.default_rng(0)
        for model_id, drift in (
            ("team_mlp", 0.004),
            ("bull_specialist", -0.002),
            ("bear_specialist", -0.002),
            ("sideways_specialist", -0.002),
        ):
            store.record_daily_performance([
                PerformanceRow(model_id, "AAA", day, 1.0, float(r), float(r))
                for day, r in zip(days, drift + rng.normal(0, 0.01, len(days)), strict=True)
            ])  # fmt: skip
    ensemble = ("bull_specialist", "bear_specialist", "sideways_specialist", "team_mlp")
    with make_client(serving_models=ensemble) as client:
        assert client.get("/api/v1/ready").status_code == 200
        row = dict.fromkeys(platform_champions_features(), 0.0) | {"trend_63": 2.5}
        body = client.post(
            "/api/v1/predictions", json={"symbol": "AAA", "features": row},
            headers=bearer(AGENT),
        ).json()  # fmt: skip
    weights = {c["name"]: c["weight"] for c in body["components"]}
    # The team's model earned more recently than the specialists: it weighs more than the
    # regime's specialist (the old rule gave it 0), and the specialists still name the regime.
    assert weights["team_mlp"] > weights["bull_specialist"] > 0
    assert body["regime"] == "bull"
    assert sum(weights.values()) == pytest.approx(1.0)


def test_a_configuration_of_sequence_models_only_serves_each_by_its_id(
    team_gru, make_client, tmp_path, monkeypatch
):
    config = tmp_path / "online-learning.toml"
    config.write_text(
        "[models.team_gru]\n"
        'network = "acme_models.nets:make_gru"\n'
        'features = "acme_models.features:momentum"\n'
        "sequence_length = 10\n"
    )
    monkeypatch.setenv("ONLINE_LEARNING_CONFIG", str(config))
    with make_client(serving_models=None) as client:  # the ensemble the configuration makes
        assert client.get("/api/v1/ready").status_code == 200  # nothing to wait for
        ensemble = client.post(
            "/api/v1/predictions", json={"symbol": "AAPL", "bars": bars("AAPL", 80)},
            headers=bearer(AGENT),
        )  # fmt: skip
        assert ensemble.status_code == 422
        assert "no ensemble is served" in ensemble.json()["detail"]
        assert "model_id" in ensemble.json()["detail"]
        named = client.post(
            "/api/v1/predictions",
            json={"symbol": "AAPL", "bars": bars("AAPL", 80), "model_id": team_gru},
            headers=bearer(AGENT),
        )
        assert named.status_code == 200, named.text
