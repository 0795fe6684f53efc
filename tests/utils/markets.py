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
    """A ``transform_train`` that flips the targets: labels that contradict their returns."""

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        frame["target"] = 1.0 - frame["target"]
        return frame

    return transform


def shift_dates(trading_days_back: int, *, rename: bool = False):
    """A ``transform_train`` that moves the training rows to other (business) days.

    ``shift_dates(-40)`` dates them 40 business days earlier (rows from another period);
    ``shift_dates(0, rename=True)`` keeps the dates and shuffles which symbol each row's
    history belongs to, so each symbol's returns no longer chain (rows spliced from another
    market).
    """

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        frame["date"] = frame["date"] + pd.offsets.BDay(trading_days_back)
        if rename:
            symbols = sorted(frame["symbol"].unique())
            rotated = dict(zip(symbols, symbols[1:] + symbols[:1], strict=True))
            frame["symbol"] = frame["symbol"].map(rotated)
        return frame

    return transform


#: Features that change sign when a price path is mirrored (log price -> -log price).
SIGNED_COLUMNS = ("ret_1", "ret_5", "ret_10", "ret_21", "z_ret_1", "z_ret_5", "mom_21", "trend_63")


def inverted_relationship():
    """A ``transform_train`` whose rows pass the integrity checks but teach the opposite.

    The signed features are negated while the returns that follow are kept, so the model
    learns the inverse of how the market responds to them. Every other trading day is
    dropped and the symbols renamed, so no row's return chains to another row's (nothing for
    :mod:`online_learning.update.integrity` to contradict): only the stability gate can reject the
    update.
    """

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        days = np.sort(frame["date"].unique())
        frame = frame[frame["date"].isin(days[::2])].copy()
        for column in SIGNED_COLUMNS:
            frame[column] = -frame[column]
        frame["symbol"] = frame["symbol"] + "_INVERTED"
        return frame.reset_index(drop=True)

    return transform


def corrupt_features(value: float = np.nan, fraction: float = 0.1, seed: int = 0, columns=None):
    """A ``transform_train`` that overwrites a fraction of feature cells with ``value``."""
    from online_learning.features import FEATURE_COLUMNS

    columns = list(columns or FEATURE_COLUMNS)

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        mask = rng.random((len(frame), len(columns))) < fraction
        values = frame.loc[:, columns].to_numpy(dtype=np.float64, copy=True)
        values[mask] = value
        frame.loc[:, columns] = values
        return frame

    return transform
