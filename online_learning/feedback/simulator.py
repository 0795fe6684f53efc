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
from datetime import UTC, date, datetime
from typing import Protocol

import numpy as np
import pandas as pd

from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS, WARMUP_ROWS, build_features

__all__ = ["Desk", "MarketTick", "MomentumDesk", "SimulatedMarket", "trade_outcomes"]

#: Per phase of a schedule: the regime a price frame labels it with (bull, bear or sideways),
#: and the mean daily log return, volatility and autocorrelation of daily returns. A phase
#: named after a regime is that regime; the two rallies are one bull market whose character
#: changes: first it rewards momentum, then (the same trend, the same volatility) it reverts. A
#: causal classifier calls both "bull", so the bull specialist meets the change on its own days
#: (``make run``'s market, :data:`RALLY_SCHEDULE`). A selloff is a bear market a causal
#: classifier calls one.
PHASES: Mapping[str, tuple[str, float, float, float]] = {
    "bull": ("bull", 0.0008, 0.010, 0.30),
    "sideways": ("sideways", 0.0, 0.008, -0.30),
    "bear": ("bear", -0.0010, 0.016, -0.10),
    "selloff": ("bear", -0.0025, 0.012, -0.10),
    "momentum_rally": ("bull", 0.0020, 0.008, 0.50),
    "reverting_rally": ("bull", 0.0020, 0.008, -0.50),
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
    regime: str  # the day's phase (see PHASES)


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
    """Seeded daily prices with a known schedule of phases, replayed with their features.

    Parameters
    ----------
    symbols : int or sequence of str
        How many symbols (named ``SIM0``, ``SIM1``, ...) or their names.
    seed : int
    schedule : sequence of (phase, days)
        Trading days of each phase of :data:`PHASES` after the features' warm-up (the first
        :data:`~online_learning.features.WARMUP_ROWS` days, spent in the first phase).
    end : date, optional
        The calendar's last day (its last close); by default the calendar starts on
        2024-01-02.

    Examples
    --------
    >>> market = SimulatedMarket(2, seed=0, schedule=[("bull", 5), ("sideways", 5)])
    >>> market.change_steps
    [5]
    >>> days = list(market.days())
    >>> len(days), [t.symbol for t in days[0]], days[6][0].regime
    (10, ['SIM0', 'SIM1'], 'sideways')
    >>> [t.step for t in next(market.days(start=7))]
    [7, 7]
    """

    def __init__(
        self,
        symbols: int | Sequence[str] = 3,
        *,
        seed: int = 0,
        schedule: Sequence[tuple[str, int]] = (("bull", 200), ("sideways", 600)),
        end: date | None = None,
    ) -> None:
        names = [f"SIM{i}" for i in range(symbols)] if isinstance(symbols, int) else list(symbols)
        if not names or len(set(names)) != len(names):
            raise ConfigError("a simulated market needs one or more distinct symbols")
        if not schedule or any(r not in PHASES or d < 1 for r, d in schedule):
            raise ConfigError(f"schedule must be (phase, days >= 1) pairs of {list(PHASES)}")
        self.symbols = names
        self.seed = seed
        self.schedule = [(str(r), int(d)) for r, d in schedule]
        self.end = end
        self._prices: pd.DataFrame | None = None
        self._frame: pd.DataFrame | None = None
        self._step_dates: pd.Series | None = None

    @property
    def change_steps(self) -> list[int]:
        """Steps (trading days after the warm-up) at which the phase changes."""
        steps, total = [], 0
        for _, days in self.schedule[:-1]:
            total += days
            steps.append(total)
        return steps

    def phase_at(self, step: int) -> str:
        """The phase of trading day ``step`` (the last phase beyond the schedule).

        Examples
        --------
        >>> market = SimulatedMarket(1, schedule=[("bull", 5), ("sideways", 5)])
        >>> market.phase_at(4), market.phase_at(5)
        ('bull', 'sideways')
        """
        total = 0
        for phase, days in self.schedule:
            total += days
            if step < total:
                return phase
        return self.schedule[-1][0]

    def prices(self) -> pd.DataFrame:
        """The simulated price frame (``date, symbol, close, regime, phase``): ``regime`` is the
        phase's regime (bull, bear or sideways)."""
        if self._prices is None:
            self._prices = self._draw()
        return self._prices.copy()

    def _draw(self) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed)
        first = self.schedule[0][0]
        phases = [first] * WARMUP_ROWS + [p for p, d in self.schedule for _ in range(d)]
        phases.append(phases[-1])  # one more close: the last day's realised return
        if self.end is None:
            dates = pd.bdate_range("2024-01-02", periods=len(phases))
        else:
            dates = pd.bdate_range(end=pd.Timestamp(self.end), periods=len(phases))
        rows = []
        for symbol in self.symbols:
            log_price, previous = math.log(100.0), 0.0
            for day, phase in zip(dates, phases, strict=True):
                regime, mu, sigma, phi = PHASES[phase]
                r = mu + phi * previous + sigma * math.sqrt(1 - phi * phi) * rng.normal()
                log_price += r
                previous = r
                rows.append((day, symbol, math.exp(log_price), regime, phase))
        return pd.DataFrame(rows, columns=["date", "symbol", "close", "regime", "phase"])

    def _features(self) -> pd.DataFrame:
        if self._frame is None:
            prices = self.prices()
            frame = build_features(prices.drop(columns="phase"))
            phase = prices.drop_duplicates("date").set_index("date")["phase"]
            frame["phase"] = frame["date"].map(phase)
            self._frame = frame.dropna(subset=["forward_return"]).reset_index(drop=True)
        return self._frame

    def step_date(self, step: int) -> pd.Timestamp:
        """The date of trading day ``step``."""
        if self._step_dates is None:
            self._step_dates = self._features()["date"].drop_duplicates().reset_index(drop=True)
        return self._step_dates.iloc[step]

    def days(self, *, start: int = 0) -> Iterator[list[MarketTick]]:
        """The trading days in order from step ``start``, each a tick per symbol; a tick's
        ``regime`` is the day's phase."""
        frame = self._features()
        columns = list(FEATURE_COLUMNS)
        for step, (day, rows) in enumerate(frame.groupby("date", sort=True)):
            if step < start:
                continue
            yield [
                MarketTick(
                    step,
                    day,
                    row.symbol,
                    {c: float(getattr(row, c)) for c in columns},
                    float(row.forward_return),
                    row.phase,
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
