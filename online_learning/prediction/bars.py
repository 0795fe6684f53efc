"""An agent's recent daily bars to the features the models were trained on.

The features come from :func:`online_learning.features.build_features`, the function the
update loop trains with, applied to the bars exactly as given: equal bars give bit-identical
features, so a model never sees at serving time numbers computed another way than in
training (no train/serve skew). The features read closes only; ``open``, ``high``, ``low``
and ``volume`` are checked when present and otherwise ignored.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from online_learning.data.base import CLOSE, DATE, SYMBOL
from online_learning.features import FEATURE_COLUMNS, WARMUP_ROWS, build_features
from online_learning.prediction.errors import InsufficientBars, InvalidBars

__all__ = ["BARS_NEEDED", "MAX_BARS", "bars_frame", "features_from_bars"]

#: Bars the features need: the 63-day trend reads 63 returns, so 64 closes.
BARS_NEEDED = WARMUP_ROWS + 1
#: Longest history accepted in one request (about eight years of trading days).
MAX_BARS = 2000
_PRICES = ("open", "high", "low", CLOSE)
_SERVING_SYMBOL = "_request"


def _day(value: Any, index: int) -> pd.Timestamp:
    if isinstance(value, bool) or not isinstance(value, str | date | datetime | pd.Timestamp):
        raise InvalidBars(f"date must be an ISO 8601 date, got {value!r}", index=index)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise InvalidBars(f"date {value!r} is not an ISO 8601 date", index=index) from None
    if stamp is pd.NaT:
        raise InvalidBars(f"date {value!r} is not an ISO 8601 date", index=index)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def _number(bar: Mapping[str, Any], name: str, index: int, *, required: bool) -> float | None:
    value = bar.get(name)
    if value is None:
        if required:
            raise InvalidBars(f"{name!r} is missing", index=index)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InvalidBars(f"{name!r} must be a number, got {value!r}", index=index)
    number = float(value)
    if not math.isfinite(number):
        raise InvalidBars(f"{name!r} must be finite, got {value!r}", index=index)
    if name == "volume":
        if number < 0:
            raise InvalidBars(f"'volume' must be >= 0, got {value!r}", index=index)
    elif number <= 0:
        raise InvalidBars(f"{name!r} must be > 0, got {value!r}", index=index)
    return number


def features_from_bars(bars: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The features of the newest bar, computed as the models were trained.

    Parameters
    ----------
    bars : sequence of mappings
        One symbol's daily bars, oldest first, each with ``date`` (ISO 8601 string or date)
        and ``close`` (> 0), optionally ``open``, ``high``, ``low`` (> 0) and ``volume``
        (>= 0). At least :data:`BARS_NEEDED` (64), at most :data:`MAX_BARS`.

    Returns
    -------
    dict of str to float
        :data:`~online_learning.features.FEATURE_COLUMNS` of the last bar, in that order.

    Raises
    ------
    InsufficientBars
        With fewer bars than the features need (``needed`` and ``got`` say how many).
    InvalidBars
        For a bar that is not a mapping, lacks a date or close, has a non-finite or
        non-positive price, or whose date is not after the previous bar's (``index`` says
        which), or for more than :data:`MAX_BARS` bars.

    Notes
    -----
    :func:`~online_learning.features.build_features` (pandas) costs about 10 ms for a few
    hundred bars: call this off an event loop. The last 4096 distinct histories are answered
    from memory (an agent re-sending the same bars pays once).

    Examples
    --------
    >>> from online_learning.data import SyntheticMarket
    >>> prices = SyntheticMarket(seed=0, n_symbols=1, n_days=80).fetch()
    >>> bars = [{"date": str(d.date()), "close": c}
    ...         for d, c in zip(prices["date"], prices["close"])]
    >>> features = features_from_bars(bars)
    >>> list(features)[:3], all(math.isfinite(v) for v in features.values())
    (['ret_1', 'ret_5', 'ret_10'], True)
    >>> try:
    ...     features_from_bars(bars[:10])
    ... except InsufficientBars as exc:
    ...     print(exc)
    the features need at least 64 daily bars (the newest last); got 10
    """
    dates, closes = _validated(bars)
    if len(bars) < BARS_NEEDED:
        raise InsufficientBars(BARS_NEEDED, len(bars))
    key = (tuple(d.value for d in dates), tuple(closes))
    return dict(zip(FEATURE_COLUMNS, _features(key), strict=True))


def _validated(bars: Sequence[Mapping[str, Any]]) -> tuple[list[pd.Timestamp], list[float]]:
    """The bars' dates and closes, each bar checked (see :func:`features_from_bars`)."""
    if isinstance(bars, str | bytes | Mapping) or not isinstance(bars, Sequence):
        raise InvalidBars("bars must be a list of objects with 'date' and 'close'")
    if len(bars) > MAX_BARS:
        raise InvalidBars(f"at most {MAX_BARS} bars are accepted, got {len(bars)}")
    dates: list[pd.Timestamp] = []
    closes: list[float] = []
    for i, bar in enumerate(bars):
        if not isinstance(bar, Mapping):
            raise InvalidBars("a bar must be an object with 'date' and 'close'", index=i)
        if "date" not in bar or bar["date"] is None:
            raise InvalidBars("'date' is missing", index=i)
        day = _day(bar["date"], i)
        if dates and day <= dates[-1]:
            what = "repeats" if day == dates[-1] else "is before"
            raise InvalidBars(
                f"date {day.date()} {what} the previous bar's ({dates[-1].date()}); "
                "bars must be daily, oldest first, one per date",
                index=i,
            )
        for name in (*_PRICES[:3], "volume"):
            _number(bar, name, i, required=False)
        closes.append(_number(bar, CLOSE, i, required=True))
        dates.append(day)
    return dates, closes


def bars_frame(bars: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One symbol's bars, checked as :func:`features_from_bars` checks them, as the long price
    frame a feature function gets (``date, symbol, close`` and the ``open``, ``high``, ``low``
    and ``volume`` every bar has). At most :data:`MAX_BARS`.

    Examples
    --------
    >>> bars_frame([{"date": "2024-01-02", "close": 10.0, "volume": 5},
    ...             {"date": "2024-01-03", "close": 10.5, "volume": 7}]).columns.tolist()
    ['date', 'symbol', 'close', 'volume']
    """
    dates, closes = _validated(bars)
    frame = pd.DataFrame(
        {DATE: np.array(dates, dtype="datetime64[ns]"), SYMBOL: _SERVING_SYMBOL, CLOSE: closes}
    )
    for name in (*_PRICES[:3], "volume"):
        if all(bar.get(name) is not None for bar in bars):
            frame[name] = [float(bar[name]) for bar in bars]
    return frame


@functools.lru_cache(maxsize=4096)
def _features(key: tuple[tuple[int, ...], tuple[float, ...]]) -> tuple[float, ...]:
    # build_features costs ~10 ms (pandas); agents re-send the same history between bars, so
    # equal inputs are answered from memory (equal inputs, equal features: nothing changes).
    dates, closes = key
    prices = pd.DataFrame(
        {
            DATE: np.array(dates, dtype="datetime64[ns]"),
            SYMBOL: _SERVING_SYMBOL,
            CLOSE: np.array(closes, dtype=np.float64),
        }
    )
    row = build_features(prices).iloc[-1]
    return tuple(float(row[name]) for name in FEATURE_COLUMNS)
