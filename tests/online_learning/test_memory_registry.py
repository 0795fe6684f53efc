"""The in-memory registry keeps the MLflow registry's semantics, and copies in and out."""

from __future__ import annotations

import pytest
import torch

from online_learning.errors import ModelNotFoundError
from online_learning.registry import CHAMPION_ALIAS, PREVIOUS_CHAMPION_ALIAS, ModelRegistry
from online_learning.registry.memory import InMemoryRegistry
from online_learning.update.bootstrap import train_and_register
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner
from online_learning.update.outcomes import RollbackResult, UpdateSuccess
from tests.utils.markets import regime_switch, shuffle_labels, trading_days
from tests.utils.registries import register, small_model


def test_it_follows_the_registry_protocol():
    assert isinstance(InMemoryRegistry(), ModelRegistry)


def test_missing_model_has_no_champion():
    registry = InMemoryRegistry()
    assert registry.champion_version("nope") is None
    with pytest.raises(ModelNotFoundError, match="bootstrap it first"):
        registry.load_champion("nope")
    with pytest.raises(ModelNotFoundError):
        registry.load_version("nope", "1")


def test_promotion_moves_champion_and_remembers_the_previous():
    registry = InMemoryRegistry()
    assert (register(registry, "m", 1), register(registry, "m", 2)) == ("1", "2")
    assert registry.champion_version("m") == "2"
    assert registry.alias_version("m", PREVIOUS_CHAMPION_ALIAS) == "1"
    assert registry.load_version("m", "2").tags["previous_champion"] == "1"
    assert registry.list_models() == [
        {"model_id": "m", "champion": "2", "challenger": None, "regime": "bull"}
    ]


def test_rollback_walks_back_the_champion_history():
    registry = InMemoryRegistry()
    for seed in (1, 2, 3):
        register(registry, "m", seed)
    assert registry.rollback(model_id="m").version == "2"
    assert registry.rollback(model_id="m").version == "1"
    assert registry.champion_version("m") == "1"
    with pytest.raises(ModelNotFoundError, match="no earlier champion"):
        registry.rollback(model_id="m")
    assert registry.champion_version("m") == "1"
    assert registry.load_version("m", "3").tags["rolled_back"] == "true"


def test_unregistered_candidate_creates_no_version_and_keeps_champion():
    registry = InMemoryRegistry()
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
    assert registry.versions("m") == ["1"]
    assert registry.champion_version("m") == "1"
    assert [r.tags.get("decision") for r in registry.runs("m")] == [None, "rolled_back"]


def test_models_and_ewc_state_are_copied_in_and_out():
    registry = InMemoryRegistry()
    register(registry, "m", 1)
    stored = registry.load_champion("m")
    before = {n: p.detach().clone() for n, p in stored.model.named_parameters()}
    with torch.no_grad():
        for p in stored.model.parameters():
            p.add_(1.0)
    stored.ewc_state.fisher["net.0.bias"].add_(5.0)

    again = registry.load_champion("m")
    for name, param in again.model.named_parameters():
        assert torch.equal(param, before[name])
    assert torch.equal(again.ewc_state.fisher["net.0.bias"], torch.ones_like(before["net.0.bias"]))
    assert again.model is not stored.model


def test_promoting_an_unknown_version_is_an_error():
    registry = InMemoryRegistry()
    register(registry, "m", 1)
    with pytest.raises(ModelNotFoundError):
        registry.promote(model_id="m", version="7")
    assert registry.alias_version("m", CHAMPION_ALIAS) == "1"


def test_the_update_loop_promotes_and_rolls_back_against_it():
    # The same end-to-end behaviour as against MLflow: a sound update on the new regime is
    # promoted; an update trained on shuffled labels is rejected and champion stays.
    market = regime_switch("bull", "sideways")
    days = trading_days(market)
    registry = InMemoryRegistry()
    train_and_register(
        registry=registry, source=market, model_id="adaptive_model", end=days[399].date()
    )
    learner = OnlineLearner(registry, market)
    config = {"model_id": "adaptive_model", "learning_rate": 1e-2, "epochs": 10, "seed": 0}
    adapted = learner.incremental_update(
        IncrementalUpdateConfig(**config, as_of=days[470].date(), ewc_lambda=100.0)
    )
    assert isinstance(adapted, UpdateSuccess), adapted
    assert registry.champion_version("adaptive_model") == "2"
    assert registry.load_champion("adaptive_model").ewc_state.n_updates == 2

    poisoned = learner.incremental_update(
        IncrementalUpdateConfig(**config, as_of=days[480].date(), ewc_lambda=0.0),
        transform_train=shuffle_labels(seed=3),
    )
    assert isinstance(poisoned, RollbackResult), poisoned
    assert registry.champion_version("adaptive_model") == "2"
    assert registry.versions("adaptive_model") == ["1", "2"]
