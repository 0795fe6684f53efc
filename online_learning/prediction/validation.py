"""Rows of features to the matrix the champions read, refusing anything but exact, finite input."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from online_learning.prediction.errors import InvalidFeatures, InvalidSymbol

__all__ = ["feature_matrix", "request_symbol"]

_FAST = (float, int)
_SYMBOL = re.compile(r"[^\s]{1,64}")


def _check(row: Any, names: Sequence[str], index: int | None) -> list[float]:
    if not isinstance(row, Mapping):
        raise InvalidFeatures(detail="features must be an object of name -> number", index=index)
    if len(row) != len(names) or row.keys() != set(names):
        expected = set(names)
        missing = [n for n in names if n not in row]
        unknown = sorted(str(k) for k in row.keys() - expected)
        raise InvalidFeatures(missing=missing, unknown=unknown, index=index)
    values = [row[n] for n in names]
    bad = [
        n
        for n, v in zip(names, values, strict=True)
        if (type(v) not in _FAST and (isinstance(v, bool) or not isinstance(v, Real)))
        or not math.isfinite(v)
    ]
    if bad:
        raise InvalidFeatures(non_finite=bad, index=index)
    return values


def feature_matrix(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], *, batch: bool = False
) -> np.ndarray:
    """A ``(len(rows), len(names))`` float32 matrix, columns in the order of ``names``.

    Parameters
    ----------
    rows : sequence of mappings
        Each must hold exactly ``names``, each a finite real number (not a bool).
    names : sequence of str
    batch : bool
        Name the row of an error as ``requests[i]``.

    Raises
    ------
    InvalidFeatures
        Naming the missing, unknown or non-finite features (and the row of a batch).

    Examples
    --------
    >>> feature_matrix([{"a": 1, "b": 2.5}], ["a", "b"]).tolist()
    [[1.0, 2.5]]
    >>> feature_matrix([{"a": 1, "b": float("nan")}], ["a", "b"])
    Traceback (most recent call last):
    ...
    online_learning.prediction.errors.InvalidFeatures: features: not finite numbers ['b']
    >>> feature_matrix([{"a": 1}, {"a": 1, "c": 0}], ["a", "b"], batch=True)
    Traceback (most recent call last):
    ...
    online_learning.prediction.errors.InvalidFeatures: requests[0].features: missing ['b']
    """
    out = np.empty((len(rows), len(names)), dtype=np.float32)
    with np.errstate(over="ignore"):  # a float64 beyond float32's range: reported below
        for i, row in enumerate(rows):
            out[i] = _check(row, names, i if batch else None)
    if not np.isfinite(out).all():  # finite as a float64 but beyond float32's range
        i = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        bad = [n for n, v in zip(names, out[i], strict=True) if not np.isfinite(v)]
        raise InvalidFeatures(non_finite=bad, index=i if batch else None,
                              detail="beyond the float32 range the models read")  # fmt: skip
    return out


def request_symbol(item: Any, index: int | None) -> str:
    """The symbol of a ``(symbol, features)`` request; :class:`InvalidSymbol` unless it is
    1-64 characters without white space.

    Examples
    --------
    >>> request_symbol(("AAPL", {}), None)
    'AAPL'
    """
    where = "symbol" if index is None else f"requests[{index}].symbol"
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise InvalidSymbol(f"{where}: each request is a (symbol, features) pair")
    symbol = item[0]
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise InvalidSymbol(f"{where}: must be 1-64 characters without white space, got {symbol!r}")
    return symbol
