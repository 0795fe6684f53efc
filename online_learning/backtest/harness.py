"""The walk-forward replay of one environment and one seed, every policy side by side.

At the close of each evaluation day ``t``, in this order:

1. each policy learns the realised return of the positions it took at ``t - 1`` (``ewc_drift``
   feeds them to its drift monitors);
2. the policies run the day's updates (scheduled, drift-triggered or retrain) with data up to
   ``t``, the product's ``as_of``: the newest labelled day is ``t - 1``;
3. each policy's current champions take positions ``2 * p_up - 1`` on every symbol from the
   features of day ``t``; they earn the return of the execution timing (by default the next
   open to the open after, see :mod:`online_learning.execution`), net of the cost of the
   change of position from the day before.

The portfolio return of a policy on day ``t`` is the mean over the day's symbols of that net
return (a symbol no model serves has position 0). Every policy gets the same rows, the same
data source and the same seeds.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import hashlib
import pickle
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import torch
from torch import nn

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import Environment
from online_learning.backtest.faults import FaultPlan
from online_learning.backtest.policies import (
    DriftRecord,
    Policy,
    PolicyUpdate,
    derive_seed,
    make_policy,
)
from online_learning.errors import ConfigError
from online_learning.execution import executed_returns, net_returns, position_from_p_up
from online_learning.features import FEATURE_COLUMNS
from online_learning.models.dataset import load_dataset
from online_learning.models.estimator import ContractEstimator
from online_learning.models.inputs import Inputs
from online_learning.registry.memory import InMemoryRegistry
from online_learning.specialists import regime_of
from online_learning.stats import sharpe_ratio
from online_learning.update.bootstrap import train_and_register

__all__ = ["RunResult", "bootstrap_registry", "daily_returns", "run_backtest", "single_thread"]

DayProgress = Callable[[int, int], None]


@dataclass
class RunResult:
    """Everything one (environment, seed) replay produced; the metrics are computed from it.

    ``returns`` maps each policy to its daily portfolio net returns on ``days``, ``turnover``
    and ``costs`` to its daily one-way turnover and cost (return units), ``symbol_returns``
    to each symbol's daily net return (0 on a day the symbol has no row);
    ``deployment_returns`` are the bootstrap models' daily net returns on the holdout days;
    ``forgetting`` maps each policy to the daily returns of its end-of-A and end-of-B models,
    frozen, on the return to regime A (synthetic environments only).

    What the success metrics read (:mod:`online_learning.backtest.success`): ``traded_rows``,
    every row the policies traded (the same rows for all), in trading order, with ``day`` (an
    index into ``days``), ``symbol``, ``realised`` (the simple return of the execution timing)
    and the platform's features of the day; ``p_up`` and ``served_by`` map each policy to the
    ``p_up`` and the model id of each of those rows (NaN and None where no model served it);
    ``model_age`` maps each policy and model to the age of its champion on each day, in
    trading days since the last day its version trained on (its ``train_end`` tag; NaN when
    the version does not say).
    """

    environment: str
    kind: str
    seed: int
    days: list[date]
    returns: dict[str, np.ndarray]
    deployment_returns: np.ndarray
    turnover: dict[str, np.ndarray] = field(default_factory=dict)
    costs: dict[str, np.ndarray] = field(default_factory=dict)
    symbol_returns: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    updates: list[PolicyUpdate] = field(default_factory=list)
    drifts: list[DriftRecord] = field(default_factory=list)
    forgetting: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    true_regimes: list[str] | None = None
    phase_b_start: int | None = None
    bootstrap_s: float = 0.0
    wall_s: float = 0.0
    model_digests: dict[str, dict[str, str]] = field(default_factory=dict)
    data_digests: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""
    traded_rows: pd.DataFrame | None = None
    p_up: dict[str, np.ndarray] = field(default_factory=dict)
    served_by: dict[str, np.ndarray] = field(default_factory=dict)
    model_age: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def deployment_sharpe(self) -> float:
        return sharpe_ratio(self.deployment_returns)


def _route(model_ids: tuple[str, ...]) -> tuple[dict[str, str], str | None]:
    specialists = {regime_of(m): m for m in model_ids if regime_of(m) is not None}
    generic = [m for m in model_ids if regime_of(m) is None]
    if len(generic) > 1:
        raise ConfigError(f"at most one generic (non-specialist) model, got {generic}")
    return specialists, (generic[0] if generic else None)


@dataclass(frozen=True)
class BookDay:
    """What a set of models' book earned on some days: per day, and per model per day.

    ``by_row`` holds each traded row (indexed as the rows were, in trading order): its
    ``symbol``, ``realised`` return, the ``p_up`` served and the ``model_id`` that served it
    (NaN and None for a row no model served).
    """

    net: pd.Series
    turnover: pd.Series
    cost: pd.Series
    per_model: dict[str, pd.Series]
    positions: dict[str, float]
    per_symbol: dict[str, float] = field(default_factory=dict)
    by_row: pd.DataFrame = field(default_factory=pd.DataFrame)


def daily_returns(
    models: dict[str, nn.Module],
    rows: pd.DataFrame,
    *,
    execution: str = "auto",
    cost_bps: float = 0.0,
    previous: dict[str, float] | None = None,
    inputs: Callable[[str, pd.DataFrame], Inputs] | None = None,
) -> BookDay:
    """Daily net returns of the book ``models`` hold on labelled ``rows``, and per model.

    A row goes to the specialist of its causal regime label, else to the generic model; a row
    no model serves has position 0. Each row earns its position times the return of the
    ``execution`` timing, less ``cost_bps`` per unit of position changed since the symbol's
    previous traded row (or ``previous``); the book's return on a day is the mean over its
    traded rows. A row whose executed return is not known (a symbol that ends early, is
    delisted or does not trade on the next days) is not traded, as in the gate and the metrics
    store: it earns and costs nothing and leaves the symbol's position as it was. A day with
    no traded row is absent from the series. ``inputs(model_id, rows)`` gives a team's model
    its inputs (its own features, sequences); a row it has none for is flat. Without it, a
    model reads the platform's ten features from the rows.
    """
    specialists, generic = _route(tuple(models))
    realised = executed_returns(rows, execution)
    rows = rows.loc[np.isfinite(realised)]
    rows = rows.sort_values(["date", "symbol"], kind="stable")
    owner = rows["regime_label"].map(specialists).astype(object)
    if generic is not None:
        owner = owner.where(owner.notna(), generic)
    position = np.zeros(len(rows))
    served = np.full(len(rows), np.nan)
    served_by = np.full(len(rows), None, dtype=object)
    for model_id, model in models.items():
        mask = (owner == model_id).to_numpy()
        if not mask.any():
            continue
        if inputs is None:
            features = rows.loc[mask, list(FEATURE_COLUMNS)].to_numpy(dtype=np.float32)
            where = np.flatnonzero(mask)
            p_up = model.predict_proba(features).astype(np.float64)
        else:
            built = inputs(model_id, rows.loc[mask])
            where = np.flatnonzero(mask)[built.usable]
            if not len(where):
                continue
            p_up = model.predict_proba(built.x).astype(np.float64)
        position[where] = position_from_p_up(p_up)
        served[where], served_by[where] = p_up, model_id
    realised = executed_returns(rows, execution)
    symbols = rows["symbol"].astype(str).to_numpy()
    net, turnover = net_returns(symbols, position, realised, cost_bps=cost_bps, previous=previous)
    dates = rows["date"].to_numpy()
    frame = pd.DataFrame({"net": net, "turnover": turnover, "cost": position * realised - net})
    by_day = frame.groupby(dates)
    per_model = {
        model_id: pd.Series(net[mask], index=dates[mask]).groupby(level=0).mean()
        for model_id in models
        if (mask := (owner == model_id).to_numpy()).any()
    }
    held = dict(previous or {})
    held.update(dict(zip(symbols, position, strict=True)))
    return BookDay(
        net=by_day["net"].mean(),
        turnover=by_day["turnover"].mean(),
        cost=by_day["cost"].mean(),
        per_model=per_model,
        positions=held,
        per_symbol=dict(pd.Series(net).groupby(symbols).sum()),
        by_row=pd.DataFrame(
            {"symbol": symbols, "realised": realised, "p_up": served, "model_id": served_by},
            index=rows.index,
        ),
    )


class _RecordingSource:
    """A policy's view of the shared data source that fingerprints everything it serves."""

    def __init__(self, source) -> None:
        self.source = source
        self.name = source.name
        self.fetched: dict[str, str] = {}

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        frame = self.source.fetch(start, end)
        self.fetched[f"{start}..{end}"] = _digest_frame(frame)
        return frame


