"""Predictions for trading agents: champions, online sessions, strategies and provenance.

Framework-free: the serving API (``serving/``) calls this library and maps its errors to
HTTP status codes.
"""

from __future__ import annotations

from online_learning.prediction.bars import BARS_NEEDED, features_from_bars
from online_learning.prediction.champions import Champion, ChampionHolder, ChampionSet
from online_learning.prediction.errors import (
    ChampionLoadError,
    InsufficientBars,
    InvalidBars,
    InvalidFeatures,
    InvalidSymbol,
    NoChampions,
    NoEnsemble,
    UnknownModel,
)
from online_learning.prediction.records import Component, Prediction, SessionInfo
from online_learning.prediction.service import STRATEGIES, ModelServingService

__all__ = [
    "BARS_NEEDED",
    "STRATEGIES",
    "Champion",
    "ChampionHolder",
    "ChampionLoadError",
    "ChampionSet",
    "Component",
    "InsufficientBars",
    "InvalidBars",
    "InvalidFeatures",
    "InvalidSymbol",
    "ModelServingService",
    "NoChampions",
    "NoEnsemble",
    "Prediction",
    "SessionInfo",
    "UnknownModel",
    "features_from_bars",
]
