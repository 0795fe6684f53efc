"""Causal features, regime labels and next-day targets from a price frame.

Every feature at date ``t`` uses closes up to and including ``t`` of the same symbol, through
backward-looking rolling windows only, so adding later prices never changes an earlier row.
Windows count rows (trading days of that symbol), not calendar days. ``forward_return`` and
``target`` look one row ahead on purpose: they are the labels, never inputs; so do
``return_next_close`` and ``return_next_open``, the returns a position taken at the close of
the row's day earns at an executable timing (see :mod:`online_learning.execution`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from online_learning.data.base import CLOSE, DATE, OPEN, REGIME, SYMBOL, conform_prices
from online_learning.errors import DataError

if TYPE_CHECKING:
    from pandas.api.typing import SeriesGroupBy

__all__ = [
    "BEAR_THRESHOLD",
    "BULL_THRESHOLD",
    "FEATURE_COLUMNS",
    "TREND_WINDOW",
    "VOL_FLOOR",
    "WARMUP_ROWS",
    "build_features",
    "classify_regime",
    "labelled",
]

FEATURE_COLUMNS: tuple[str, ...] = (
    "ret_1",  # log return over 1 day
    "ret_5",  # log return over 5 days
    "ret_10",  # log return over 10 days
    "ret_21",  # log return over 21 days
    "vol_10",  # standard deviation of daily log returns over 10 days
    "vol_21",  # same over 21 days
    "z_ret_1",  # ret_1 / vol_21
    "z_ret_5",  # ret_5 / (vol_21 * sqrt(5))
    "mom_21",  # close / 21-day moving average of close - 1
    "trend_63",  # mean / std of daily log returns over 63 days * sqrt(63)
)

TREND_WINDOW = 63
#: Rows dropped at the start of each symbol before every feature is defined.
WARMUP_ROWS = TREND_WINDOW
#: Trend score above which a day is labelled "bull".
BULL_THRESHOLD = 1.0
#: Trend score below which a day is labelled "bear".
BEAR_THRESHOLD = -1.0
#: Volatility floor of the ratio features: a flat price series gives 0, not inf or NaN.
VOL_FLOOR = 1e-8

LABEL_COLUMNS: tuple[str, ...] = (
    "regime_label",
    "forward_return",
    "target",
    "return_next_close",
    "return_next_open",
)


def classify_regime(trend_score: float | np.ndarray | pd.Series) -> np.ndarray | str:
    """Label trend scores as ``"bull"`` (> 1), ``"bear"`` (< -1) or ``"sideways"``.

    Parameters
    ----------
    trend_score : float or array-like
        Values of the ``trend_63`` feature (a t-statistic of the mean daily return).

    Returns
    -------
    str or numpy.ndarray
        One label for a scalar, an array of labels otherwise.

    Raises
    ------
    ValueError
        If a score is NaN: an undefined trend has no regime.

    Examples
    --------
    >>> classify_regime(1.7)
    'bull'
    >>> classify_regime(np.array([-2.0, 0.3, 1.0, 1.01])).tolist()
    ['bear', 'sideways', 'sideways', 'bull']
    """
    scalar = np.ndim(trend_score) == 0
    scores = np.asarray(trend_score, dtype=np.float64)
    if np.isnan(scores).any():
        raise ValueError("trend score is NaN; classify only rows past the warm-up")
    labels = np.where(
        scores > BULL_THRESHOLD,
        "bull",
        np.where(scores < BEAR_THRESHOLD, "bear", "sideways"),
    ).astype(object)
    return str(labels.item()) if scalar else labels


def build_features(prices: pd.DataFrame) -> pd.DataFrame:
    """Compute causal features, the regime label and the next-day target per (date, symbol).

    Parameters
    ----------
    prices : pandas.DataFrame
        A price frame (see :mod:`online_learning.data.base`); row order and index do not
        matter, a ``datetime64`` date of any unit is accepted.

    Returns
    -------
    pandas.DataFrame
        Columns ``date``, ``symbol``, :data:`FEATURE_COLUMNS`, ``regime_label``, ``true_regime``
        (only when ``prices`` has ``regime``), ``forward_return`` (log return from this close to
        the symbol's next close; NaN on its last row), ``target`` (1.0 if ``forward_return``
        > 0, 0.0 if <= 0, NaN if unknown), ``return_next_close`` (log return from the next
        close to the one after) and ``return_next_open`` (log return from the next open to the
        one after; NaN throughout when the prices have no complete ``open`` column). Sorted
        by (symbol, date) with a fresh index; the first :data:`WARMUP_ROWS` rows of each
        symbol are dropped.

    Raises
    ------
    DataError
        If ``prices`` breaks the contract, or no symbol has more than :data:`WARMUP_ROWS` rows.

    Examples
    --------
    >>> from online_learning.data import SyntheticMarket
    >>> prices = SyntheticMarket(seed=0, n_symbols=2, n_days=100).fetch()
    >>> features = build_features(prices)
    >>> len(features), features["symbol"].unique().tolist()
    (74, ['SYN00', 'SYN01'])
    >>> bool(np.isfinite(features[list(FEATURE_COLUMNS)].to_numpy()).all())
    True
    """
    frame = prices.copy()
    if DATE in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[DATE]):
        frame[DATE] = frame[DATE].astype("datetime64[ns]")
    frame = conform_prices(frame, origin="prices given to build_features")

    log_close = np.log(frame[CLOSE])
    by_symbol = log_close.groupby(frame[SYMBOL], sort=False)
    ret_1 = by_symbol.diff()
    returns = ret_1.groupby(frame[SYMBOL], sort=False)
    closes = frame[CLOSE].groupby(frame[SYMBOL], sort=False)

    def rolling(grouped: SeriesGroupBy, window: int, how: str) -> pd.Series:
        stat = getattr(grouped.rolling(window, min_periods=window), how)()
        return stat.reset_index(level=0, drop=True).sort_index()

    vol_10 = rolling(returns, 10, "std")
    vol_21 = rolling(returns, 21, "std")
    ret_5 = by_symbol.diff(5)
    trend_mean = rolling(returns, TREND_WINDOW, "mean")
    trend_std = rolling(returns, TREND_WINDOW, "std")

    out = pd.DataFrame({DATE: frame[DATE], SYMBOL: frame[SYMBOL]})
    out["ret_1"] = ret_1
    out["ret_5"] = ret_5
    out["ret_10"] = by_symbol.diff(10)
    out["ret_21"] = by_symbol.diff(21)
    out["vol_10"] = vol_10
    out["vol_21"] = vol_21
    out["z_ret_1"] = _ratio(ret_1, vol_21)
    out["z_ret_5"] = _ratio(ret_5, vol_21 * math.sqrt(5))
    out["mom_21"] = frame[CLOSE] / rolling(closes, 21, "mean") - 1.0
    out["trend_63"] = _ratio(trend_mean, trend_std) * math.sqrt(TREND_WINDOW)

    forward = by_symbol.shift(-1) - log_close
    keep = out[list(FEATURE_COLUMNS)].notna().all(axis=1).to_numpy()
    if not keep.any():
        raise DataError(
            f"build_features: every symbol has {WARMUP_ROWS} rows or fewer; "
            f"features need {WARMUP_ROWS + 1} prices per symbol"
        )
    out["regime_label"] = "sideways"
    out.loc[keep, "regime_label"] = classify_regime(out.loc[keep, "trend_63"].to_numpy())
    if REGIME in frame.columns:
        out["true_regime"] = frame[REGIME]
    out["forward_return"] = forward
    out["target"] = np.where(forward.isna(), np.nan, (forward > 0).astype(np.float64))
    out["return_next_close"] = forward.groupby(frame[SYMBOL], sort=False).shift(-1)
    out["return_next_open"] = _next_open_returns(frame)
    return out.loc[keep].reset_index(drop=True)


def labelled(features: pd.DataFrame) -> pd.DataFrame:
    """Rows of a :func:`build_features` frame whose target is known (not the last day).

    Examples
    --------
    >>> from online_learning.data import SyntheticMarket
    >>> features = build_features(SyntheticMarket(seed=0, n_symbols=2, n_days=100).fetch())
    >>> len(labelled(features)) == len(features) - 2
    True
    """
    if "target" not in features.columns:
        raise DataError("labelled: the frame has no 'target' column; use build_features first")
    return features.loc[features["target"].notna()].reset_index(drop=True)


def _next_open_returns(frame: pd.DataFrame) -> pd.Series:
    """``log(open(t+2) / open(t+1))`` per symbol, or NaN when opens are missing or not > 0."""
    if OPEN not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    opens = frame[OPEN]
    if not (np.isfinite(opens.to_numpy()).all() and (opens > 0).all()):
        return pd.Series(np.nan, index=frame.index)
    by_symbol = np.log(opens).groupby(frame[SYMBOL], sort=False)
    return by_symbol.shift(-2) - by_symbol.shift(-1)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator`` with the denominator floored at :data:`VOL_FLOOR`."""
    return numerator / denominator.clip(lower=VOL_FLOOR)
