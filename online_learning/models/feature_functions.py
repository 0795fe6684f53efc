"""Feature functions: the platform's ten features, or a team's, checked for look-ahead.

A feature function is called with the long price frame (``date, symbol, close[, open, high,
low, volume]``, see :mod:`online_learning.data.base`) and returns a DataFrame with one float
column per feature, either indexed by ``(date, symbol)`` or with ``date`` and ``symbol``
columns, for dates and symbols of the input only. Warm-up rows may be NaN (they are not
trained on); infinities are refused. Column names are the feature names; the names the
platform uses for labels (:data:`RESERVED`) are refused.

**Look-ahead is refused.** A feature's row for day t must be the same (NaN included) whether
it is computed from the data up to t or from all of it. :func:`check_causal` computes the
features at several cut points and compares; a feature that peeks is named with its day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from online_learning.data.base import DATE, SYMBOL, conform_prices
from online_learning.entry_points import describe_error, import_entry_point
from online_learning.errors import ConfigError, DataError
from online_learning.features import FEATURE_COLUMNS, LABEL_COLUMNS, build_features
from online_learning.models.definition import BUILTIN

__all__ = ["RESERVED", "FeatureFunction", "LookAheadError", "check_causal"]

#: Columns of a model's rows that are not features.
RESERVED: tuple[str, ...] = (DATE, SYMBOL, "ret_1", "true_regime", "target_return",
                             *LABEL_COLUMNS)  # fmt: skip
#: Relative and absolute tolerance of the look-ahead check: float noise of a rolling window
#: computed over a different span, not information from later days.
CAUSAL_RTOL, CAUSAL_ATOL = 1e-9, 1e-12


class LookAheadError(ConfigError):
    """A feature's value for a day changes when later data is added."""


class FeatureFunction:
    """The feature function of a model: ``builtin`` or a team's entry point.

    Parameters
    ----------
    spec : str
        ``"builtin"`` or ``"package.module:callable"``.
    where : str, optional
        Where the spec came from (``"<file>: [models.<id>] features"``), for messages.

    Examples
    --------
    >>> from online_learning.data import SyntheticMarket
    >>> prices = SyntheticMarket(seed=0, n_symbols=2, n_days=120).fetch()
    >>> frame = FeatureFunction("builtin").compute(prices)
    >>> list(frame.columns[:3]), len(frame.columns) - 2
    (['date', 'symbol', 'ret_1'], 10)
    """

    def __init__(self, spec: str, *, where: str = "") -> None:
        self.spec = spec
        self.where = where or f"features {spec!r}"
        self.function: Callable[[pd.DataFrame], Any] | None = None
        if spec != BUILTIN:
            try:
                function = import_entry_point(spec)
            except ConfigError as exc:
                raise ConfigError(f"{self.where}: {exc}") from None
            if not callable(function):
                raise ConfigError(f"{self.where}: {spec} is not callable")
            self.function = function

    @property
    def builtin(self) -> bool:
        return self.function is None

    def compute(self, prices: pd.DataFrame) -> pd.DataFrame:
        """``date``, ``symbol`` and one float column per feature, sorted by (symbol, date)."""
        if self.function is None:
            built = build_features(prices)
            return built.loc[:, [DATE, SYMBOL, *FEATURE_COLUMNS]]
        frame = conform_prices(prices.copy(), origin=self.where)
        try:
            result = self.function(frame.copy())
        except Exception as exc:  # the team's code failed: say whose
            raise DataError(f"{self.where}: {self.spec} raised {describe_error(exc)}") from exc
        return self._checked(result, frame)

    def _checked(self, result: Any, prices: pd.DataFrame) -> pd.DataFrame:
        where = f"{self.where}: {self.spec} returned"
        if not isinstance(result, pd.DataFrame):
            raise DataError(f"{where} a {type(result).__name__}, not a pandas DataFrame")
        if isinstance(result.index, pd.MultiIndex) and list(result.index.names) == [DATE, SYMBOL]:
            result = result.reset_index()
        if DATE not in result.columns or SYMBOL not in result.columns:
            raise DataError(f"{where} neither a (date, symbol) index nor date and symbol columns")
        names = [c for c in result.columns if c not in (DATE, SYMBOL)]
        if not names:
            raise DataError(f"{where} no feature column")
        for name in names:
            if not isinstance(name, str) or not name:
                raise DataError(f"{where} a feature column named {name!r}: names are strings")
            if name in RESERVED:
                raise DataError(
                    f"{where} a feature named {name!r}, which the platform uses for its labels; "
                    f"rename it (reserved: {', '.join(RESERVED)})"
                )
        if len(set(names)) != len(names):
            raise DataError(f"{where} repeated feature names: {names}")
        out = result.loc[:, [DATE, SYMBOL, *names]].copy()
        out[DATE] = pd.to_datetime(out[DATE]).astype("datetime64[ns]")
        for name in names:
            if not pd.api.types.is_numeric_dtype(out[name]) or pd.api.types.is_bool_dtype(
                out[name]
            ):
                raise DataError(f"{where} feature {name!r} of type {out[name].dtype}, not numbers")
            out[name] = out[name].astype(np.float64)
        values = out[names].to_numpy()
        if np.isinf(values).any():
            row, column = np.argwhere(np.isinf(values))[0]
            raise DataError(
                f"{where} an infinite {names[column]!r} on {out[DATE].iloc[row]:%Y-%m-%d} "
                f"for {out[SYMBOL].iloc[row]!r}"
            )
        if out.duplicated([DATE, SYMBOL]).any():
            raise DataError(f"{where} a (date, symbol) twice")
        known = pd.MultiIndex.from_frame(prices[[DATE, SYMBOL]])
        unknown = ~pd.MultiIndex.from_frame(out[[DATE, SYMBOL]]).isin(known)
        if unknown.any():
            first = out.loc[unknown].iloc[0]
            raise DataError(
                f"{where} a row for {first[SYMBOL]!r} on {first[DATE]:%Y-%m-%d}, which the "
                "prices do not have"
            )
        return out.sort_values([SYMBOL, DATE], kind="stable").reset_index(drop=True)


