"""Poisoned updates: what can go wrong with a day's training data or configuration.

Each fault is applied through the product's own hooks: a ``transform_train`` that rewrites the
training rows of
:meth:`~online_learning.update.learner.OnlineLearner.incremental_update`
(the validation rows are never touched), a factor on the learning rate of the update's
config, or a corruption of the prices the update's data source serves (a data feed gone
wrong: features, labels and validation days all see it). The product promises that none of
them reaches ``champion``.

==================  ===================================================================
kind                what the poisoned update trains on
==================  ===================================================================
``shuffled_labels``  the window with its targets (the labels it trains on) permuted
``lr_x1000``         the right window, at a learning rate 1000x too high
``nan_features``     the window with 10 % of the feature cells set to NaN
``wrong_regime``     the window's rows replaced by the same days of another regime
``unadjusted_split`` one symbol's prices from a day of the window on divided by 2, 3 or 1.5
                     (a split the feed did not adjust for)
``stale_price``      one symbol's prices frozen at the previous close for 5 days
``price_spike``      one symbol's prices on one day of the window off by 25-50 % (log): a bad print
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

#: Poisons of the training rows or the configuration.
UPDATE_FAULTS: tuple[str, ...] = ("shuffled_labels", "lr_x1000", "nan_features", "wrong_regime")
#: Errors of the price feed.
PRICE_FAULTS: tuple[str, ...] = ("unadjusted_split", "stale_price", "price_spike")
FAULT_KINDS: tuple[str, ...] = UPDATE_FAULTS + PRICE_FAULTS
Transform = Callable[[pd.DataFrame], pd.DataFrame]
_PRICE_COLUMNS = ("open", "high", "low", "close")
STALE_DAYS = 5


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


def corrupt_prices(
    kind: str, *, symbol: str, day: pd.Timestamp, days: Sequence[pd.Timestamp], seed: int = 0
) -> Transform:
    """A price-frame transform that plants one feed error of ``kind`` for ``symbol`` at ``day``.

    ``days`` are the trading days from ``day`` on (a stale price needs the next ones).

    Examples
    --------
    >>> prices = pd.DataFrame({"date": pd.bdate_range("2024-01-01", periods=4),
    ...                        "symbol": "A", "close": [10.0, 11.0, 12.0, 13.0]})
    >>> day = prices["date"][2]
    >>> corrupt_prices("unadjusted_split", symbol="A", day=day, days=[day], seed=0)(prices)[
    ...     "close"].round(2).tolist()
    [10.0, 11.0, 8.0, 8.67]
    """
    day = pd.Timestamp(day)

    def transform(prices: pd.DataFrame) -> pd.DataFrame:
        out = prices.copy()
        columns = [c for c in _PRICE_COLUMNS if c in out.columns]
        mine = out["symbol"] == symbol
        if kind == "unadjusted_split":
            ratio = (1 / 2, 1 / 3, 2 / 3)[np.random.default_rng(seed).integers(3)]
            rows = mine & (out["date"] >= day)
            out.loc[rows, columns] = out.loc[rows, columns] * ratio
            if "volume" in out.columns:
                out.loc[rows, "volume"] = out.loc[rows, "volume"] / ratio
        elif kind == "price_spike":
            size = np.random.default_rng(seed).uniform(0.25, 0.5)
            sign = 1.0 if np.random.default_rng(seed + 1).random() < 0.5 else -1.0
            rows = mine & (out["date"] == day)
            out.loc[rows, columns] = out.loc[rows, columns] * float(np.exp(sign * size))
        elif kind == "stale_price":
            before = out.loc[mine & (out["date"] < day), "close"]
            if before.empty:
                return out
            frozen = mine & out["date"].isin(pd.DatetimeIndex(days[:STALE_DAYS]))
            out.loc[frozen, columns] = float(before.iloc[-1])
        else:
            raise ConfigError(f"unknown price fault {kind!r}")
        return out

    return transform


@dataclass(frozen=True)
class Poison:
    """How one update is poisoned: a training-row transform, a learning-rate factor, and/or a
    corruption of the prices the update's data source serves."""

    kind: str
    transform: Transform | None = None
    learning_rate_factor: float = 1.0
    prices: Transform | None = None


@dataclass(frozen=True)
class FaultPlan:
    """Which scheduled updates are poisoned, and how.

    Every ``every``-th scheduled update that will be decided (it has enough new validation
    days; counting from ``offset``) is poisoned, with the kinds taken in turn. Every updating
    policy poisons its own ``every``-th such update with the same sequence of kinds.

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

    def poison(
        self,
        kind: str,
        *,
        seed: int,
        foreign: Transform | None,
        symbols: Sequence[str] = (),
        window_days: Sequence[pd.Timestamp] = (),
    ) -> Poison:
        """The :class:`Poison` of one fault ``kind``.

        A price fault hits one of ``symbols`` on a day drawn from ``window_days`` (the update
        window's trading days, oldest first), far enough from both ends to be inside it.
        """
        if kind in PRICE_FAULTS:
            if not symbols or len(window_days) < STALE_DAYS + 3:
                raise ConfigError("a price fault needs the symbols and the window's days")
            rng = np.random.default_rng(seed)
            symbol = str(symbols[rng.integers(len(symbols))])
            at = int(rng.integers(1, len(window_days) - STALE_DAYS - 1))
            transform = corrupt_prices(
                kind, symbol=symbol, day=window_days[at], days=window_days[at:], seed=seed
            )
            return Poison(kind, prices=transform)
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
