"""Small models registered into either registry (MLflow or in-memory) by the registry tests."""

from __future__ import annotations

import torch

from online_learning.ewc import EWCState
from online_learning.models import RegimeSpecialist

FEATURES = ["f1", "f2", "f3"]


def small_model(seed: int) -> RegimeSpecialist:
    torch.manual_seed(seed)
    return RegimeSpecialist(FEATURES, hidden=(4,), regime="bull")


def register(registry, model_id: str, seed: int, *, promote: bool = True) -> str:
    """Log a seeded model with a Fisher of ``seed`` everywhere; promote it unless told not to."""
    model = small_model(seed)
    fisher = {n: torch.full_like(p, float(seed)) for n, p in model.named_parameters()}
    return _log(registry, model_id, model, fisher, seed=seed, promote=promote)


def _log(registry, model_id: str, model, fisher, *, seed: int, promote: bool) -> str:
    record = registry.log_candidate(
        model_id=model_id,
        model=model,
        ewc_state=EWCState.from_model(model, fisher),
        params={"seed": seed},
        metrics={"sharpe_post": 1.0},
        tags={"regime": model.regime},
        register=True,
    )
    if promote:
        registry.promote(model_id=model_id, version=record.version)
    return record.version


SPECIALISTS = (
    ("bull_specialist", "bull"),
    ("bear_specialist", "bear"),
    ("sideways_specialist", "sideways"),
)


def register_specialists(registry, *, hidden: tuple[int, ...] = (8,)) -> dict[str, str]:
    """The three specialists as small seeded networks on the platform's ten features, each
    promoted to ``champion`` (so that serving, and predictions from bars, work);
    ``{model_id: version}``."""
    from online_learning.features import FEATURE_COLUMNS

    versions = {}
    for seed, (model_id, regime) in enumerate(SPECIALISTS, start=1):
        torch.manual_seed(seed)
        model = RegimeSpecialist(list(FEATURE_COLUMNS), hidden=hidden, regime=regime)
        fisher = {n: torch.ones_like(p) for n, p in model.named_parameters()}
        versions[model_id] = _log(registry, model_id, model, fisher, seed=seed, promote=True)
    return versions
