"""Seeded markets and poisoned-update transforms shared by the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from online_learning.data import SyntheticMarket


def regime_switch(
    first: str = "bull", second: str = "bear", seed: int = 11, n_symbols: int = 10
) -> SyntheticMarket:
    """Every symbol in regime ``first`` for 400 days, then in ``second`` for 300 days.

    The relationship is fixed inside each regime (no drift) so that tests can tell a genuine
    change of regime from noise.
    """
    return SyntheticMarket(
        seed=seed,
        n_symbols=n_symbols,
        n_days=700,
        drift_speed=0.0,
        regime_schedule=[(first, 400), (second, 300)],
    )


def to_wide(long_csv) -> pd.DataFrame:
    """A long price CSV as the wide layout: a ``date`` column and one close column per symbol."""
    frame = pd.read_csv(long_csv)
    wide = frame.pivot(index="date", columns="symbol", values="close")
    wide.columns.name = None
    return wide.reset_index()


def trading_days(source) -> list[pd.Timestamp]:
    return sorted(source.fetch()["date"].unique())


def shuffle_labels(seed: int = 0):
    """A ``transform_train`` that permutes the targets: an update trained on pure noise."""

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        frame["target"] = rng.permutation(frame["target"].to_numpy())
        return frame

    return transform


def invert_labels():
    """A ``transform_train`` that teaches the opposite of what happened: an adversarial update."""

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        frame["target"] = 1.0 - frame["target"]
        return frame

    return transform


def corrupt_features(value: float = np.nan, fraction: float = 0.1, seed: int = 0):
    """A ``transform_train`` that overwrites a fraction of feature cells with ``value``."""
    from online_learning.features import FEATURE_COLUMNS

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        mask = rng.random((len(frame), len(FEATURE_COLUMNS))) < fraction
        values = frame.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64, copy=True)
        values[mask] = value
        frame.loc[:, list(FEATURE_COLUMNS)] = values
        return frame

    return transform
