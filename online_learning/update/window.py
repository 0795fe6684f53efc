"""The sliding data window of an update: training days, then held-out validation days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from online_learning.data import DataSource
from online_learning.errors import DataError
from online_learning.features import FEATURE_COLUMNS, build_features, labelled

# Calendar days fetched before the window so that the longest feature lookback is warm.
_LOOKBACK_CALENDAR_DAYS = 140


@dataclass(frozen=True)
class UpdateWindow:
    """Labelled feature rows of one window, split by date, and the window's trading days."""

    train: pd.DataFrame
    validation: pd.DataFrame
    start: date
    end: date
    trading_days: tuple[date, ...]

    @property
    def finite(self) -> bool:
        frames = (self.train, self.validation)
        columns = [*FEATURE_COLUMNS, "forward_return"]
        return all(np.isfinite(f.loc[:, columns].to_numpy(dtype=np.float64)).all() for f in frames)


def labelled_features(
    source: DataSource, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Causal features with known targets for the days in ``[start, end]``.

    Prices are fetched from before ``start`` so that the first day already has warm features.
    """
    fetch_start = None if start is None else start - timedelta(days=_LOOKBACK_CALENDAR_DAYS)
    features = labelled(build_features(source.fetch(fetch_start, end)))
    if start is not None:
        features = features[features["date"] >= pd.Timestamp(start)]
    if features.empty:
        raise DataError(f"{source.name}: no labelled days between {start} and {end}")
    return features.reset_index(drop=True)


def update_window(
    source: DataSource,
    *,
    data_window: int,
    validation_days: int,
    as_of: date | None = None,
    regime: str | None = None,
) -> UpdateWindow:
    """The last ``data_window`` labelled trading days up to ``as_of``.

    A day is labelled when the next day's close is known, so the newest day of data is never in
    the window. The last ``validation_days`` days are held out. With ``regime``, only rows whose
    causal regime label matches are kept (a regime specialist learns from its own regime).
    """
    fetch_start = None
    if as_of is not None:
        fetch_start = as_of - timedelta(days=int(data_window * 1.6) + 10)
    features = labelled_features(source, start=fetch_start, end=as_of)
    dates = np.sort(features["date"].unique())
    if len(dates) < data_window:
        raise DataError(
            f"{source.name}: {len(dates)} labelled trading days up to {as_of or 'the end'}, "
            f"the window needs {data_window}"
        )
    window_dates = dates[-data_window:]
    split = window_dates[-validation_days]
    rows = features[features["date"] >= window_dates[0]]
    if regime is not None:
        rows = rows[rows["regime_label"] == regime]
    return UpdateWindow(
        train=rows[rows["date"] < split].reset_index(drop=True),
        validation=rows[rows["date"] >= split].reset_index(drop=True),
        start=pd.Timestamp(window_dates[0]).date(),
        end=pd.Timestamp(window_dates[-1]).date(),
        trading_days=tuple(pd.Timestamp(d).date() for d in window_dates),
    )
