"""``make run``'s models learn the market its desk trades.

Out of the box the three specialists train on the built-in synthetic market, which ends in
2022 and never grows: a drift the desk's outcomes reveal could request an adaptation, but the
update would find no new day to learn from. When ``online-learning up`` runs its simulated
market with the built-in configuration, the market becomes the models' data instead:

* :data:`RALLY_SCHEDULE` is a history the models bootstrap on (a momentum rally, a selloff, a
  sideways stretch, another momentum rally: every specialist has days of its regime), then the
  live part the desk trades from step :data:`HISTORY_DAYS`: 200 more days of the momentum
  rally, then the same rally turning mean-reverting. A causal classifier keeps calling it a
  bull market, so the bull specialist, which the desk credits, meets the change on its own
  days and can learn it;
* :class:`MarketFeed` writes the market's closes to ``<home>/market/prices.csv`` as they
  settle, a day at a time, so every update (the drift adaptation's too) reads the days traded
  so far;
* :func:`write_configuration` writes ``<home>/market/online-learning.toml``: the built-in
  specialists on that file, with a larger step (``learning_rate``, ``ewc_lambda``,
  ``epochs``: chosen on seed 3 of this market, ``make run`` trades seed 11) and a drift
  cool-down of :data:`COOLDOWN_S` seconds (the replay runs five trading days a second, so the
  platform's four hours would be more than the whole market).

A home whose models learned other data keeps the built-in configuration (see
:func:`market_plan`). A second ``up`` on the same home replays the market from the start: its
closes file is rewritten to the history, so updates wait until the replay passes the days the
models already judged. Unlike the default market's seed (:data:`feedback.demo.DEMO_SEED`),
seed 11 of this one raises drifts before the turn (three in each run measured on 2026-12-06).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from online_learning.configuration.loading import BUILTIN_CONFIGURATION, read_toml
from online_learning.feedback.simulator import SimulatedMarket

__all__ = [
    "COOLDOWN_S",
    "HISTORY_DAYS",
    "RALLY_SCHEDULE",
    "DemoMarket",
    "MarketFeed",
    "market_plan",
    "write_configuration",
]

#: The market's phases: a history the models bootstrap on, then the live part.
RALLY_SCHEDULE: tuple[tuple[str, int], ...] = (
    ("momentum_rally", 300),
    ("selloff", 150),
    ("sideways", 150),
    ("momentum_rally", 350),
    ("reverting_rally", 450),
)
#: Trading days (after the features' warm-up) before the desk starts: the models' history.
HISTORY_DAYS = 750
#: Seconds between two adaptations of a model (the replay's four hours).
COOLDOWN_S = 10.0
#: Each specialist's update settings on the replayed market (the drift profile halves the
#: learning rate and doubles the lambda).
UPDATE_SETTINGS = {"learning_rate": 5e-3, "ewc_lambda": 0.25, "epochs": 20}
PRICES_FILE = "prices.csv"
CONFIG_FILE = "online-learning.toml"


@dataclass(frozen=True)
class DemoMarket:
    """The simulated market a desk trades from step ``start``; with a ``feed``, each day's
    settling close is published to the models' data."""

    market: SimulatedMarket
    start: int = 0
    feed: MarketFeed | None = None

    @property
    def change(self) -> int:
        """The first phase change the desk trades through."""
        return next(s for s in self.market.change_steps if s >= self.start)