def check_causal(
    function: FeatureFunction, prices: pd.DataFrame, *, cuts: Sequence[float] = (0.5, 0.7, 0.9)
) -> None:
    """Refuse a feature function whose rows change when later days are added.

    At each cut (a share of the price frame's days) the features are computed from the
    prices up to the cut and compared with those computed from all prices, row by row and
    column by column (NaN equal to NaN; :data:`CAUSAL_RTOL` for float noise).

    Raises
    ------
    LookAheadError
        Naming the column, the symbol and the first day whose value changed.

    Examples
    --------
    >>> from online_learning.data import SyntheticMarket
    >>> check_causal(FeatureFunction("builtin"), SyntheticMarket(seed=0, n_days=160).fetch())
    """
    full = function.compute(prices)
    days = np.sort(pd.to_datetime(prices[DATE]).unique())
    names = [c for c in full.columns if c not in (DATE, SYMBOL)]
    for share in cuts:
        cut = days[min(int(len(days) * share), len(days) - 1)]
        early = function.compute(prices[pd.to_datetime(prices[DATE]) <= cut])
        before = full[full[DATE] <= cut].set_index([DATE, SYMBOL])
        partial = early.set_index([DATE, SYMBOL])
        if not before.index.equals(partial.index):
            missing = before.index.difference(partial.index)
            day, symbol = (missing if len(missing) else partial.index.difference(before.index))[0]
            raise LookAheadError(
                f"{function.where}: the rows up to {pd.Timestamp(cut):%Y-%m-%d} differ when "
                f"later data is added (first: {symbol!r} on {pd.Timestamp(day):%Y-%m-%d}); a "
                "feature function must give a day's row from the data up to that day"
            )
        for name in names:
            a = before[name].to_numpy()
            b = partial[name].reindex(before.index).to_numpy()
            same = np.isclose(a, b, rtol=CAUSAL_RTOL, atol=CAUSAL_ATOL, equal_nan=True)
            if not same.all():
                day, symbol = before.index[int(np.argmin(same))]
                raise LookAheadError(
                    f"{function.where}: feature {name!r} looks ahead: its value for {symbol!r} "
                    f"on {pd.Timestamp(day):%Y-%m-%d} is {b[np.argmin(same)]!r} from the data "
                    f"up to {pd.Timestamp(cut):%Y-%m-%d} but {a[np.argmin(same)]!r} once later "
                    "days are added"
                )
