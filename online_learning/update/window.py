"""The sliding data window of an update: training days, then held-out validation days.

A day belongs to the window only when the return its position earns under the execution
timing is known (see :mod:`online_learning.execution`): at ``next-open`` or ``next-close`` the
newest labelled day waits for the next session. Validation days are the last
``validation_days`` of the window that no earlier decision judged (after ``judged_through``);
every earlier day of the window is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from online_learning.data import DataSource
from online_learning.errors import DataError
from online_learning.execution import RETURN_COLUMNS, resolve_execution
from online_learning.features import build_features, labelled
from online_learning.models.dataset import ModelDataset, load_dataset
from online_learning.models.definition import ModelDefinition

# Calendar days fetched before the window so that the longest feature lookback is warm.
_LOOKBACK_CALENDAR_DAYS = 140


@dataclass(frozen=True)
class UpdateWindow:
    """Labelled rows of one window, split by date, and the window's trading days.

    ``universe`` holds the rows of every symbol and regime on the window's days (a specialist
    trains on its regime's rows only, but a bad price anywhere in the window is seen there);
    ``execution`` is the resolved timing; ``judged_through`` the last day an earlier decision
    judged; ``dataset`` the model's rows with the history their inputs need; ``held_back``
    the newest days left out because a symbol had not arrived (:func:`incomplete_days`).
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    start: date
    end: date
    trading_days: tuple[date, ...]
    dataset: ModelDataset
    universe: pd.DataFrame | None = None
    execution: str = "next-close"
    judged_through: date | None = None
    held_back: tuple[date, ...] = ()

    @property
    def validation_days(self) -> tuple[date, ...]:
        """The window's days on which the gate judges."""
        if self.validation.empty:
            return ()
        first = pd.Timestamp(self.validation["date"].min()).date()
        return tuple(d for d in self.trading_days if d >= first)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.dataset.feature_names

    @property
    def target(self) -> str:
        return self.dataset.definition.target

    @property
    def finite(self) -> bool:
        frames = (self.train, self.validation)
        columns = [*self.feature_names, "forward_return"]
        return all(np.isfinite(f.loc[:, columns].to_numpy(dtype=np.float64)).all() for f in frames)

    def inputs(self, rows: pd.DataFrame) -> np.ndarray:
        """The network inputs of ``rows`` (rows of the window; each has a complete input)."""
        return self.dataset.inputs(rows).x

    def labels(self, rows: pd.DataFrame) -> np.ndarray:
        return rows["target"].to_numpy()


def labelled_features(
    source: DataSource, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Causal features with known targets for the days in ``[start, end]``.

    Prices are fetched from before ``start`` so that the first day already has warm features.
    """
    fetch_start = None if start is None else start - timedelta(days=_LOOKBACK_CALENDAR_DAYS)
    features = labelled(build_features(source.fetch(fetch_start, end)))
    if start is not None:
        features = features[features["date"] >= pd.Timestamp(start)]
    if features.empty:
        raise DataError(f"{source.name}: no labelled days between {start} and {end}")
    return features.reset_index(drop=True)


#: Trading days a day is held back at most while a symbol has not arrived; after that the
#: symbol is taken to have stopped trading (delisted, halted) and the days are judged.
HOLD_BACK_DAYS = 3


def incomplete_days(priced: pd.DataFrame, limit: int = HOLD_BACK_DAYS) -> list[pd.Timestamp]:
    """The newest days on which a symbol has not arrived yet: held back from the window.

    The newest ``k`` days are incomplete when each of them lacks a symbol that was there on
    the day before them; the largest such ``k`` up to ``limit`` is held back. A symbol missing
    for more than ``limit`` days has stopped trading and holds nothing back.

    Examples
    --------
    >>> days = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    >>> rows = pd.DataFrame({"date": [*days, *days[:2]], "symbol": ["A"] * 3 + ["B"] * 2})
    >>> [f"{d:%Y-%m-%d}" for d in incomplete_days(rows)]
    ['2024-01-04']
    """
    present = priced.groupby("date")["symbol"].agg(frozenset).sort_index()
    days, sets = list(present.index), list(present.to_numpy())
    held: list[pd.Timestamp] = []
    for k in range(1, min(limit, len(days) - 1) + 1):
        before = sets[-k - 1]
        if all(not before <= current for current in sets[-k:]):
            held = days[-k:]
    return [pd.Timestamp(d) for d in held]


def update_window(
    source: DataSource,
    *,
    definition: ModelDefinition | None = None,
    data_window: int,
    validation_days: int,
    as_of: date | None = None,
    regime: str | None = None,
    execution: str = "auto",
    judged_through: date | None = None,
    partial: bool = False,
) -> UpdateWindow:
    """The last ``data_window`` trading days up to ``as_of`` whose executed return is known.

    A day is labelled when the model's label is known, and priced when the return of its
    position under ``execution`` is, so the newest day or two of data are never in the
    window. Of the window's days after ``judged_through``, the last ``validation_days`` are
    held out (possibly fewer, or none). The newest days on which a symbol has not arrived
    yet are held back (:func:`incomplete_days`): they are judged once it has. With ``regime``
    (default: the definition's), only rows whose causal regime label matches are trained and
    judged on (a regime specialist learns from its own regime). Rows are the model's own
    (:mod:`online_learning.models`; default: the platform's network on its ten features):
    its features, its symbols, its target and horizon; a row without a complete input (the
    warm-up of a team's features or sequences) is not in the window. With ``partial`` a source
    with fewer priced days gives a shorter window instead of a
    :class:`~online_learning.errors.DataError`.
    """
    definition = definition or ModelDefinition.builtin("model", data=source.name)
    regime = definition.regime if regime is None else regime
    fetch_start = None
    if as_of is not None:
        fetch_start = as_of - timedelta(days=int(data_window * 1.6) + 14)
    dataset = load_dataset(source, definition, start=fetch_start, end=as_of)
    features = dataset.usable(dataset.between(fetch_start, None))
    if features.empty:
        raise DataError(f"{source.name}: no labelled days between {fetch_start} and {as_of}")
    timing = resolve_execution(execution, features)
    priced = features[features[RETURN_COLUMNS[timing]].notna()]
    held = incomplete_days(priced)
    priced = priced[~priced["date"].isin(held)]
    dates = np.sort(priced["date"].unique())
    if len(dates) < data_window and not partial:
        raise DataError(
            f"{source.name}: {len(dates)} priced trading days up to {as_of or 'the end'} "
            f"({timing} execution), the window needs {data_window}"
        )
    window_dates = dates[-data_window:]
    fresh = window_dates
    if judged_through is not None:
        fresh = window_dates[window_dates > np.datetime64(pd.Timestamp(judged_through))]
    split = fresh[-validation_days] if len(fresh) >= validation_days else None
    if split is None:
        split = fresh[0] if len(fresh) else window_dates[-1] + np.timedelta64(1, "D")
    universe = features[
        (features["date"] >= window_dates[0]) & (features["date"] <= window_dates[-1])
    ]
    rows = universe if regime is None else universe[universe["regime_label"] == regime]
    return UpdateWindow(
        train=rows[rows["date"] < split].reset_index(drop=True),
        validation=rows[rows["date"] >= split].reset_index(drop=True),
        start=pd.Timestamp(window_dates[0]).date(),
        end=pd.Timestamp(window_dates[-1]).date(),
        trading_days=tuple(pd.Timestamp(d).date() for d in window_dates),
        dataset=dataset,
        universe=universe.reset_index(drop=True),
        execution=timing,
        judged_through=judged_through,
        held_back=tuple(pd.Timestamp(d).date() for d in held),
    )
