"""Model registry: the protocol the update loop uses and its MLflow implementation.

``MlflowRegistry`` is imported lazily so that code that only needs the protocol does not pay
for importing MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from online_learning.registry.base import (
    CHAMPION_ALIAS,
    PREVIOUS_CHAMPION_ALIAS,
    CandidateRecord,
    LoadedModel,
    ModelRegistry,
    Promotion,
)

if TYPE_CHECKING:
    from online_learning.registry.mlflow_registry import MlflowRegistry

__all__ = [
    "CHAMPION_ALIAS",
    "PREVIOUS_CHAMPION_ALIAS",
    "CandidateRecord",
    "LoadedModel",
    "MlflowRegistry",
    "ModelRegistry",
    "Promotion",
]


def __getattr__(name: str):
    if name == "MlflowRegistry":
        from online_learning.registry.mlflow_registry import MlflowRegistry

        return MlflowRegistry
    raise AttributeError(name)
