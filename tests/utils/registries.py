"""Small models registered into either registry (MLflow or in-memory) by the registry tests."""

from __future__ import annotations

import torch

from online_learning.models import RegimeSpecialist
from online_learning.update.ewc import EWCState

FEATURES = ["f1", "f2", "f3"]


def small_model(seed: int) -> RegimeSpecialist:
    torch.manual_seed(seed)
    return RegimeSpecialist(FEATURES, hidden=(4,), regime="bull")


def register(registry, model_id: str, seed: int, *, promote: bool = True) -> str:
    """Log a seeded model with a Fisher of ``seed`` everywhere; promote it unless told not to."""
    model = small_model(seed)
    fisher = {n: torch.full_like(p, float(seed)) for n, p in model.named_parameters()}
    record = registry.log_candidate(
        model_id=model_id,
        model=model,
        ewc_state=EWCState.from_model(model, fisher),
        params={"seed": seed},
        metrics={"sharpe_post": 1.0},
        tags={"regime": "bull"},
        register=True,
    )
    if promote:
        registry.promote(model_id=model_id, version=record.version)
    return record.version