def _digest_model(model: nn.Module | ContractEstimator) -> str:
    digest = hashlib.sha256()
    if isinstance(model, ContractEstimator):  # a fitted estimator: its pickled state
        digest.update(pickle.dumps(model.estimator, protocol=5))
        return digest.hexdigest()[:16]
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def _digest_frame(frame: pd.DataFrame, previous: str = "") -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    return hashlib.sha256(previous.encode() + hashed).hexdigest()[:16]


@contextmanager
def single_thread():
    """One intra-op thread: reproducible sums, and no oversubscription in a process pool."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _team_inputs(env: Environment, config: BacktestConfig):
    """How a team's models read their inputs on the environment's rows (None: no team's)."""
    datasets = {d.model_id: load_dataset(env.source, d, end=env.end) for d in config.definitions}
    if not datasets:
        return None
    return lambda model_id, rows: datasets[model_id].lookup(rows)


def bootstrap_registry(env: Environment, config: BacktestConfig, seed: int) -> InMemoryRegistry:
    """Train every model from scratch on the bootstrap days and make it champion."""
    registry = InMemoryRegistry(name=f"{env.name}-bootstrap")
    for model_id in config.model_ids:
        train_and_register(
            registry=registry,
            source=env.source,
            model_id=model_id,
            definition=config.definition(model_id, data=env.source.name),
            end=env.bootstrap_end,
            epochs=config.bootstrap_epochs,
            seed=derive_seed(seed, model_id, "bootstrap"),
        )
    return registry


def run_backtest(
    env: Environment,
    seed: int,
    config: BacktestConfig,
    *,
    faults: FaultPlan | None = None,
    progress: DayProgress | None = None,
) -> RunResult:
    """Replay ``env`` day by day with every policy of ``config``; see the module doc.

    ``faults`` poisons scheduled updates of the updating policies (see
    :class:`~online_learning.backtest.faults.FaultPlan`); ``progress(done, total)`` is called
    after each day.
    """
    began = time.perf_counter()
    traded = {s for d in config.definitions for s in d.symbols or ()}
    if (
        traded
        and all(d.symbols for d in config.definitions)
        and len(config.definitions) == len(config.model_ids)
    ):  # every model trades its own symbols: the book holds those only
        env = dataclasses.replace(env, rows=env.rows[env.rows["symbol"].isin(traded)])
    with single_thread():
        torch.manual_seed(derive_seed(seed, "torch"))
        bootstrap = bootstrap_registry(env, config, seed)
        bootstrap_s = time.perf_counter() - began
        policies: dict[str, Policy] = {
            name: make_policy(
                name,
                registry=copy.deepcopy(bootstrap),
                source=_RecordingSource(env.source),
                config=config,
                seed=seed,
                trading_days=env.trading_days,
            )
            for name in config.policies
        }
        pricing = {**_pricing(config), "inputs": _team_inputs(env, config)}
        deployed = _champions(bootstrap, config)
        holdout = env.rows_between(env.holdout_start, env.holdout_end)
        deployment = daily_returns(deployed, holdout, **pricing).net
        result = RunResult(
            environment=env.name,
            kind=env.kind,
            seed=seed,
            days=env.evaluation_days,
            returns={},
            deployment_returns=deployment.to_numpy(),
            bootstrap_s=bootstrap_s,
            description=env.description,
        )
        _replay(env, config, policies, result, faults, progress, pricing)
    result.model_digests["bootstrap"] = {m: _digest_model(x) for m, x in deployed.items()}
    for name, policy in policies.items():
        result.model_digests[name] = {m: _digest_model(x) for m, x in policy.models().items()}
    regimes = env.true_regimes()
    if regimes is not None:
        result.true_regimes = [str(regimes.get(pd.Timestamp(d), "")) for d in result.days]
    result.wall_s = time.perf_counter() - began
    return result


def _pricing(config: BacktestConfig) -> dict[str, object]:
    return {"execution": config.update.execution, "cost_bps": config.update.cost_bps}


def _champions(registry: InMemoryRegistry, config: BacktestConfig) -> dict[str, nn.Module]:
    return {m: registry.load_champion(m).model for m in config.model_ids}


def _replay(
    env: Environment,
    config: BacktestConfig,
    policies: dict[str, Policy],
    result: RunResult,
    faults: FaultPlan | None,
    progress: DayProgress | None,
    pricing: dict[str, object],
) -> None:
    days = result.days
    by_day = {d: frame for d, frame in env.rows_between(days[0], days[-1]).groupby("date")}
    returns = {name: np.full(len(days), np.nan) for name in policies}
    turnover = {name: np.full(len(days), np.nan) for name in policies}
    costs = {name: np.full(len(days), np.nan) for name in policies}
    held: dict[str, dict[str, float]] = {name: {} for name in policies}
    symbols = sorted(env.rows["symbol"].astype(str).unique())
    per_symbol = {name: np.zeros((len(days), len(symbols))) for name in policies}
    column = {symbol: j for j, symbol in enumerate(symbols)}
    realised: dict[str, dict[str, float]] = {name: {} for name in policies}
    snapshots: dict[str, dict[str, dict[str, nn.Module]]] = {}
    traded = ""
    by_row: dict[str, list[pd.DataFrame]] = {name: [] for name in policies}
    shared_rows: list[pd.DataFrame] = []
    first_day = env.trading_days.index(days[0])
    ages = {name: {m: np.full(len(days), np.nan) for m in config.model_ids} for name in policies}
    for i, day in enumerate(days):
        scheduled = i % config.update_every == 0
        rows = by_day[pd.Timestamp(day)]
        traded = _digest_frame(rows, traded)
        for name, policy in policies.items():
            if i > 0:
                result.drifts += policy.observe(i, day, realised[name])
            result.updates += policy.step(i, day, scheduled=scheduled, faults=faults, env=env)
            book = daily_returns(policy.models(), rows, previous=held[name], **pricing)
            held[name] = book.positions
            priced = not book.net.empty  # else no symbol's return of the day is known: flat
            returns[name][i] = float(book.net.iloc[0]) if priced else 0.0
            turnover[name][i] = float(book.turnover.iloc[0]) if priced else 0.0
            costs[name][i] = float(book.cost.iloc[0]) if priced else 0.0
            for symbol, value in book.per_symbol.items():
                per_symbol[name][i, column[symbol]] = value
            realised[name] = {m: float(s.iloc[0]) for m, s in book.per_model.items()}
            by_row[name].append(book.by_row)
            for model_id, through in policy.trained_through().items():
                ages[name][model_id][i] = _age(env.trading_days, first_day + i, through)
        if policies:  # every policy trades the same rows of the day
            index = book.by_row.index
            shared_rows.append(
                rows.loc[index, list(FEATURE_COLUMNS)].assign(
                    day=i, symbol=book.by_row["symbol"], realised=book.by_row["realised"]
                )
            )
        if env.forgetting is not None and day in (env.forgetting.a_end, env.forgetting.b_end):
            phase = "a" if day == env.forgetting.a_end else "b"
            snapshots[phase] = {name: p.models() for name, p in policies.items()}
            if phase == "b":
                result.phase_b_start = days.index(env.forgetting.a_end) + 1
        if progress is not None:
            progress(i + 1, len(days))
    result.returns, result.turnover, result.costs = returns, turnover, costs
    result.symbol_returns = {
        name: {s: values[:, j] for s, j in column.items()} for name, values in per_symbol.items()
    }
    result.data_digests = {
        name: {"traded": traded, **policy.source.fetched} for name, policy in policies.items()
    }
    _record_rows(result, shared_rows, by_row, ages)
    if env.forgetting is not None and set(snapshots) == {"a", "b"}:
        back = env.rows_between(env.forgetting.return_start, env.forgetting.return_end)
        for name in policies:
            result.forgetting[name] = {
                phase: daily_returns(snapshots[phase][name], back, **pricing).net.to_numpy()
                for phase in ("a", "b")
            }


def _age(trading_days: tuple[date, ...], day_index: int, through: date | None) -> float:
    """Trading days from ``through`` (or the last trading day before it) to day ``day_index``."""
    if through is None:
        return np.nan
    return float(day_index - (bisect.bisect_right(trading_days, through) - 1))


def _record_rows(
    result: RunResult,
    shared_rows: list[pd.DataFrame],
    by_row: dict[str, list[pd.DataFrame]],
    ages: dict[str, dict[str, np.ndarray]],
) -> None:
    """Keep the traded rows, each policy's ``p_up`` and model on them, and the models' ages."""
    if not shared_rows:
        return
    rows = pd.concat(shared_rows)
    columns = ["day", "symbol", "realised", *FEATURE_COLUMNS]
    result.traded_rows = rows.loc[:, columns].reset_index(drop=True)
    for name, parts in by_row.items():
        frame = pd.concat(parts)
        result.p_up[name] = frame["p_up"].to_numpy(dtype=np.float64)
        result.served_by[name] = frame["model_id"].to_numpy(dtype=object)
    result.model_age = ages
