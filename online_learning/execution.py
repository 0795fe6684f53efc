"""One rule for what a model's prediction earns: position, execution timing and trading costs.

The stability gate, the realised performance in the metrics store and the backtest all price
a prediction with the functions of this module, so the three can never disagree.

Position
--------
A prediction made from the features of day ``t`` (known at its close) is ``p_up``, the
probability that the next return is positive; the position is ``2 * p_up - 1``, long when a
rise is expected, short when a fall is, sized by confidence (:func:`position_from_p_up`).

Execution timing
----------------
The daily update runs after the close, so the earliest real fill of a signal computed from day
``t``'s close is the next session:

==============  ====================================  ==========================================
timing          the position of day ``t`` is held     return credited to day ``t``
==============  ====================================  ==========================================
``next-open``   from the open of ``t+1`` to the open  ``open(t+2) / open(t+1) - 1``
                of ``t+2``
``next-close``  from the close of ``t+1`` to the      ``close(t+2) / close(t+1) - 1``
                close of ``t+2``
``same-close``  from the close of ``t`` to the close  ``close(t+1) / close(t) - 1``: **research
                of ``t+1``                            only**, it trades at a price the signal
                                                      was computed from
==============  ====================================  ==========================================

``auto`` (the default) is ``next-open`` when the data has opening prices and ``next-close``
otherwise. ``same-close`` credits a model with the close it has just seen: on a market whose
closes bounce around a random walk (observation noise), a mean-reversion model earns a large
Sharpe ratio at ``same-close`` and nothing at an executable timing.

Costs
-----
Every change of position costs ``cost_bps`` basis points per unit of position traded (default
5: commission, half the spread and some slippage of a liquid stock), charged on the day the
position changes: ``net = position * return - cost_bps / 1e4 * |position - previous|``. The
first position of a symbol is traded from ``previous`` (0 unless given). Turnover is the sum of
``|position - previous|``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from online_learning.errors import ConfigError

__all__ = [
    "DEFAULT_COST_BPS",
    "DEFAULT_EXECUTION",
    "EXECUTIONS",
    "MAX_COST_BPS",
    "RESEARCH_EXECUTIONS",
    "RETURN_COLUMNS",
    "DailyReturns",
    "daily_net_returns",
    "executed_returns",
    "net_returns",
    "position_from_p_up",
    "resolve_execution",
    "validate_cost_bps",
    "validate_execution",
]

#: Execution timings; ``auto`` resolves to ``next-open`` or ``next-close`` per data set.
EXECUTIONS: tuple[str, ...] = ("auto", "next-open", "next-close", "same-close")
#: Timings that are not executable after the close: for research comparisons only.
RESEARCH_EXECUTIONS: tuple[str, ...] = ("same-close",)
DEFAULT_EXECUTION = "auto"
#: Basis points per unit of position traded.
DEFAULT_COST_BPS = 5.0
#: Feature-frame column holding the log return each timing earns (see ``features.py``).
RETURN_COLUMNS: Mapping[str, str] = {
    "next-open": "return_next_open",
    "next-close": "return_next_close",
    "same-close": "forward_return",
}
MAX_COST_BPS = 10_000.0


def position_from_p_up(p_up: float | np.ndarray) -> float | np.ndarray:
    """The position a prediction takes: ``2 * p_up - 1``, in ``[-1, 1]``.

    Parameters
    ----------
    p_up : float or numpy.ndarray
        Probability (or probabilities) that the next return is positive.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar, a float64 array otherwise.

    Raises
    ------
    ValueError
        If a probability is outside ``[0, 1]`` or not finite.

    Examples
    --------
    >>> position_from_p_up(0.75)
    0.5
    >>> position_from_p_up(np.array([0.0, 0.5, 1.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    values = np.asarray(p_up, dtype=np.float64)
    if not (np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()):
        raise ValueError("p_up must hold finite probabilities in [0, 1]")
    position = 2.0 * values - 1.0
    return float(position) if position.ndim == 0 else position


def validate_execution(execution: str) -> str:
    """Return ``execution`` if it is one of :data:`EXECUTIONS`, else raise ``ConfigError``.

    Examples
    --------
    >>> validate_execution("next-open")
    'next-open'
    >>> validate_execution("close")
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: execution must be one of auto, next-open, ...
    """
    if execution not in EXECUTIONS:
        raise ConfigError(f"execution must be one of {', '.join(EXECUTIONS)}; got {execution!r}")
    return execution


def validate_cost_bps(cost_bps: float) -> float:
    """Return ``cost_bps`` as a float if it is finite and in ``[0, 10000]``.

    Examples
    --------
    >>> validate_cost_bps(5)
    5.0
    """
    try:
        value = float(cost_bps)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cost_bps must be a number, got {cost_bps!r}") from exc
    if not (math.isfinite(value) and 0.0 <= value <= MAX_COST_BPS):
        raise ConfigError(f"cost_bps must be between 0 and {MAX_COST_BPS:g}, got {cost_bps!r}")
    return value


def resolve_execution(execution: str, rows: pd.DataFrame) -> str:
    """The concrete timing of ``execution`` for a feature frame: ``auto`` is decided here.

    ``auto`` is ``next-open`` when the frame's prices had opening prices (its
    ``return_next_open`` column holds a value), else ``next-close``.

    Examples
    --------
    >>> rows = pd.DataFrame({"return_next_open": [np.nan, np.nan]})
    >>> resolve_execution("auto", rows), resolve_execution("same-close", rows)
    ('next-close', 'same-close')
    """
    validate_execution(execution)
    if execution != "auto":
        return execution
    column = RETURN_COLUMNS["next-open"]
    has_opens = column in rows.columns and bool(rows[column].notna().any())
    return "next-open" if has_opens else "next-close"


def executed_returns(rows: pd.DataFrame, execution: str) -> np.ndarray:
    """Simple return earned by the position of each row under ``execution`` (NaN if unknown).

    ``rows`` is a frame of :func:`online_learning.features.build_features`; the return of the
    last one or two days of each symbol is not known yet and comes out NaN.

    Examples
    --------
    >>> rows = pd.DataFrame({"forward_return": [0.01], "return_next_close": [np.log(1.02)],
    ...                      "return_next_open": [np.nan]})
    >>> executed_returns(rows, "auto").round(4).tolist()
    [0.02]
    """
    column = RETURN_COLUMNS[resolve_execution(execution, rows)]
    if column not in rows.columns:
        raise ConfigError(f"the feature frame has no {column!r} column for {execution!r}")
    return np.expm1(rows[column].to_numpy(dtype=np.float64))


def net_returns(
    symbols: np.ndarray | pd.Series,
    positions: np.ndarray,
    returns: np.ndarray,
    *,
    cost_bps: float = DEFAULT_COST_BPS,
    previous: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row net return and turnover of positions held in time order.

    Rows must be in time order within each symbol (any interleaving of symbols). A row's
    turnover is ``|position - previous position of its symbol|``; the first row of a symbol
    trades from ``previous[symbol]`` (0 when absent).

    Returns
    -------
    (net, turnover) : tuple of numpy.ndarray

    Examples
    --------
    >>> net, turnover = net_returns(np.array(["A", "A"]), np.array([1.0, -1.0]),
    ...                             np.array([0.01, 0.01]), cost_bps=10)
    >>> net.round(4).tolist(), turnover.tolist()
    ([0.009, -0.012], [1.0, 2.0])
    """
    rate = validate_cost_bps(cost_bps) / 1e4
    symbols = np.asarray(symbols).astype(str)
    positions = np.asarray(positions, dtype=np.float64)
    returns = np.asarray(returns, dtype=np.float64)
    held = dict(previous or {})
    turnover = np.empty(len(positions))
    for i, (symbol, position) in enumerate(zip(symbols, positions, strict=True)):
        turnover[i] = abs(position - held.get(symbol, 0.0))
        held[symbol] = position
    return positions * returns - rate * turnover, turnover


@dataclass(frozen=True)
class DailyReturns:
    """Daily returns of an equal-weight book: the mean over each day's rows.

    ``net = gross - cost``; ``turnover`` is the day's one-way turnover of the book (the mean
    over its rows of ``|position change|``).
    """

    net: pd.Series
    gross: pd.Series
    cost: pd.Series
    turnover: pd.Series
    last_positions: dict[str, float]


def daily_net_returns(
    rows: pd.DataFrame,
    positions: np.ndarray,
    *,
    execution: str,
    cost_bps: float = DEFAULT_COST_BPS,
    previous: Mapping[str, float] | None = None,
) -> DailyReturns:
    """Daily book returns of ``positions`` taken on ``rows`` (``date``, ``symbol``, returns).

    Rows whose executed return is not known yet (the newest days) are left out. Each day's
    return is the mean over its rows, so a book of many symbols is equally weighted.

    Examples
    --------
    >>> rows = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
    ...                      "symbol": "A", "forward_return": np.log([1.01, 0.99])})
    >>> daily = daily_net_returns(rows, np.array([1.0, 1.0]), execution="same-close",
    ...                           cost_bps=0)
    >>> daily.net.round(4).tolist(), daily.turnover.tolist()
    ([0.01, -0.01], [1.0, 0.0])
    """
    realised = executed_returns(rows, execution)
    known = np.isfinite(realised)
    frame = pd.DataFrame(
        {
            "date": rows["date"].to_numpy()[known],
            "symbol": rows["symbol"].astype(str).to_numpy()[known],
            "position": np.asarray(positions, dtype=np.float64)[known],
            "ret": realised[known],
        }
    ).sort_values(["date", "symbol"], kind="stable")
    net, turnover = net_returns(
        frame["symbol"].to_numpy(),
        frame["position"].to_numpy(),
        frame["ret"].to_numpy(),
        cost_bps=cost_bps,
        previous=previous,
    )
    frame["net"], frame["turnover"] = net, turnover
    frame["gross"] = frame["position"] * frame["ret"]
    frame["cost"] = frame["gross"] - frame["net"]
    by_day = frame.groupby("date")
    last = frame.groupby("symbol")["position"].last()
    return DailyReturns(
        net=by_day["net"].mean(),
        gross=by_day["gross"].mean(),
        cost=by_day["cost"].mean(),
        turnover=by_day["turnover"].mean(),
        last_positions={**dict(previous or {}), **last.to_dict()},
    )
