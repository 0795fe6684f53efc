"""Seeded markets and poisoned-update transforms shared by the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from online_learning.data import SyntheticMarket, conform_prices, slice_dates


def regime_switch(
    first: str = "bull", second: str = "bear", seed: int = 11, n_symbols: int = 10
) -> SyntheticMarket:
    """Every symbol in regime ``first`` for 400 days, then in ``second`` for 300 days.

    The relationship is fixed inside each regime (no drift) and as strong as the simulator's
    old default (``signal_strength=1``, far above real markets) so that tests of the update
    path's mechanics can tell a genuine change of regime from noise.
    """
    return SyntheticMarket(
        seed=seed,
        n_symbols=n_symbols,
        n_days=700,
        drift_speed=0.0,
        signal_strength=1.0,
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


class BounceMarket:
    """Closes that bounce: a random walk observed with noise, the classic false signal.

    The true log price ``p`` is a random walk; a close is ``p`` plus observation noise (bid-ask
    bounce, stale quotes), so close-to-close returns revert (lag-one autocorrelation about
    -1/3) and a model that buys yesterday's losers earns a large Sharpe ratio **if it could
    trade at the close it has just seen**. The open of a day is the previous true price moved
    by the overnight part of the day's step, observed with its own noise: nothing a signal
    computed at a close knows about the next open or close.
    """

    name = "bounce"

    def __init__(self, seed: int = 0, n_symbols: int = 4, n_days: int = 400) -> None:
        rng = np.random.default_rng(seed)
        dates = pd.bdate_range("2016-01-04", periods=n_days)
        overnight = rng.normal(0.0, 0.006, (n_days, n_symbols))
        session = rng.normal(0.0, 0.008, (n_days, n_symbols))
        true = np.log(100.0) + np.cumsum(overnight + session, axis=0)
        close = np.exp(true + rng.normal(0.0, 0.01, true.shape))
        previous = np.vstack([np.full((1, n_symbols), np.log(100.0)), true[:-1]])
        open_ = np.exp(previous + overnight + rng.normal(0.0, 0.01, true.shape))
        frame = pd.DataFrame(
            {
                "date": np.tile(dates.to_numpy(), n_symbols),
                "symbol": np.repeat([f"B{i}" for i in range(n_symbols)], n_days),
                "open": open_.T.ravel(),
                "close": close.T.ravel(),
            }
        )
        self._prices = conform_prices(frame, origin="bounce market")

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        return slice_dates(self._prices, start, end, origin=self.name)


def decisive_market(seed: int = 0) -> SyntheticMarket:
    """Bull for 400 days then sideways, the simulator's strong signal on 40 symbols without a
    common factor: a book's edge (annualised Sharpe about 15) that a few weeks can tell. A
    team's data source as the configuration names it (``"tests.utils.markets:decisive_market"``)."""
    return SyntheticMarket(
        seed=11 + seed,
        n_symbols=40,
        n_days=700,
        drift_speed=0.0,
        signal_strength=1.0,
        regime_schedule=[("bull", 400), ("sideways", 300)],
        market_correlation=0.0,
    )
