"""Seeded trade-outcome streams for the feedback tests: learnable direction, known changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from online_learning.features import FEATURE_COLUMNS

START = datetime(2025, 1, 2, 21, 0, tzinfo=UTC)


def outcome_stream(
    n: int,
    *,
    symbol: str = "AAA",
    model_id: str | None = None,
    seed: int = 0,
    change_at: int | None = None,
    mean_before: float = 0.001,
    mean_after: float = -0.004,
    vol: float = 0.01,
    first_index: int = 0,
    feature_names: tuple[str, ...] = FEATURE_COLUMNS,
) -> list[dict]:
    """``n`` outcome objects (schema version 1) of one symbol, one a minute from ``START``.

    The direction of ``realized_return`` follows the sign of the ``z_ret_1`` feature (or the
    first feature) with 80 % probability, so a session can learn it. The ``pnl`` (position 1
    in the predicted direction) has mean ``mean_before`` before index ``change_at`` and
    ``mean_after`` from it on, with standard deviation ``vol``: a drift at a known index.
    """
    rng = np.random.default_rng(seed)
    signal_name = "z_ret_1" if "z_ret_1" in feature_names else feature_names[0]
    items = []
    for i in range(n):
        features = {name: float(rng.normal()) for name in feature_names}
        agrees = rng.random() < 0.8
        up = (features[signal_name] > 0) == agrees
        size = abs(float(rng.normal(0.01, 0.005))) + 1e-4
        realized = size if up else -size
        mean = mean_after if change_at is not None and i >= change_at else mean_before
        pnl = float(rng.normal(mean, vol))
        items.append(
            {
                "schema_version": 1,
                "trade_id": f"{symbol}-{seed}-{first_index + i:06d}",
                "symbol": symbol,
                "timestamp": (START + timedelta(minutes=first_index + i)).isoformat(),
                "model_id": model_id,
                "features": features,
                "position": 1.0,
                "realized_return": realized,
                "pnl": pnl,
            }
        )
    return items


def as_bytes(items: list[dict]) -> list[bytes]:
    return [json.dumps(item).encode() for item in items]