class MarketFeed:
    """The closes of ``market`` written to the CSV ``path`` (``date, symbol, close``) up to the
    last settled day, replaced whole (a reader never sees half a file).

    Examples
    --------
    >>> import tempfile
    >>> from online_learning.data.files import FileSource
    >>> market = SimulatedMarket(2, seed=0, schedule=[("bull", 5), ("sideways", 5)])
    >>> path = Path(tempfile.mkdtemp()) / "prices.csv"
    >>> MarketFeed(market, path).publish(3)
    >>> prices = FileSource(path).fetch()
    >>> prices["date"].max() == market.step_date(4), prices["symbol"].unique().tolist()
    (True, ['SIM0', 'SIM1'])
    """

    def __init__(self, market: SimulatedMarket, path: Path) -> None:
        self.market = market
        self.path = Path(path)
        self._prices = market.prices()[["date", "symbol", "close"]]
        self._dates = self._prices["date"].drop_duplicates().sort_values().reset_index(drop=True)

    def publish(self, step: int) -> None:
        """Write every close up to the one that settles trading day ``step`` (its next)."""
        # The close after the day's own settles it (the calendar's last day has none after).
        after = self._dates.searchsorted(self.market.step_date(step), side="right")
        last = self._dates.iloc[min(after, len(self._dates) - 1)]
        frame = self._prices[self._prices["date"] <= last]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        frame.to_csv(partial, index=False, date_format="%Y-%m-%d", float_format="%.6f")
        os.replace(partial, self.path)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def write_configuration(directory: Path, prices: Path) -> Path:
    """Write the built-in specialists on ``prices`` (with :data:`UPDATE_SETTINGS` and the
    :data:`COOLDOWN_S` cool-down) to ``directory / "online-learning.toml"``; returns its path.

    Examples
    --------
    >>> import tempfile
    >>> from online_learning.configuration import load_configuration
    >>> folder = Path(tempfile.mkdtemp())
    >>> models = load_configuration(write_configuration(folder, folder / "prices.csv"))
    >>> model = models.model("bull_specialist")
    >>> model.data == str(folder / "prices.csv"), model.regime, model.learning_rate
    (True, 'bull', 0.005)
    """
    _, document = read_toml(BUILTIN_CONFIGURATION)
    lines = [
        "# Written by `online-learning up`: the built-in specialists on its simulated market",
        "# (feedback/market_data.py). Rewritten at every start.",
    ]
    for model_id, table in document["models"].items():
        lines.append(f"\n[models.{model_id}]")
        merged = {**table, "data": str(prices), **UPDATE_SETTINGS}
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in merged.items())
    lines.append(f"\n[feedback]\ndrift_cooldown_s = {COOLDOWN_S!r}\n")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    partial = path.with_suffix(".partial")
    partial.write_text("\n".join(lines), encoding="utf-8")
    os.replace(partial, path)
    return path


def last_business_day(today: date | None = None) -> date:
    """The business day before ``today`` (the market's calendar ends there: no future day).

    Examples
    --------
    >>> last_business_day(date(2026, 12, 7))  # a Monday
    datetime.date(2026, 12, 4)
    """
    day = pd.Timestamp(today or date.today()) - pd.offsets.BDay(1)
    return day.date()


def market_plan(
    home: Path,
    *,
    seed: int,
    recorded_data: Callable[[], set[str | None]],
) -> tuple[DemoMarket, Path] | str:
    """The market ``up`` runs and the configuration its models learn it with, or why not.

    Writes the history's closes and the configuration under ``home / "market"`` and returns
    them; returns a sentence instead when the registry's champions learned other data
    (``recorded_data``: the data each champion recorded, empty when there is none).
    """
    directory = home / "market"
    prices = directory / PRICES_FILE
    others = {d for d in recorded_data() if d != str(prices)}
    if others:
        learned = ", ".join(sorted(d or "unnamed data" for d in others))
        return (
            f"this home's models learned {learned}, so they keep the built-in configuration; "
            "with a new ONLINE_LEARNING_HOME they learn the simulated market"
        )
    market = SimulatedMarket(3, seed=seed, schedule=RALLY_SCHEDULE, end=last_business_day())
    feed = MarketFeed(market, prices)
    feed.publish(HISTORY_DAYS - 1)
    return DemoMarket(market, HISTORY_DAYS, feed), write_configuration(directory, prices)
