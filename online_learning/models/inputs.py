"""What a network is given: rows ``(n, n_features)`` or sequences ``(n, length, n_features)``.

A sequence for the row of ``(t, s)`` holds the features of symbol ``s`` on its last
``sequence_length`` rows up to and including ``t``, oldest first. Inputs are built from a
model's rows *history* (every row computed, warm-up included), so the first rows of a window
see the days before it. A row whose input is incomplete (a warm-up NaN, or fewer earlier rows
than the sequence needs) has no input: :func:`inputs` says which.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from online_learning.data.base import DATE, SYMBOL

__all__ = ["Inputs", "inputs"]


class Inputs:
    """The inputs of some rows: ``x`` (float32) for the rows where ``usable`` is True."""

    def __init__(self, x: np.ndarray, usable: np.ndarray) -> None:
        self.x = x
        self.usable = usable

    def __len__(self) -> int:
        return int(self.x.shape[0])


def inputs(
    history: pd.DataFrame,
    rows: pd.DataFrame,
    feature_names: Sequence[str],
    sequence_length: int | None = None,
) -> Inputs:
    """The network inputs of ``rows``, built from ``history`` (see the module doc).

    A row is its own input; a sequence is read from ``history``, which must then hold every
    row of ``rows`` (matched by date and symbol) and be sorted by (symbol, date). ``x`` has one
    entry per usable row, in the order of ``rows``.

    Examples
    --------
    >>> history = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03",
    ...     "2024-01-04"]), "symbol": "A", "f": [np.nan, 1.0, 2.0]})
    >>> built = inputs(history, history, ["f"], sequence_length=2)
    >>> built.usable.tolist(), built.x[:, :, 0].tolist()
    ([False, False, True], [[1.0, 2.0]])
    >>> inputs(history, history, ["f"]).x.ravel().tolist()
    [1.0, 2.0]
    """
    names = list(feature_names)
    length = int(sequence_length or 1)
    if length == 1:  # a row is its own input
        x = rows.loc[:, names].to_numpy(dtype=np.float32)
        usable = np.isfinite(x).all(axis=1)
        # The array as pandas lays it out when every row is usable: the memory layout decides
        # which BLAS kernel a forward uses, and with it the last bits of every result.
        return Inputs(x if usable.all() else x[usable], usable)
    matrix = history.loc[:, names].to_numpy(dtype=np.float32)
    index = pd.MultiIndex.from_frame(history[[DATE, SYMBOL]])
    position = pd.Series(np.arange(len(history)), index=index)
    wanted = pd.MultiIndex.from_frame(rows[[DATE, SYMBOL]])
    found = position.reindex(wanted)
    if found.isna().any():
        day, symbol = wanted[int(np.argmax(found.isna().to_numpy()))]
        raise ValueError(f"row {symbol!r} on {pd.Timestamp(day):%Y-%m-%d} is not in the history")
    at = found.to_numpy(dtype=np.int64)
    symbols = history[SYMBOL].to_numpy()
    # The first row of each row's symbol: a sequence may not reach into another symbol.
    starts = pd.Series(np.arange(len(history))).groupby(symbols, sort=False).transform("min")
    first = starts.to_numpy()[at]
    enough = at - first >= length - 1
    window = at[:, None] + np.arange(1 - length, 1)[None, :]
    x = matrix[np.clip(window, 0, None)]
    usable = enough & np.isfinite(x).all(axis=(1, 2))
    return Inputs(x[usable], usable)
