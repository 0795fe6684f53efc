"""Realised performance of a model: what trading its predictions earned, day by day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from torch import nn

from online_learning.execution import (
    DEFAULT_COST_BPS,
    DEFAULT_EXECUTION,
    executed_returns,
    net_returns,
    position_from_p_up,
)
from online_learning.metrics_store.records import PerformanceRow
from online_learning.models.dataset import load_dataset

if TYPE_CHECKING:
    from online_learning.data import DataSource
    from online_learning.metrics_store import MetricsStore
    from online_learning.registry.base import ModelRegistry


def realised_performance(
    model: nn.Module,
    rows: pd.DataFrame,
    *,
    model_id: str,
    execution: str = DEFAULT_EXECUTION,
    cost_bps: float = DEFAULT_COST_BPS,
    inputs: np.ndarray | None = None,
) -> list[PerformanceRow]:
    """One :class:`PerformanceRow` per priced (symbol, day) of ``rows``, in time order.

    The rule is the gate's and the backtest's (:mod:`online_learning.execution`): the position
    ``2 * p_up - 1`` decided at the close of day ``t`` is filled at the execution timing
    (``auto``: the next open when the data has opens, else the next close) and recorded under
    day ``t``; ``market_return`` is the return it was held over, ``strategy_return`` the
    position times it less ``cost_bps`` per unit of position changed since the symbol's
    previous row. Days whose executed return is not known yet are left out. ``inputs`` are
    the model's inputs of ``rows`` in their order (default: the rows' own feature columns,
    ``model.feature_names``; a sequence model's come from
    :meth:`~online_learning.models.dataset.ModelDataset.inputs`).

    Examples
    --------
    >>> import torch
    >>> from online_learning.features import FEATURE_COLUMNS
    >>> from online_learning.models import RegimeSpecialist
    >>> _ = torch.manual_seed(0)
    >>> model = RegimeSpecialist(FEATURE_COLUMNS, hidden=(4,))
    >>> rows = pd.DataFrame({c: [0.0, 0.1, 0.2] for c in FEATURE_COLUMNS})
    >>> rows["date"] = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    >>> rows["symbol"], rows["forward_return"] = "AAA", [0.01, -0.02, 0.005]
    >>> rows["return_next_close"] = [-0.02, 0.005, np.nan]
    >>> [round(r.market_return, 4) for r in realised_performance(model, rows, model_id="m")]
    [-0.0198, 0.005]
    """
    if rows.empty:
        return []
    if inputs is None:
        inputs = rows.loc[:, list(model.feature_names)].to_numpy(dtype=np.float32)
    market = executed_returns(rows, execution)
    priced = np.isfinite(market)
    order = np.lexsort((rows["symbol"].to_numpy()[priced], rows["date"].to_numpy()[priced]))
    x = np.asarray(inputs)[priced][order]
    rows = rows.assign(_market=market).loc[priced].iloc[order]
    if rows.empty:
        return []
    p_up = model.predict_proba(x)
    position = position_from_p_up(p_up.astype(np.float64))
    realised = rows["_market"].to_numpy(dtype=np.float64)
    net, _ = net_returns(rows["symbol"].to_numpy(), position, realised, cost_bps=cost_bps)
    return [
        PerformanceRow(
            model_id=model_id,
            symbol=str(symbol),
            date=pd.Timestamp(day).date(),
            position=float(pos),
            strategy_return=float(value),
            market_return=float(ret),
        )
        for symbol, day, pos, value, ret in zip(
            rows["symbol"], rows["date"], position, net, realised, strict=True
        )
    ]


def record_recent_performance(
    *,
    store: MetricsStore,
    registry: ModelRegistry,
    sources: Callable[[str | None], DataSource],
    model_ids: Sequence[str],
    days: int,
) -> None:
    """Price each champion of ``model_ids`` on the last ``days`` trading days of its data (of
    its regime, with its own features and inputs) and record the realised returns in
    ``store`` (idempotent: a day recorded again is overwritten). ``sources`` gives the data
    source of a champion's recorded data (None: not recorded)."""
    for model_id in model_ids:
        champion = registry.load_champion(model_id)
        definition = champion.definition
        source = sources(definition.data)
        last = pd.Timestamp(source.fetch()["date"].max()).date()
        start = last - timedelta(days=int(days * 1.6) + 14)
        dataset = load_dataset(source, definition, start=start, end=last)
        rows = dataset.usable(dataset.between(start, last))
        rows = rows[rows["date"].isin(sorted(rows["date"].unique())[-days:])]
        regime = champion.tags.get("regime") or definition.regime
        if regime is not None:
            rows = rows[rows["regime_label"] == regime]
        store.record_daily_performance(
            realised_performance(
                champion.model, rows, model_id=model_id, inputs=dataset.inputs(rows).x
            )
        )
