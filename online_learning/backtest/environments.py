"""The markets a backtest replays: simulated regime environments and real price data.

A synthetic environment named after a regime ``A`` (``bull``, ``bear`` or ``sideways``) is a
:class:`~online_learning.data.SyntheticMarket` whose every symbol follows the schedule::

    warm-up | bootstrap | holdout | phase A (evaluation) | phase B (evaluation) | A again
      64       120 days    30 days    max(horizons) days     42 days               42 days

with the within-regime drift of the simulator throughout. The bootstrap model is trained on
the bootstrap days, scored on the holdout days (its Sharpe at deployment), and deployed on the
first evaluation day. Degradation is measured inside phase A (pure within-regime drift); the
switch to the most conflicting regime ``B`` (:data:`SWITCH_TO`) and back measures forgetting.
The last phase is not traded: the models the policies held at the end of A and at the end of B
are both scored on it, frozen.

A data environment (``sp500``, a user file) evaluates the trading days in ``[start, end]``;
everything before ``start`` minus the holdout is bootstrap data. It has no known regimes, so
no forgetting measurement.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from online_learning.backtest.config import BacktestConfig
from online_learning.data import REGIMES, DataSource, SyntheticMarket, resolve_source
from online_learning.data.synthetic import DEFAULT_SIGNAL_STRENGTH
from online_learning.errors import ConfigError, DataError
from online_learning.execution import RETURN_COLUMNS, resolve_execution
from online_learning.features import WARMUP_ROWS, build_features, labelled

__all__ = [
    "DEFAULT_DRIFT_SPEED",
    "SEED_CALIBRATED_DRIFT_SPEED",
    "SWITCH_TO",
    "SYNTHETIC_ENVIRONMENTS",
    "Environment",
    "data_environment",
    "labelled_rows",
    "market_seed",
    "rows_between",
    "synthetic_environment",
]

SYNTHETIC_ENVIRONMENTS: tuple[str, ...] = REGIMES
#: Regime B of each environment: the one whose feature-return relation conflicts most with A
#: (bull momentum against sideways reversal; bear's reversal on the last return against bull).
SWITCH_TO: dict[str, str] = {"bull": "sideways", "sideways": "bull", "bear": "bull"}
#: Simulator drift speed: the coefficients' stationary spread (about 7 x the step, 0.03) is of
#: the size of the regimes' own coefficients at the realistic signal strength. The seed's
#: "static loses 15-25 % in three months" needs 0.04 (:data:`SEED_CALIBRATED_DRIFT_SPEED`),
#: where the drift makes the market strongly predictable; at this speed a bootstrapped model
#: has no Sharpe to lose (``docs/backtest.md``, "Calibration of the drift speed").
DEFAULT_DRIFT_SPEED = 0.004
#: The drift speed at which the static model's expected loss over 90 days is closest to 20 %
#: (``online-learning backtest --calibrate``, tuning seeds 100-111, 32 twins each).
SEED_CALIBRATED_DRIFT_SPEED = 0.04
_WARMUP_DAYS = WARMUP_ROWS + 1

ForeignRows = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Forgetting:
    """Dates of the A -> B -> A schedule: last day of A, last day of B, the return to A."""

    regime_a: str
    regime_b: str
    a_end: date
    b_end: date
    return_start: date
    return_end: date


@dataclass(frozen=True)
class Environment:
    """One market to replay, with the dates that structure the replay.

    ``rows`` holds the labelled causal features of every day of the source, computed once:
    a row of day ``t`` has features known at the close of ``t`` and the return to ``t + 1``.
    """

    name: str
    kind: str
    source: DataSource
    rows: pd.DataFrame
    trading_days: tuple[date, ...]
    start: date
    end: date
    bootstrap_end: date
    holdout_start: date
    forgetting: Forgetting | None = None
    foreign_rows: ForeignRows | None = None
    description: str = ""

    @property
    def holdout_end(self) -> date:
        """The last trading day before the evaluation starts."""
        return self.trading_days[self.trading_days.index(self.start) - 1]

    @property
    def evaluation_days(self) -> list[date]:
        return [d for d in self.trading_days if self.start <= d <= self.end]

    def rows_between(self, first: date, last: date) -> pd.DataFrame:
        return rows_between(self.rows, first, last)

    def true_regimes(self) -> pd.Series | None:
        """The true regime of each evaluation day (synthetic only), for plots."""
        if "true_regime" not in self.rows.columns:
            return None
        frame = self.rows_between(self.start, self.end)
        return frame.groupby("date")["true_regime"].first()


def market_seed(seed: int, environment: str) -> int:
    """Seed of an environment's market: independent across environments, stable across runs.

    Examples
    --------
    >>> market_seed(0, "bull") == market_seed(0, "bull") != market_seed(0, "bear")
    True
    """
    key = zlib.crc32(environment.encode())
    return int(np.random.SeedSequence([int(seed), key]).generate_state(1)[0])


def rows_between(rows: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """The rows of ``rows`` dated from ``first`` to ``last`` inclusive."""
    dates = rows["date"]
    return rows.loc[(dates >= pd.Timestamp(first)) & (dates <= pd.Timestamp(last))]


def labelled_rows(source: DataSource) -> pd.DataFrame:
    """The labelled causal features of every day of ``source`` (the rows the replay scores)."""
    return labelled(build_features(source.fetch()))


def synthetic_environment(
    regime: str,
    seed: int,
    config: BacktestConfig,
    *,
    drift_speed: float = DEFAULT_DRIFT_SPEED,
    n_symbols: int = 6,
    bootstrap_days: int = 120,
    switch_days: int = 42,
    return_days: int = 42,
    signal_strength: float = DEFAULT_SIGNAL_STRENGTH,
) -> Environment:
    """The A -> B -> A environment of regime ``regime`` for one seed (see the module doc).

    Examples
    --------
    >>> env = synthetic_environment("bull", 0, BacktestConfig(horizons=(30,)),
    ...                             bootstrap_days=60, switch_days=10, return_days=10)
    >>> len(env.evaluation_days), env.forgetting.regime_b
    (40, 'sideways')
    """
    if regime not in SWITCH_TO:
        raise ConfigError(f"unknown environment {regime!r}; choose from {list(SWITCH_TO)}")
    for name, value in (("bootstrap_days", bootstrap_days), ("switch_days", switch_days),
                        ("return_days", return_days)):  # fmt: skip
        if value < 5:
            raise ConfigError(f"{name} must be at least 5, got {value}")
    other = SWITCH_TO[regime]
    # A position taken on day t earns the return generated on day t + 1, so each phase's
    # evaluation days end one day before its prices do: the last day of A earns an A return.
    phase_a = _WARMUP_DAYS + bootstrap_days + config.holdout_days + config.horizon_days + 1
    # Two extra days at the end: a position of the last scored day is filled at the next open
    # and held to the open after.
    schedule = [(regime, phase_a), (other, switch_days), (regime, return_days + 2)]
    n_days = sum(days for _, days in schedule)
    common = {"n_symbols": n_symbols, "n_days": n_days, "drift_speed": drift_speed,
              "signal_strength": signal_strength, "seed": market_seed(seed, regime)}  # fmt: skip
    market = SyntheticMarket(regime_schedule=schedule, **common)
    companion = SyntheticMarket(regime_schedule=[(other, n_days)], **common)
    days = [pd.Timestamp(d).date() for d in sorted(market.fetch()["date"].unique())]
    start_index = _WARMUP_DAYS + bootstrap_days + config.holdout_days
    b_end_index = phase_a + switch_days - 2
    forgetting = Forgetting(
        regime_a=regime,
        regime_b=other,
        a_end=days[phase_a - 2],
        b_end=days[b_end_index],
        return_start=days[b_end_index + 1],
        return_end=days[b_end_index + return_days],
    )
    companion_rows = labelled_rows(companion)
    return Environment(
        name=regime,
        kind="synthetic",
        source=market,
        rows=labelled_rows(market),
        trading_days=tuple(days),
        start=days[start_index],
        end=days[b_end_index],
        bootstrap_end=days[start_index - config.holdout_days - 1],
        holdout_start=days[start_index - config.holdout_days],
        forgetting=forgetting,
        foreign_rows=_same_window_of(companion_rows),
        description=(
            f"{regime} {config.horizon_days} days, then {other} {switch_days} days, then "
            f"{regime} {return_days} days (scored frozen); drift_speed={drift_speed}, "
            f"{n_symbols} symbols"
        ),
    )


def _same_window_of(companion_rows: pd.DataFrame) -> ForeignRows:
    """Replace training rows with the same (date, symbol) rows of a market in another regime."""
    indexed = companion_rows.set_index(["date", "symbol"])

    def foreign(train: pd.DataFrame) -> pd.DataFrame:
        keys = pd.MultiIndex.from_frame(train[["date", "symbol"]])
        found = indexed.reindex(keys).dropna(subset=["target"]).reset_index()
        if "target_return" in train.columns and "target_return" not in found.columns:
            found["target_return"] = found["forward_return"]  # the companion's one-day label
        return found.loc[:, list(train.columns)]

    return foreign


def data_environment(
    spec: str | DataSource,
    config: BacktestConfig,
    *,
    start: date | None = None,
    end: date | None = None,
    default_days: int = 252,
) -> Environment:
    """A real-data environment: ``sp500``, ``sp500-stocks``, a CSV/Parquet path or a
    :class:`~online_learning.data.DataSource`, evaluated on ``[start, end]``.

    Without ``start`` the last ``default_days`` priced days are evaluated.
    """
    source = resolve_source(spec) if isinstance(spec, str) else spec
    rows = labelled_rows(source)
    days = [pd.Timestamp(d).date() for d in sorted(rows["date"].unique())]
    # Only days whose positions' executed return is known can be evaluated.
    timing = resolve_execution(config.update.execution, rows)
    priced = rows.loc[rows[RETURN_COLUMNS[timing]].notna(), "date"].unique()
    priced_days = {pd.Timestamp(d).date() for d in priced}
    last = end if end is not None else max(priced_days)
    eligible = [d for d in days if d <= last and d in priced_days and (start is None or d >= start)]
    if start is None:
        eligible = eligible[-default_days:]
    if len(eligible) < config.horizon_days:
        raise DataError(
            f"{source.name}: {len(eligible)} labelled trading days to evaluate between "
            f"{start or 'the start'} and {last}; the longest horizon needs {config.horizon_days}"
        )
    start_index = days.index(eligible[0])
    needed = max(config.update.data_window, 60) + config.holdout_days
    if start_index < needed:
        raise DataError(
            f"{source.name}: only {start_index} labelled days before {eligible[0]}; bootstrap "
            f"and the first update need {needed}"
        )
    return Environment(
        name=source.name,
        kind="data",
        source=source,
        rows=rows,
        trading_days=tuple(days),
        start=eligible[0],
        end=eligible[-1],
        bootstrap_end=days[start_index - config.holdout_days - 1],
        holdout_start=days[start_index - config.holdout_days],
        foreign_rows=_other_regime_rows(rows),
        description=f"{source.name}, evaluated {eligible[0]} to {eligible[-1]}",
    )


def _other_regime_rows(rows: pd.DataFrame) -> ForeignRows:
    """Replace training rows with the latest earlier rows of another causal regime label."""

    def foreign(train: pd.DataFrame) -> pd.DataFrame:
        label = train["regime_label"].mode().iloc[0]
        earlier = rows[(rows["date"] < train["date"].min()) & (rows["regime_label"] != label)]
        if len(earlier) < len(train):  # too little history in another regime: the oldest rows
            earlier = rows[rows["date"] < train["date"].min()]
        return earlier.tail(len(train)).loc[:, list(train.columns)].reset_index(drop=True)

    return foreign
