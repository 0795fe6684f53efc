"""A team's own data source, named by an entry point ``"package.module:attribute"``.

The attribute is imported once and used as follows:

* a class or a factory function is called with no arguments, or with ``seed=<seed>`` when it
  has a parameter named ``seed`` (the ``--seed`` of the command line, for a simulator);
* an object that already has ``name`` and ``fetch`` (a module-level instance) is used as it is.

What comes out must follow :class:`~online_learning.data.DataSource`: a non-empty string
``name`` and a method ``fetch(start, end)`` returning the long price frame of
:mod:`online_learning.data.base` for the days from ``start`` to ``end`` inclusive (each a
midnight :class:`pandas.Timestamp`, or None for unbounded). A ``date``/``symbol`` index is
turned back into columns; columns outside the contract are dropped, as a file's and a table's
are. Each frame is checked like a file's (missing, non-finite or non-positive prices, a time
of day, duplicates) and must stay within the range asked for: a source that returns later
days would let a model see the future, so it is refused rather than trimmed
(:func:`online_learning.data.slice_dates` trims a frame).

Every failure is a :class:`~online_learning.errors.ConfigError` (the entry point cannot be
used) or a :class:`~online_learning.errors.DataError` (its data is wrong) whose message starts
with the entry point; an exception raised inside the team's ``fetch`` becomes a
:class:`~online_learning.errors.DataError` naming it.
"""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any

import pandas as pd

from online_learning.data.base import (
    DATE,
    PRICE_COLUMNS,
    REQUIRED_COLUMNS,
    SYMBOL,
    DataSource,
    coerce_range,
)
from online_learning.data.checks import check_long_frame
from online_learning.entry_points import describe_error as _describe
from online_learning.entry_points import import_entry_point
from online_learning.errors import ConfigError, DataError, OnlineLearningError

__all__ = ["CustomSource"]


class CustomSource:
    """A team's data source behind an entry point, checked on the way in and on every fetch.

    Parameters
    ----------
    spec : str
        ``package.module:attribute``; see the module documentation for what it may name.
    seed : int
        Passed as ``seed=`` to a class or factory that has a ``seed`` parameter.

    Attributes
    ----------
    name : str
        The team's source's own name.
    source : DataSource
        The team's object.

    Raises
    ------
    ConfigError
        If the entry point cannot be imported or called, or what it gives is not a data source.

    Examples
    --------
    >>> source = CustomSource("online_learning.data.synthetic:SyntheticMarket", seed=3)
    >>> source.name, source.source.seed
    ('synthetic', 3)
    >>> CustomSource("builtins:dict")
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: builtins:dict() returned a dict, which is not a data source: ...
    """  # noqa: E501

    def __init__(self, spec: str, *, seed: int = 0) -> None:
        self.spec = spec.strip()
        self.seed = seed
        self.source = _build(self.spec, import_entry_point(self.spec), seed)
        self.name = self.source.name

    def fetch(self, start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
        """The team's ``fetch(start, end)``, checked against the price-frame contract.

        Raises
        ------
        DataError
            If the team's ``fetch`` raises, returns something else than a DataFrame, rows
            outside ``[start, end]``, no rows, or bad values (naming column, symbol and date).
        """
        lo, hi = coerce_range(start, end)
        low = lo.date() if lo is not None else "-inf"
        high = hi.date() if hi is not None else "+inf"
        try:
            frame = self.source.fetch(lo, hi)
        except OnlineLearningError:
            raise
        except Exception as exc:  # the team's code failed: name it rather than show its trace
            raise DataError(f"{self.spec}: fetch({low}, {high}) failed: {_describe(exc)}") from exc
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"{self.spec}: fetch returned a {type(frame).__name__}, not a pandas DataFrame"
            )
        if any(name in (DATE, SYMBOL) for name in frame.index.names):
            frame = frame.reset_index()
        if frame.empty:
            raise DataError(f"{self.spec}: no prices between {low} and {high}")
        if set(REQUIRED_COLUMNS) <= set(frame.columns):  # else the error lists every column
            frame = frame[[c for c in PRICE_COLUMNS if c in frame.columns]]
        prices = check_long_frame(frame, where=self.spec)
        outside = pd.Series(False, index=prices.index)
        if lo is not None:
            outside |= prices[DATE] < lo
        if hi is not None:
            outside |= prices[DATE] > hi
        if outside.any():
            row = prices.loc[outside.idxmax()]
            raise DataError(
                f"{self.spec}: fetch({low}, {high}) returned rows outside that range (symbol "
                f"{row[SYMBOL]!r} on {row[DATE].date()}); return only the days asked for "
                "(online_learning.data.slice_dates does it)"
            )
        return prices

    def __repr__(self) -> str:
        return f"CustomSource({self.spec!r})"


def _build(spec: str, target: Any, seed: int) -> DataSource:
    if not isinstance(target, type) and _looks_like_source(target):
        source = target
        made = spec
    elif callable(target):
        arguments = _arguments(spec, target, seed)
        made = f"{spec}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
        try:
            source = target(**arguments)
        except OnlineLearningError:
            raise
        except Exception as exc:  # the team's constructor failed
            raise ConfigError(f"{made} failed: {_describe(exc)}") from exc
    else:
        raise ConfigError(
            f"{spec} is a {type(target).__name__}, not a class, a factory or a data source"
        )
    missing = [a for a in ("name", "fetch") if not hasattr(source, a)]
    if missing:
        verb = "returned" if made != spec else "is"
        raise ConfigError(
            f"{made} {verb} a {type(source).__name__}, which is not a data source: it needs "
            f"a 'name' (str) and a 'fetch(start, end)' method returning the long price frame "
            f"({', '.join(REQUIRED_COLUMNS)}[, open, high, low, volume]); missing: "
            f"{', '.join(missing)}"
        )
    if not isinstance(source.name, str) or not source.name.strip():
        raise ConfigError(f"{made}: its 'name' must be a non-empty string, got {source.name!r}")
    fetch = source.fetch
    if not callable(fetch):
        raise ConfigError(f"{made}: its 'fetch' is a {type(fetch).__name__}, not a method")
    try:
        inspect.signature(fetch).bind(start=None, end=None)
    except TypeError as exc:
        raise ConfigError(
            f"{made}: fetch{_plain(inspect.signature(fetch))} cannot be called as "
            f"fetch(start, end) ({exc})"
        ) from None
    except ValueError:  # no signature to read (a builtin): trust it, the fetch will tell
        pass
    return source


def _looks_like_source(target: Any) -> bool:
    return hasattr(target, "fetch") and hasattr(target, "name")


def _arguments(spec: str, target: Any, seed: int) -> dict[str, Any]:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    arguments = {"seed": seed} if "seed" in signature.parameters else {}
    try:
        signature.bind(**arguments)
    except TypeError:
        raise ConfigError(
            f"{spec}{_plain(signature)} needs arguments: it is called with no arguments "
            "(or only seed=...)"
        ) from None
    return arguments


def _plain(signature: inspect.Signature) -> str:
    """``(path, *, mode='r')``: the parameters without their annotations."""
    empty = inspect.Parameter.empty
    return str(
        signature.replace(
            parameters=[p.replace(annotation=empty) for p in signature.parameters.values()],
            return_annotation=empty,
        )
    )
