"""A small simulated market and trading desk that produce trade outcomes (for ``make run``).

:class:`SimulatedMarket` draws daily log returns per symbol from a regime schedule shared by
all symbols (bull, then sideways by default), computes the platform's features with
:func:`~online_learning.features.build_features`, and replays them one trading day at a time.
A desk (:class:`MomentumDesk` by default; an agent trading through the serving API is
another) chooses a position per symbol from the day's features; :func:`trade_outcomes` turns
each position and the realised next-day return into a trade outcome (schema version 1).

The returns follow an AR(1) per regime: bull markets reward momentum (positive
autocorrelation), sideways ones mean reversion, bear markets are volatile with a little
reversion. A momentum desk labelled ``bull_specialist`` therefore earns in the bull market
and loses once the regime turns, which is the drift the feedback path must catch.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pandas as pd

from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS, WARMUP_ROWS, build_features

__all__ = ["Desk", "MarketTick", "MomentumDesk", "SimulatedMarket", "trade_outcomes"]

#: Per regime: mean daily log return, volatility, autocorrelation of daily returns.
REGIME_RETURNS: Mapping[str, tuple[float, float, float]] = {
    "bull": (0.0008, 0.010, 0.30),
    "sideways": (0.0, 0.008, -0.30),
    "bear": (-0.0010, 0.016, -0.10),
}


@dataclass(frozen=True)
class MarketTick:
    """One symbol on one trading day: what a desk sees (``features``) and, once the day is
    over, what it earned (``realized_return``, the log return to the next close)."""

    step: int
    date: pd.Timestamp
    symbol: str
    features: dict[str, float]
    realized_return: float
    regime: str


class Desk(Protocol):
    """Chooses the model that trades a symbol and its position from one row of features."""

    def decide(self, tick: MarketTick) -> tuple[str | None, float]: ...


class MomentumDesk:
    """Follows yesterday's move: ``position = clip(z_ret_1 / scale, -1, 1)``, traded as
    ``model_id`` (the bull specialist's behaviour: right in a bull market, wrong after it)."""

    def __init__(self, model_id: str | None = "bull_specialist", *, scale: float = 1.0):
        if not scale > 0:
            raise ConfigError(f"scale must be > 0, got {scale!r}")
        self.model_id = model_id
        self.scale = scale

    def decide(self, tick: MarketTick) -> tuple[str | None, float]:
        z = tick.features["z_ret_1"] / self.scale
        return self.model_id, float(max(-1.0, min(1.0, z)))


class SimulatedMarket:
    """Seeded daily prices with a known regime schedule, replayed with their features.

    Parameters
    ----------
    symbols : int or sequence of str
        How many symbols (named ``SIM0``, ``SIM1``, ...) or their names.
    seed : int
    schedule : sequence of (regime, days)
        Trading days of each regime after the features' warm-up (the first
        :data:`~online_learning.features.WARMUP_ROWS` days, spent in the first regime).

    Examples
    --------
    >>> market = SimulatedMarket(2, seed=0, schedule=[("bull", 5), ("sideways", 5)])
    >>> market.change_steps
    [5]
    >>> days = list(market.days())
    >>> len(days), [t.symbol for t in days[0]], days[6][0].regime
    (10, ['SIM0', 'SIM1'], 'sideways')
    """

    def __init__(
        self,
        symbols: int | Sequence[str] = 3,
        *,
        seed: int = 0,
        schedule: Sequence[tuple[str, int]] = (("bull", 200), ("sideways", 600)),
    ) -> None:
        names = [f"SIM{i}" for i in range(symbols)] if isinstance(symbols, int) else list(symbols)
        if not names or len(set(names)) != len(names):
            raise ConfigError("a simulated market needs one or more distinct symbols")
        if not schedule or any(r not in REGIME_RETURNS or d < 1 for r, d in schedule):
            raise ConfigError(
                f"schedule must be (regime, days >= 1) pairs of {list(REGIME_RETURNS)}"
            )
        self.symbols = names
        self.seed = seed
        self.schedule = [(str(r), int(d)) for r, d in schedule]
        self._frame: pd.DataFrame | None = None

    @property
    def change_steps(self) -> list[int]:
        """Steps (trading days after the warm-up) at which the regime changes."""
        steps, total = [], 0
        for _, days in self.schedule[:-1]:
            total += days
            steps.append(total)
        return steps

    def prices(self) -> pd.DataFrame:
        """The simulated price frame (``date, symbol, close, regime``)."""
        rng = np.random.default_rng(self.seed)
        first = self.schedule[0][0]
        regimes = [first] * WARMUP_ROWS + [r for r, d in self.schedule for _ in range(d)]
        regimes.append(regimes[-1])  # one more close: the last day's realised return
        dates = pd.bdate_range("2024-01-02", periods=len(regimes))
        rows = []
        for symbol in self.symbols:
            log_price, previous = math.log(100.0), 0.0
            for day, regime in zip(dates, regimes, strict=True):
                mu, sigma, phi = REGIME_RETURNS[regime]
                r = mu + phi * previous + sigma * math.sqrt(1 - phi * phi) * rng.normal()
                log_price += r
                previous = r
                rows.append((day, symbol, math.exp(log_price), regime))
        return pd.DataFrame(rows, columns=["date", "symbol", "close", "regime"])

    def _features(self) -> pd.DataFrame:
        if self._frame is None:
            frame = build_features(self.prices())
            self._frame = frame.dropna(subset=["forward_return"]).reset_index(drop=True)
        return self._frame

    def days(self) -> Iterator[list[MarketTick]]:
        """The trading days in order, each a tick per symbol."""
        frame = self._features()
        columns = list(FEATURE_COLUMNS)
        for step, (day, rows) in enumerate(frame.groupby("date", sort=True)):
            yield [
                MarketTick(
                    step,
                    day,
                    row.symbol,
                    {c: float(getattr(row, c)) for c in columns},
                    float(row.forward_return),
                    row.true_regime,
                )
                for row in rows.itertuples(index=False)
            ]


def trade_outcomes(
    day: Sequence[MarketTick],
    desk: Desk,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """The trade outcome objects of one day: the desk's position per symbol, settled.

    ``trade_id`` is ``sim-<run_id>-<symbol>-<step>`` (a fresh ``run_id`` per run, so a rerun
    is new trading, not a re-delivery); ``timestamp`` is ``now`` (the settlement time).

    Examples
    --------
    >>> market = SimulatedMarket(1, seed=0, schedule=[("bull", 3)])
    >>> [outcome] = trade_outcomes(next(market.days()), MomentumDesk(), run_id="demo")
    >>> outcome["trade_id"], outcome["model_id"], -1 <= outcome["position"] <= 1
    ('sim-demo-SIM0-000000', 'bull_specialist', True)
    >>> outcome["pnl"] == outcome["position"] * outcome["realized_return"]
    True
    """
    run_id = run_id or uuid.uuid4().hex[:8]
    stamp = (now or datetime.now(UTC)).isoformat()
    outcomes = []
    for tick in day:
        model_id, position = desk.decide(tick)
        outcomes.append(
            {
                "schema_version": 1,
                "trade_id": f"sim-{run_id}-{tick.symbol}-{tick.step:06d}",
                "symbol": tick.symbol,
                "timestamp": stamp,
                "model_id": model_id,
                "features": tick.features,
                "position": position,
                "realized_return": tick.realized_return,
                "pnl": position * tick.realized_return,
                "simulated_regime": tick.regime,
            }
        )
    return outcomes
