"""Poisoned updates: what can go wrong with a day's training data or configuration.

Each fault is applied through the product's own hooks: a ``transform_train`` that rewrites the
training rows of
:meth:`~online_learning.update.incremental_trainer.OnlineLearner.incremental_update`
(the validation rows are never touched), or a factor on the learning rate of the update's
config. The product promises that none of them reaches ``champion``.

==================  ===================================================================
kind                what the poisoned update trains on
==================  ===================================================================
``shuffled_labels``  the window with its targets (the labels it trains on) permuted
``lr_x1000``         the right window, at a learning rate 1000x too high
``nan_features``     the window with 10 % of the feature cells set to NaN
``wrong_regime``     the window's rows replaced by the same days of another regime
==================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS

__all__ = [
    "FAULT_KINDS",
    "FaultPlan",
    "Poison",
    "corrupt_features",
    "replace_rows",
    "shuffle_labels",
]

FAULT_KINDS: tuple[str, ...] = ("shuffled_labels", "lr_x1000", "nan_features", "wrong_regime")
Transform = Callable[[pd.DataFrame], pd.DataFrame]


def shuffle_labels(seed: int = 0) -> Transform:
    """A ``transform_train`` that permutes the targets the model trains on: pure noise.

    Examples
    --------
    >>> frame = pd.DataFrame({"target": [0.0, 1.0] * 10})
    >>> out = shuffle_labels(seed=1)(frame.copy())
    >>> sorted(out["target"]) == sorted(frame["target"]), out["target"].equals(frame["target"])
    (True, False)
    """

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        frame["target"] = rng.permutation(frame["target"].to_numpy())
        return frame

    return transform


def corrupt_features(value: float = np.nan, fraction: float = 0.1, seed: int = 0) -> Transform:
    """A ``transform_train`` that overwrites a fraction of the feature cells with ``value``.

    Examples
    --------
    >>> frame = pd.DataFrame({c: np.ones(50) for c in FEATURE_COLUMNS})
    >>> bool(corrupt_features(seed=0)(frame)[list(FEATURE_COLUMNS)].isna().any().any())
    True
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        values = frame.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64, copy=True)
        mask = rng.random(values.shape) < fraction
        mask[rng.integers(len(values)), rng.integers(values.shape[1])] = True  # never a no-op
        values[mask] = value
        frame.loc[:, list(FEATURE_COLUMNS)] = values
        return frame

    return transform


def replace_rows(foreign: Transform) -> Transform:
    """A ``transform_train`` that swaps the training rows for ``foreign(rows)``."""

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        replaced = foreign(frame)
        return replaced if len(replaced) else frame

    return transform


@dataclass(frozen=True)
class Poison:
    """How one update is poisoned: a training-row transform and/or a learning-rate factor."""

    kind: str
    transform: Transform | None = None
    learning_rate_factor: float = 1.0


@dataclass(frozen=True)
class FaultPlan:
    """Which scheduled updates are poisoned, and how.

    Every ``every``-th scheduled update day (counting from ``offset``) is poisoned, with the
    kinds taken in turn. The same days are poisoned for every updating policy.

    Examples
    --------
    >>> plan = FaultPlan(every=3, kinds=("lr_x1000", "nan_features"))
    >>> [plan.kind_on(i) for i in range(7)]
    [None, 'lr_x1000', None, None, 'nan_features', None, None]
    """

    every: int = 5
    offset: int = 1
    kinds: Sequence[str] = FAULT_KINDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown or not self.kinds:
            raise ConfigError(f"unknown or no fault kinds {unknown}; choose from {FAULT_KINDS}")
        if self.every < 1 or not 0 <= self.offset < self.every:
            raise ConfigError(f"need every >= 1 and 0 <= offset < every, got {self}")

    def kind_on(self, update_index: int) -> str | None:
        """The fault of the ``update_index``-th scheduled update, or None."""
        if update_index < self.offset or (update_index - self.offset) % self.every:
            return None
        return self.kinds[((update_index - self.offset) // self.every) % len(self.kinds)]

    def poison(self, kind: str, *, seed: int, foreign: Transform | None) -> Poison:
        """The :class:`Poison` of one fault ``kind``."""
        if kind == "shuffled_labels":
            return Poison(kind, transform=shuffle_labels(seed))
        if kind == "lr_x1000":
            return Poison(kind, learning_rate_factor=1000.0)
        if kind == "nan_features":
            return Poison(kind, transform=corrupt_features(np.nan, 0.1, seed))
        if kind == "wrong_regime":
            if foreign is None:
                raise ConfigError("this environment has no rows of another regime to poison with")
            return Poison(kind, transform=replace_rows(foreign))
        raise ConfigError(f"unknown fault kind {kind!r}")
