"""Checks that the prices behind an update's window look like a market, not a data error.

Features and labels come from the same closes, so a bad close is consistent with itself and
passes :mod:`online_learning.update.integrity`. Three errors of real price feeds are looked for
in every symbol's daily log returns over the window (all symbols and regimes, the returns into
each window day and into the day after the last):

- **an unadjusted split**: one return within ``SPLIT_TOLERANCE`` of the log of a usual split
  ratio (2-for-1, 3-for-1, 3-for-2, 4-for-1, 5-for-1, 10-for-1 or a 1-for-2 ... 1-for-10
  reverse split), at least ``split_z`` robust standard deviations from the symbol's median,
  and not undone the next day;
- **an isolated spike**: a move that the next day undoes (the two sum to less than a quarter
  of the larger), both at least ``SPIKE_Z_ALONE`` robust standard deviations, or ``spike_z``
  and ``SPIKE_SIZE`` in size: one bad print;
- **a stale price**: ``stale_days`` or more consecutive returns exactly zero (the same close
  repeated): a feed that stopped updating.

The robust standard deviation is ``1.4826 * MAD`` of the symbol's returns in the window,
floored at ``VOL_FLOOR``. With three symbols or more, the day's median return over symbols is
taken out before measuring a move in standard deviations: on 2020-03-12 every stock fell and
rose back, which is the market, not a bad print. How often these checks reject clean windows
(real stocks, the S&P 500 index, the simulator) and how many injected faults they catch is
measured in the backtest's fault pass and reported in ``docs/backtest.md``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "SPLIT_RATIOS",
    "SPLIT_TOLERANCE",
    "VOL_FLOOR",
    "describe_price_faults",
    "symbol_returns",
]

#: Price ratios of usual splits and reverse splits (new price / old price).
SPLIT_RATIOS: tuple[float, ...] = (1 / 2, 1 / 3, 2 / 3, 1 / 4, 1 / 5, 1 / 10, 2, 3, 4, 5, 10)
#: How close, in log return, a jump must come to a split ratio to be taken for one.
SPLIT_TOLERANCE = 0.04
#: Smallest robust daily volatility used (a nearly flat series would make any move extreme).
VOL_FLOOR = 0.002
_LOG_RATIOS = np.log(np.asarray(SPLIT_RATIOS))
_SPLIT_NAMES = ("2-for-1", "3-for-1", "3-for-2", "4-for-1", "5-for-1", "10-for-1",
                "1-for-2 reverse", "1-for-3 reverse", "1-for-4 reverse", "1-for-5 reverse",
                "1-for-10 reverse")  # fmt: skip
#: A reverted move counts as a spike from this many robust standard deviations, or from
#: ``spike_z`` when it is also at least ``SPIKE_SIZE`` in log return.
SPIKE_Z_ALONE = 10.0
SPIKE_SIZE = 0.2


def symbol_returns(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Per symbol, the daily log close-to-close returns the window's rows reveal, by date.

    Each row gives ``ret_1`` (the return into its day) and the last row of a symbol also its
    ``forward_return`` (the return into the next day, dated one day later).

    Examples
    --------
    >>> rows = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
    ...     "symbol": "A", "ret_1": [0.01, 0.02], "forward_return": [0.02, -0.01]})
    >>> symbol_returns(rows)["A"].round(2).tolist()
    [0.01, 0.02, -0.01]
    """
    out = {}
    for symbol, group in rows.sort_values("date").groupby("symbol", sort=True):
        returns = pd.Series(group["ret_1"].to_numpy(np.float64), index=group["date"].to_numpy())
        last = group.iloc[-1]
        if math.isfinite(float(last["forward_return"])):
            after = pd.Timestamp(last["date"]) + pd.Timedelta(days=1)
            returns = pd.concat([returns, pd.Series([float(last["forward_return"])], [after])])
        out[str(symbol)] = returns
    return out


def describe_price_faults(
    rows: pd.DataFrame,
    *,
    split_z: float = 6.0,
    spike_z: float = 5.0,
    stale_days: int = 4,
) -> str | None:
    """The first suspect price in ``rows`` (feature rows of a window), as a sentence, or None.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.bdate_range("2024-01-02", periods=40)
    >>> r = rng.normal(0, 0.01, 40)
    >>> rows = pd.DataFrame({"date": dates, "symbol": "A", "ret_1": r,
    ...                      "forward_return": np.append(r[1:], 0.004)})
    >>> describe_price_faults(rows) is None
    True
    >>> r[20] += np.log(0.5)  # a 1:2 split nobody adjusted for
    >>> split = rows.assign(ret_1=r, forward_return=np.append(r[1:], 0.004))
    >>> describe_price_faults(split)
    'A on 2024-01-30: the close moved -50.1% and stayed there (an unadjusted 2-for-1 split?)'
    """
    by_symbol = symbol_returns(rows)
    market = None
    if len(by_symbol) >= 3:
        market = pd.DataFrame(by_symbol).median(axis=1)
    for symbol, returns in by_symbol.items():
        values = returns.to_numpy(np.float64)
        own = values if market is None else values - market.reindex(returns.index).to_numpy()
        finite = own[np.isfinite(own)]
        if finite.size < 5:
            continue
        scale = max(1.4826 * float(np.median(np.abs(finite - np.median(finite)))), VOL_FLOOR)
        z = np.abs(own - np.median(finite)) / scale
        days = [pd.Timestamp(d) for d in returns.index]
        problem = (
            _stale(symbol, values, days, stale_days)
            or _spike(symbol, values, z, days, spike_z)
            or _split(symbol, values, z, days, split_z)
        )
        if problem:
            return problem
    return None


def _reverted(values: np.ndarray, i: int) -> bool:
    if i + 1 >= len(values) or not math.isfinite(values[i + 1]):
        return False
    larger = max(abs(values[i]), abs(values[i + 1]))
    return np.sign(values[i + 1]) == -np.sign(values[i]) and abs(values[i] + values[i + 1]) < (
        0.25 * larger
    )


def _spike(symbol: str, values: np.ndarray, z: np.ndarray, days, threshold: float) -> str | None:
    large = (z >= SPIKE_Z_ALONE) | ((z >= threshold) & (np.abs(values) >= SPIKE_SIZE))
    for i in np.flatnonzero(large):
        if i + 1 < len(values) and large[i + 1] and _reverted(values, i):
            return (
                f"{symbol} on {days[i]:%Y-%m-%d}: the close moved {math.expm1(values[i]):+.1%} "
                f"and back {math.expm1(values[i + 1]):+.1%} the next day (an isolated spike, "
                f"{z[i]:.0f} robust standard deviations)"
            )
    return None


def _split(symbol: str, values: np.ndarray, z: np.ndarray, days, threshold: float) -> str | None:
    for i in np.flatnonzero(z >= threshold):
        distance = np.abs(_LOG_RATIOS - values[i])
        nearest = int(np.argmin(distance))
        if distance[nearest] <= SPLIT_TOLERANCE and not _reverted(values, i):
            return (
                f"{symbol} on {days[i]:%Y-%m-%d}: the close moved {math.expm1(values[i]):+.1%} "
                f"and stayed there (an unadjusted {_SPLIT_NAMES[nearest]} split?)"
            )
    return None


def _stale(symbol: str, values: np.ndarray, days, run_length: int) -> str | None:
    run = 0
    for i, value in enumerate(values):
        run = run + 1 if value == 0.0 else 0
        if run >= run_length:
            start = days[i - run + 1]
            return (
                f"{symbol}: the close did not change for {run} trading days from "
                f"{start:%Y-%m-%d} (a stale price?)"
            )
    return None
