"""The MLflow registry on a real SQLite store: versions, aliases, EWC state, fresh-process load."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from online_learning.errors import ModelNotFoundError
from tests.utils.registries import register, small_model


def test_missing_model_has_no_champion(registry):
    assert registry.champion_version("nope") is None
    with pytest.raises(ModelNotFoundError, match="online-learning train"):
        registry.load_champion("nope")


def test_promotion_moves_champion_and_remembers_the_previous(registry):
    v1 = register(registry, "m", 1)
    v2 = register(registry, "m", 2)
    assert (v1, v2) == ("1", "2")
    assert registry.champion_version("m") == "2"
    assert str(registry.client.get_model_version_by_alias("m", "previous-champion").version) == "1"


def test_rollback_walks_back_the_champion_history(registry):
    for seed in (1, 2, 3):
        register(registry, "m", seed)
    assert registry.rollback(model_id="m").version == "2"
    assert registry.champion_version("m") == "2"
    assert registry.rollback(model_id="m").version == "1"
    assert registry.champion_version("m") == "1"
    with pytest.raises(ModelNotFoundError, match="no earlier champion"):
        registry.rollback(model_id="m")
    assert registry.champion_version("m") == "1"


def test_a_challenger_is_an_alias_beside_the_champion_until_cleared(registry):
    champion = register(registry, "m", 1)
    challenger = register(registry, "m", 2, promote=False)
    assert registry.challenger_version("m") is None
    registry.name_challenger(model_id="m", version=challenger)
    assert registry.challenger_version("m") == challenger
    assert registry.champion_version("m") == champion  # naming a challenger moves nothing else
    assert registry.list_models() == [
        {"model_id": "m", "champion": champion, "challenger": challenger, "regime": "bull"}
    ]
    # Promotion of the challenger: the champion moves, then the alias goes.
    registry.promote(model_id="m", version=challenger)
    registry.clear_challenger(model_id="m")
    registry.clear_challenger(model_id="m")  # nothing to clear: no error
    assert (registry.champion_version("m"), registry.challenger_version("m")) == (
        challenger, None
    )  # fmt: skip
    assert str(registry.client.get_model_version_by_alias("m", "previous-champion").version) == "1"


def test_unregistered_candidate_creates_no_version_and_keeps_champion(registry):
    register(registry, "m", 1)
    record = registry.log_candidate(
        model_id="m",
        model=small_model(9),
        ewc_state=None,
        params={},
        metrics={"sharpe_post": -3.0},
        tags={"decision": "rolled_back"},
        register=False,
    )
    assert record.version is None
    assert len(registry.client.search_model_versions("name='m'")) == 1
    assert registry.champion_version("m") == "1"
    run = registry.client.get_run(record.run_id)
    assert run.data.tags["decision"] == "rolled_back"


def test_version_restores_weights_and_ewc_state(registry):
    version = register(registry, "m", 3)
    loaded = registry.load_version("m", version)
    original = small_model(3)
    for (name, p), (_, q) in zip(
        original.named_parameters(), loaded.model.named_parameters(), strict=True
    ):
        assert torch.equal(p, q), name
    assert loaded.ewc_state is not None
    assert all(torch.all(f == 3.0) for f in loaded.ewc_state.fisher.values())
    assert torch.equal(loaded.ewc_state.anchor["net.0.weight"], original.net[0].weight)
    assert loaded.tags["regime"] == "bull"


def test_champion_loads_in_a_fresh_process_with_plain_mlflow(registry, home):
    register(registry, "fresh_model", 5)
    script = textwrap.dedent(
        f"""
        import mlflow, torch
        mlflow.set_tracking_uri({registry.tracking_uri!r})
        model = mlflow.pytorch.load_model("models:/fresh_model@champion")
        print(tuple(model(torch.zeros(4, 3)).shape), model.feature_names)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=home
    )
    assert out.stdout.strip().splitlines()[-1] == "(4, 2) ('f1', 'f2', 'f3')"
