"""Realised performance of a model: what trading its predictions earned, day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
from torch import nn

from online_learning.features import FEATURE_COLUMNS
from online_learning.metrics_store.records import PerformanceRow


def realised_performance(
    model: nn.Module, rows: pd.DataFrame, *, model_id: str
) -> list[PerformanceRow]:
    """One :class:`PerformanceRow` per labelled (symbol, day) of ``rows``.

    The position taken at the close of day ``t`` is ``2 * p_up - 1`` (as in the stability
    gate) and it earns the symbol's return from ``t`` to ``t + 1``, recorded under day ``t``.

    Examples
    --------
    >>> import torch
    >>> from online_learning.models import RegimeSpecialist
    >>> _ = torch.manual_seed(0)
    >>> model = RegimeSpecialist(FEATURE_COLUMNS, hidden=(4,))
    >>> rows = pd.DataFrame({c: [0.0, 0.1] for c in FEATURE_COLUMNS})
    >>> rows["date"] = pd.to_datetime(["2024-01-02", "2024-01-03"])
    >>> rows["symbol"], rows["forward_return"] = "AAA", [0.01, -0.02]
    >>> [round(r.market_return, 4) for r in realised_performance(model, rows, model_id="m")]
    [0.0101, -0.0198]
    """
    if rows.empty:
        return []
    p_up = model.predict_proba(rows.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype=np.float32))
    position = 2.0 * p_up.astype(np.float64) - 1.0
    market = np.expm1(rows["forward_return"].to_numpy(dtype=np.float64))
    return [
        PerformanceRow(
            model_id=model_id,
            symbol=str(symbol),
            date=pd.Timestamp(day).date(),
            position=float(pos),
            strategy_return=float(pos * ret),
            market_return=float(ret),
        )
        for symbol, day, pos, ret in zip(
            rows["symbol"], rows["date"], position, market, strict=True
        )
    ]
