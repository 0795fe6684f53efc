"""The statistics every part of the platform shares: the Sharpe ratio and its annualisation,
the Newey-West (HAC) standard error and the paired test of daily differences.

A leaf module (NumPy and SciPy only): the stability gate, the backtest, the metrics store, the
online sessions, the drift watches and the serving weights all compute a Sharpe ratio here,
so that one number means the same thing wherever it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "TRADING_DAYS",
    "PairedTest",
    "annualise",
    "block_bootstrap_indices",
    "hac_standard_error",
    "paired_test",
    "rolling_sharpe",
    "sharpe_ratio",
    "sharpe_standard_error",
]

#: Trading days in a year: a daily Sharpe ratio is annualised with ``sqrt(TRADING_DAYS)``.
TRADING_DAYS = 252


def annualise(per_period: float, periods_per_year: int = TRADING_DAYS) -> float:
    """An annualised Sharpe ratio from a per-period one (``mean / std`` of the periods).

    Examples
    --------
    >>> round(annualise(0.1), 4)
    1.5875
    """
    return per_period * math.sqrt(periods_per_year)


def sharpe_ratio(returns: np.ndarray, periods_per_year: int = TRADING_DAYS) -> float:
    """Annualised Sharpe ratio of per-period returns (risk-free rate 0).

    Returns 0.0 when the returns do not vary (no position taken) and NaN for fewer than two
    returns or any non-finite return.

    Examples
    --------
    >>> round(sharpe_ratio(np.array([0.01, -0.005, 0.02, 0.0])), 3)
    8.949
    >>> sharpe_ratio(np.zeros(5))
    0.0
    >>> sharpe_ratio(np.array([0.01]))
    nan
    """
    values = np.asarray(returns, dtype=np.float64)
    if values.size < 2 or not np.isfinite(values).all():
        return math.nan
    std = values.std(ddof=1)
    if std == 0.0:
        return 0.0
    return float(annualise(values.mean() / std, periods_per_year))


def rolling_sharpe(returns: np.ndarray, window: int) -> np.ndarray:
    """Annualised Sharpe over the trailing ``window`` periods; NaN before the first full window.

    Examples
    --------
    >>> r = np.tile([0.01, -0.005], 10)
    >>> s = rolling_sharpe(r, 4)
    >>> bool(np.isnan(s[:3]).all()), round(float(s[3]), 2)
    (True, 4.58)
    """
    values = np.asarray(returns, dtype=float)
    out = np.full(values.size, np.nan)
    for end in range(window, values.size + 1):
        out[end - 1] = sharpe_ratio(values[end - window : end])
    return out


def sharpe_standard_error(sharpe: float, n: int, periods_per_year: int = TRADING_DAYS) -> float:
    """Approximate standard error of an annualised Sharpe estimate from ``n`` returns (Lo, 2002).

    Examples
    --------
    >>> round(sharpe_standard_error(0.0, 7), 2)
    6.0
    """
    if n < 2 or not math.isfinite(sharpe):
        return math.nan
    per_period = sharpe / math.sqrt(periods_per_year)
    return math.sqrt((1 + 0.5 * per_period**2) / n) * math.sqrt(periods_per_year)


def hac_standard_error(values: np.ndarray, lags: int | None = None) -> tuple[float, int]:
    """Newey-West standard error of the mean of ``values`` and the number of lags used.

    The default lag count is Newey and West's ``floor(4 * (n / 100) ** (2 / 9))``, at most
    ``n // 4`` so that a handful of days does not estimate more autocovariances than it can.

    Examples
    --------
    >>> x = np.array([0.1, -0.2, 0.3, 0.0, -0.1, 0.2, 0.1, -0.3])
    >>> se, lags = hac_standard_error(x)
    >>> round(se, 4), lags
    (0.0393, 2)
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2:
        return math.nan, 0
    if lags is None:
        lags = min(int(4 * (n / 100) ** (2 / 9)), n // 4)
    centred = x - x.mean()
    variance = centred @ centred / n
    for lag in range(1, lags + 1):
        weight = 1.0 - lag / (lags + 1)
        variance += 2 * weight * (centred[lag:] @ centred[:-lag]) / n
    # n / (n - 1) makes the lag-0 term the usual unbiased variance.
    return math.sqrt(max(variance, 0.0) * n / (n - 1) / n), lags


@dataclass(frozen=True)
class PairedTest:
    """The one-sided paired test of daily differences (candidate minus champion)."""

    n_days: int
    mean_difference: float
    standard_error: float
    margin: float
    t_stat: float
    p_value: float
    lags: int


def paired_test(differences: np.ndarray, *, margin: float = 0.0) -> PairedTest:
    """``P(T <= (mean(d) + margin) / se_HAC(d))``: small when the candidate is worse.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> worse = rng.normal(-0.01, 0.01, 30)
    >>> paired_test(worse).p_value < 0.01
    True
    >>> paired_test(np.zeros(10)).p_value
    1.0
    """
    d = np.asarray(differences, dtype=np.float64)
    n = int(d.size)
    se, lags = hac_standard_error(d)
    mean = float(d.mean()) if n else math.nan
    if n < 2 or not math.isfinite(se):
        return PairedTest(n, mean, se, margin, math.nan, math.nan, lags)
    shifted = mean + margin
    if se == 0.0:  # identical (or constantly shifted) returns: no noise to test against
        t, p = (math.inf, 1.0) if shifted >= 0 else (-math.inf, 0.0)
    else:
        t = shifted / se
        p = float(stats.t.cdf(t, df=n - 1))
    return PairedTest(n, mean, se, margin, float(t), p, lags)


def block_bootstrap_indices(
    n: int,
    *,
    length: int | None = None,
    mean_block: float = 10.0,
    n_boot: int = 1000,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """``n_boot`` stationary-bootstrap paths (Politis and Romano) of ``length`` (default
    ``n``) indices into ``n`` days: blocks of consecutive days of geometric length, mean
    ``mean_block``, wrapping around.

    Examples
    --------
    >>> [path.tolist() for path in block_bootstrap_indices(5, length=4, n_boot=2, seed=1)]
    [[2, 3, 4, 0], [4, 0, 4, 0]]
    """
    length = n if length is None else length
    rng = np.random.default_rng(seed)
    p = 1.0 / mean_block
    steps = np.arange(length)
    for _ in range(n_boot):
        first = rng.integers(n)
        jumps = rng.random(length) < p
        starts = rng.integers(n, size=length)
        # A path continues its block (previous index + 1) until a jump draws a new start.
        jumps[0], starts[0] = True, first
        block_start = np.maximum.accumulate(np.where(jumps, steps, 0))
        yield (starts[block_start] + steps - block_start) % n
