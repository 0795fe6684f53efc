"""One model served by its id: a team's network with its own features and sequence length.

``POST /predictions`` with a ``model_id`` is answered by that model alone, whatever it is: its
champion is loaded on first use (with the team's code its version carries) and swapped, beside
the old one, when its ``champion`` alias moves (checked at most every ``ttl_s``). A bars
request gets the model's own features, computed by its own feature function, and its own
sequence of days; how many bars it needs is found once, when it is loaded. A features request
must name exactly its features, and is refused for a model that reads sequences.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from online_learning.data.base import DATE, SYMBOL
from online_learning.errors import ModelNotFoundError, OnlineLearningError
from online_learning.models.definition import ModelDefinition
from online_learning.models.estimator import ContractEstimator
from online_learning.models.feature_functions import FeatureFunction
from online_learning.models.inputs import inputs
from online_learning.prediction.bars import MAX_BARS, bars_frame
from online_learning.prediction.champions import served_from_tags, served_p_up
from online_learning.prediction.errors import InsufficientBars, InvalidFeatures
from online_learning.prediction.records import BATCH, Component, Prediction
from online_learning.prediction.validation import feature_matrix
from online_learning.registry.base import ModelRegistry
from online_learning.success.freshness import ServedChampion

__all__ = ["ServedModel", "SingleModels"]

#: Bars of a made-up market on which a model's warm-up is measured when it is loaded.
_PROBE_DAYS = 400


@dataclass(frozen=True)
class ServedModel:
    """One loaded, warmed champion with its definition and the bars its input needs."""

    model_id: str
    version: str
    model: nn.Module | ContractEstimator
    definition: ModelDefinition
    features: FeatureFunction
    bars_needed: int
    freshness: ServedChampion | None = None

    @classmethod
    def load(cls, registry: ModelRegistry, model_id: str, version: str) -> ServedModel:
        loaded = registry.load_version(model_id, version)
        model, definition = loaded.model.eval(), loaded.definition
        features = FeatureFunction(definition.features, where=f"model {model_id!r} features")
        served = cls(model_id, str(loaded.version), model, definition, features, 0)
        needed = _bars_needed(served)
        fresh = served_from_tags(model_id, str(loaded.version), loaded.tags)
        return cls(model_id, str(loaded.version), model, definition, features, needed, fresh)

    @property
    def names(self) -> tuple[str, ...]:
        return self.definition.feature_names

    def from_features(self, features: Mapping[str, float]) -> np.ndarray:
        """The input of a features request (rows only)."""
        if self.definition.sequence_length:
            raise InvalidFeatures(
                detail=f"model {self.model_id!r} reads sequences of "
                f"{self.definition.sequence_length} days: send bars instead of features"
            )
        return feature_matrix([features], self.names, batch=False)

    def from_bars(self, bars: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, dict]:
        """The input of the newest bar, and its features, computed as the model trains."""
        if len(bars) < self.bars_needed:
            raise InsufficientBars(self.bars_needed, len(bars), model_id=self.model_id)
        frame = bars_frame(bars)
        history = self.features.compute(frame)
        last = history.iloc[[-1]]
        built = inputs(history, last, self.names, self.definition.sequence_length)
        if not built.usable.all():
            raise InsufficientBars(self.bars_needed + 1, len(bars), model_id=self.model_id)
        row = {name: float(last[name].iloc[0]) for name in self.names}
        return built.x, row

    def p_up(self, x: np.ndarray) -> np.ndarray:
        return served_p_up(self.model, x)

    def predict(
        self, symbol: str, x: np.ndarray, features: Mapping[str, float], strategy: str
    ) -> Prediction:
        """The model's prediction alone: one component, no regime, no session."""
        p_up = min(max(float(self.p_up(x)[0]), 0.0), 1.0)
        return Prediction.served(
            symbol,
            p_up,
            strategy=strategy,
            regime=None,
            components=(Component(self.model_id, BATCH, self.version, 1.0, p_up),),
            session=None,
            served_at=datetime.now(UTC),
            features=dict(features),
        )


def _bars_needed(served: ServedModel) -> int:
    """The fewest bars whose newest has a complete input: the feature function's warm-up
    (measured on a made-up random walk) plus the sequence."""
    rng = np.random.default_rng(0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, _PROBE_DAYS)))
    days = pd.bdate_range("2000-01-03", periods=_PROBE_DAYS)
    prices = pd.DataFrame(
        {
            DATE: days,
            SYMBOL: "_probe",
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": 1e6,
        }
    )
    history = served.features.compute(prices)
    complete = np.isfinite(history.loc[:, list(served.names)].to_numpy()).all(axis=1)
    if not complete.any():
        raise OnlineLearningError(
            f"model {served.model_id!r}: its features are never complete on {_PROBE_DAYS} bars"
        )
    first = int(np.flatnonzero(complete)[0])
    at_bar = int(np.flatnonzero(days == history[DATE].iloc[first])[0])
    needed = at_bar + (served.definition.sequence_length or 1)
    x = np.zeros((1, *((served.definition.sequence_length,) if served.definition.sequence_length
                       else ()), len(served.names)), dtype=np.float32)  # fmt: skip
    if not np.isfinite(served.p_up(x)).all():  # also warms the model
        raise OnlineLearningError(f"model {served.model_id!r} gives no finite p_up")
    return min(needed, MAX_BARS)


class SingleModels:
    """The champions of models asked for by id, loaded on first use and swapped when their
    alias moves (looked at no more often than every ``ttl_s`` seconds). Thread-safe: one
    load at a time; readers take the current :class:`ServedModel` without locking."""

    def __init__(self, registry: ModelRegistry, *, ttl_s: float = 5.0) -> None:
        self.registry = registry
        self.ttl_s = ttl_s
        self._served: dict[str, tuple[ServedModel, float]] = {}
        self._lock = threading.Lock()

    def cached(self, model_id: str) -> ServedModel | None:
        """The model when it is loaded and its alias was looked at within ``ttl_s``."""
        entry = self._served.get(model_id)
        if entry is None or time.monotonic() - entry[1] > self.ttl_s:
            return None
        return entry[0]

    def served(self) -> list[ServedChampion]:
        """The freshness of every champion loaded here (for the success metrics)."""
        return [m.freshness for m, _ in self._served.values() if m.freshness is not None]

    def get(self, model_id: str) -> ServedModel:
        """The model's champion (loading it, or its new version, when needed: blocking)."""
        found = self.cached(model_id)
        if found is not None:
            return found
        with self._lock:
            version = self.registry.champion_version(model_id)
            entry = self._served.get(model_id)
            if version is None:
                if entry is not None:  # the alias went away: keep serving what is loaded
                    return entry[0]
                raise ModelNotFoundError(f"model {model_id!r} has no champion to serve")
            served = entry[0] if entry and entry[0].version == version else None
            served = served or ServedModel.load(self.registry, model_id, version)
            self._served = {**self._served, model_id: (served, time.monotonic())}  # the swap
            return served
