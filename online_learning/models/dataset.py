"""A model's data: its rows on a source over a period, with the history their inputs need.

:func:`load_dataset` fetches the prices (from early enough that the first day's features,
regime label and sequence are warm), computes the model's rows (:mod:`.rows`), keeps its
symbols, and hands out the network inputs of any of its rows (:mod:`.inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from online_learning.data import DataSource
from online_learning.data.base import DATE, SYMBOL
from online_learning.errors import DataError
from online_learning.features import WARMUP_ROWS
from online_learning.models.definition import ModelDefinition
from online_learning.models.feature_functions import FeatureFunction, check_causal
from online_learning.models.inputs import Inputs, inputs
from online_learning.models.rows import model_rows

__all__ = ["ModelDataset", "load_dataset", "lookback_days"]


def lookback_days(definition: ModelDefinition) -> int:
    """Calendar days fetched before a period so that its first day has warm features (the
    regime's 63 rows, the platform's and most teams' windows) and a full sequence."""
    rows = WARMUP_ROWS + definition.lookback_rows + 21
    return max(int(rows * 7 / 5) + 14, 140)


@dataclass(frozen=True)
class ModelDataset:
    """The model's rows (``history``: every row computed, warm-up included, sorted by symbol
    and date) and its definition, whose ``feature_names`` are the columns computed."""

    definition: ModelDefinition
    history: pd.DataFrame
    source_name: str

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.definition.feature_names

    def inputs(self, rows: pd.DataFrame) -> Inputs:
        """The network inputs of ``rows`` (rows of :attr:`history`)."""
        return inputs(self.history, rows, self.feature_names, self.definition.sequence_length)

    def lookup(self, rows: pd.DataFrame) -> Inputs:
        """The inputs of rows known by their date and symbol only (another frame's rows: the
        features are read from :attr:`history`); a row it does not have is not usable."""
        keys = pd.MultiIndex.from_frame(rows[[DATE, SYMBOL]])
        found = self.history.set_index([DATE, SYMBOL]).reindex(keys)
        present = found[self.feature_names[0]].notna().to_numpy() if len(found) else np.array([])
        known = found.loc[present].reset_index()
        built = self.inputs(known)
        usable = np.zeros(len(rows), dtype=bool)
        usable[np.flatnonzero(present)[built.usable]] = True
        return Inputs(built.x, usable)

    def usable(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``rows`` with a known label and a complete input."""
        labelled = rows.loc[rows["target"].notna()].reset_index(drop=True)
        if labelled.empty:
            return labelled
        return labelled.loc[self.inputs(labelled).usable].reset_index(drop=True)

    def between(self, start: date | None, end: date | None) -> pd.DataFrame:
        """The rows dated ``start`` to ``end`` (inclusive; None: unbounded)."""
        rows = self.history
        if start is not None:
            rows = rows[rows[DATE] >= pd.Timestamp(start)]
        if end is not None:
            rows = rows[rows[DATE] <= pd.Timestamp(end)]
        return rows.reset_index(drop=True)


def load_dataset(
    source: DataSource,
    definition: ModelDefinition,
    *,
    start: date | None = None,
    end: date | None = None,
    features: FeatureFunction | None = None,
    check_look_ahead: bool = False,
) -> ModelDataset:
    """The model's rows on ``source`` for the days ``start`` to ``end`` and their history.

    With ``check_look_ahead`` the feature function is first checked for look-ahead on the
    fetched prices (:func:`~online_learning.models.feature_functions.check_causal`): a model
    is trained only on features that could have been computed on the day.

    Raises
    ------
    DataError
        The source has no rows there, or a feature is NaN after the symbol's warm-up.
    LookAheadError
        A feature's value for a day changes when later days are added.
    """
    features = features or FeatureFunction(definition.features)
    fetch_start = None if start is None else start - timedelta(days=lookback_days(definition))
    prices = source.fetch(fetch_start, end)
    if check_look_ahead and not features.builtin:
        check_causal(features, prices)
    history, names = model_rows(
        prices, features, horizon_days=definition.horizon_days, target=definition.target
    )
    if definition.symbols:
        missing = sorted(set(definition.symbols) - set(history[SYMBOL].unique()))
        if missing:
            raise DataError(
                f"{source.name}: model {definition.model_id!r} trades {', '.join(missing)}, "
                "which the source does not have"
            )
        history = history[history[SYMBOL].isin(definition.symbols)].reset_index(drop=True)
    if history.empty:
        raise DataError(f"{source.name}: no rows between {start} and {end}")
    _check_no_gaps(history, names, source.name, definition.model_id)
    return ModelDataset(
        definition=definition.with_features(names),
        history=history,
        source_name=source.name,
    )


def _check_no_gaps(history: pd.DataFrame, names, source_name: str, model_id: str) -> None:
    """NaN features are the warm-up of a symbol, never a gap after it: a gap would silently
    drop days from training and trading."""
    values = history.loc[:, list(names)].to_numpy(dtype=np.float64)
    complete = np.isfinite(values).all(axis=1)
    started = pd.Series(complete).groupby(history[SYMBOL].to_numpy(), sort=False).cummax()
    gaps = started.to_numpy() & ~complete
    if gaps.any():
        row = history.iloc[int(np.argmax(gaps))]
        column = names[int(np.argmax(~np.isfinite(values[int(np.argmax(gaps))])))]
        raise DataError(
            f"{source_name}: model {model_id!r}: feature {column!r} is not finite for "
            f"{row[SYMBOL]!r} on {pd.Timestamp(row[DATE]):%Y-%m-%d}, after that symbol's "
            "warm-up; a feature may be NaN only on a symbol's first rows"
        )
