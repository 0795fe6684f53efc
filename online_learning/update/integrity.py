"""Checks that an update's training rows are what its window says they are.

The stability gate judges a candidate by its Sharpe on a handful of validation days, which is
noisy: a poisoned update that barely moves the model (EWC holds it in place) or that scores
well by chance passes it. The backtest's fault injection measured exactly that (shuffled labels
and a window from another regime reached ``champion``). These checks look at the training rows
themselves, before any training, and reject rows that cannot be right whatever the gate says:

- every training row lies inside the window, before the first validation day;
- no (date, symbol) appears twice;
- a regime specialist trains only on rows labelled with its regime;
- each label agrees with the return it was derived from (``target == target_return > 0`` for
  a direction, ``target == target_return`` for a return; ``target_return`` is the return over
  the model's horizon, ``forward_return`` when the rows have no other);
- each ``forward_return`` is the symbol's next ``ret_1`` where the next trading day of the
  window is present (training and validation rows together): labels come from the same
  prices as the features, so rows spliced in from another market or another period break it.

The checks read only columns that :func:`~online_learning.features.build_features` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

__all__ = ["RETURN_TOLERANCE", "describe_inconsistency"]

#: Absolute tolerance when comparing a ``forward_return`` with the next day's ``ret_1``
#: (both are differences of the same log closes, so they agree to rounding).
RETURN_TOLERANCE = 1e-9


def describe_inconsistency(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    trading_days: Sequence[date],
    regime: str | None = None,
    target: str = "direction",
) -> str | None:
    """The first inconsistency of an update's rows, as a sentence, or None if there is none.

    Parameters
    ----------
    train, validation : pandas.DataFrame
        Labelled feature rows (``date``, ``symbol``, ``ret_1``, ``forward_return``,
        ``target`` and, for a specialist, ``regime_label``).
    trading_days : sequence of datetime.date
        The window's trading days in order; validation starts at the first validation row.
    regime : str, optional
        The regime a specialist trains on.
    target : str, default "direction"
        What ``target`` holds: a direction (0 or 1) or a return.

    Examples
    --------
    >>> days = [date(2024, 1, d) for d in (2, 3, 4)]
    >>> rows = pd.DataFrame({
    ...     "date": pd.to_datetime(days), "symbol": "A", "ret_1": [0.0, 0.01, -0.02],
    ...     "forward_return": [0.01, -0.02, 0.03], "target": [1.0, 0.0, 1.0]})
    >>> describe_inconsistency(rows.iloc[:2], rows.iloc[2:], trading_days=days) is None
    True
    >>> flipped = rows.assign(target=[0.0, 0.0, 1.0])
    >>> describe_inconsistency(flipped.iloc[:2], flipped.iloc[2:], trading_days=days)
    '1 of 2 training labels disagree with their forward returns (first on 2024-01-02, A)'
    """
    if train.empty:
        return None
    days = pd.DatetimeIndex(pd.to_datetime(list(trading_days)))
    first, last = days.min(), days.max()
    if not validation.empty:
        last = pd.Timestamp(validation["date"].min()) - pd.Timedelta(days=1)
    outside = (train["date"] < first) | (train["date"] > last)
    if outside.any():
        return _count(
            outside,
            len(train),
            f"training rows lie outside {first:%Y-%m-%d}..{last:%Y-%m-%d}",
            train,
        )

    both = pd.concat([train, validation], ignore_index=True)
    duplicated = both.duplicated(["date", "symbol"])
    if duplicated.any():
        return _count(duplicated, len(both), "rows repeat a (date, symbol)", both)

    if regime is not None and "regime_label" in train.columns:
        foreign = train["regime_label"] != regime
        if foreign.any():
            return _count(foreign, len(train), f"training rows are not labelled {regime!r}", train)

    source = "target_return" if "target_return" in train.columns else "forward_return"
    returns = train[source].to_numpy(dtype=np.float64)
    labels = train["target"].to_numpy(dtype=np.float64)
    if target == "direction":
        wrong_label = (labels == 1.0) != (returns > 0)
    else:
        wrong_label = ~np.isclose(labels, returns, rtol=0.0, atol=RETURN_TOLERANCE)
    if wrong_label.any():
        return _count(
            wrong_label, len(train), "training labels disagree with their forward returns", train
        )

    return _check_continuity(both, days, n_train=len(train))


def _check_continuity(rows: pd.DataFrame, days: pd.DatetimeIndex, *, n_train: int) -> str | None:
    """``forward_return`` of (t, s) must equal ``ret_1`` of (next trading day, s) when present."""
    position = pd.Series(np.arange(len(days)), index=days)
    ordered = rows.assign(
        _day=position.reindex(rows["date"]).to_numpy(), _train=np.arange(len(rows)) < n_train
    )
    ordered = ordered.sort_values(["symbol", "date"], kind="stable")
    same_symbol = ordered["symbol"].eq(ordered["symbol"].shift(-1))
    next_day = ordered["_day"].shift(-1) == ordered["_day"] + 1
    pairs = (same_symbol & next_day).to_numpy()
    forward = ordered["forward_return"].to_numpy(dtype=np.float64)
    following = ordered["ret_1"].shift(-1).to_numpy(dtype=np.float64)
    broken = pairs & ~np.isclose(forward, following, rtol=0.0, atol=RETURN_TOLERANCE)
    # A break touches a training row when either side of the pair is one.
    touches_train = (
        ordered["_train"].to_numpy() | ordered["_train"].shift(-1, fill_value=False).to_numpy()
    )
    broken &= touches_train
    if not broken.any():
        return None
    return _count(
        broken,
        int(pairs.sum()),
        "forward returns disagree with the next day's return of the same symbol",
        ordered,
    )


def _count(mask: pd.Series | np.ndarray, total: int, what: str, rows: pd.DataFrame) -> str:
    flags = np.asarray(mask, dtype=bool)
    first = rows.iloc[int(np.argmax(flags))]
    where = f"{pd.Timestamp(first['date']):%Y-%m-%d}, {first['symbol']}"
    return f"{int(flags.sum())} of {total} {what} (first on {where})"
