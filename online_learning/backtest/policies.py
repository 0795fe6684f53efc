"""The maintenance policies a backtest compares, each with its own throw-away registry.

Every policy starts from the same bootstrapped champions and changes them only through the
product's code paths: :meth:`OnlineLearner.incremental_update` (with its gate and rollback)
for ``finetune``, ``ewc`` and ``ewc_drift`` (networks) and for ``warm_start`` and an
estimator's ``retrain`` (the policy of its configuration: refitted on each scheduled update's
window, gated); :func:`~online_learning.update.bootstrap.train_and_register` (a full retrain,
promoted without a gate, as the CLI's ``train`` does) for a network's ``retrain``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd
from torch import nn

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.faults import PRICE_FAULTS, FaultPlan, Poison
from online_learning.data import DataSource
from online_learning.errors import DataError
from online_learning.feedback.drift import CooldownPolicy, DriftMonitor
from online_learning.models.definition import ModelDefinition
from online_learning.registry.base import TRAINED_THROUGH_TAG, tag_date
from online_learning.registry.memory import InMemoryRegistry
from online_learning.update.bootstrap import train_and_register
from online_learning.update.learner import OnlineLearner
from online_learning.update_result import UpdateResult

__all__ = ["DriftRecord", "Policy", "PolicyUpdate", "derive_seed", "make_policy"]


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any mix of ints and strings, stable across processes and runs.

    Examples
    --------
    >>> derive_seed(3, "ewc", 17) == derive_seed(3, "ewc", 17) != derive_seed(3, "ewc", 18)
    True
    """
    words = [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0] >> 1)


@dataclass(frozen=True, kw_only=True)
class PolicyUpdate(UpdateResult):
    """One attempted change of a policy's model: the update's
    :class:`~online_learning.update_result.UpdateResult` and where the replay stood.

    ``kind`` is ``scheduled``, ``drift`` (started by a drift signal) or ``retrain``;
    ``decision`` is ``promoted``, ``rolled_back``, ``deferred`` (it waited for new validation
    days, or they held too few rows to judge: not a decision) or ``failed`` (a retrain without
    data). ``fault``
    names the poison of a poisoned update; ``p_value`` is the gate's.
    """

    policy: str
    day: int
    date: date
    kind: str
    fault: str | None = None
    p_value: float = float("nan")
    weight_change: float = float("nan")

    @property
    def decided(self) -> bool:
        """Whether the update decided (it was not deferred)."""
        return self.decision != "deferred"


@dataclass(frozen=True)
class DriftRecord:
    """A drift signal on a model's realised returns, and whether it started an update."""

    policy: str
    model_id: str
    day: int
    date: date
    detectors: tuple[str, ...]
    adapted: bool


class Policy:
    """A policy that never changes its models (``static``); the base of the others.

    Parameters
    ----------
    name : str
        Policy name (see :data:`~online_learning.backtest.config.POLICIES`).
    registry : InMemoryRegistry
        This policy's own registry, holding the bootstrapped champions.
    source : DataSource
        Market data for updates and retrains (identical for every policy).
    config : BacktestConfig
    seed : int
        The run's seed; update seeds derive from it, the model id and the day, so that every
        policy trains with the same batch order on the same day (common random numbers).
    trading_days : sequence of date
        Every trading day of the source, to place retrain windows.
    """

    def __init__(
        self,
        name: str,
        registry: InMemoryRegistry,
        source: DataSource,
        config: BacktestConfig,
        seed: int,
        trading_days: tuple[date, ...] = (),
    ) -> None:
        self.name = name
        self.registry = registry
        self.source = source
        self.config = config
        self.seed = seed
        self.trading_days = tuple(trading_days)
        self._models: dict[str, nn.Module] = {}
        self._definitions: dict[str, ModelDefinition | None] = {}
        self._trained_through: dict[str, date | None] = {}
        for model_id in config.model_ids:
            self._refresh(model_id)

    def _refresh(self, model_id: str) -> None:
        champion = self.registry.load_champion(model_id)
        self._models[model_id] = champion.model
        self._definitions[model_id] = champion.definition
        self._trained_through[model_id] = tag_date(champion.tags.get(TRAINED_THROUGH_TAG))

    def _estimator(self, model_id: str) -> bool:
        definition = self._definitions.get(model_id)
        return definition is not None and definition.kind == "estimator"

    def models(self) -> dict[str, nn.Module]:
        """The current champion of each model (read-only use: predicting)."""
        return dict(self._models)

    def trained_through(self) -> dict[str, date | None]:
        """The last day of data each current champion trained on (None: its version does not
        say), from the ``train_end`` tag every trained version carries."""
        return dict(self._trained_through)

    def observe(self, day: int, when: date, realised: dict[str, float]) -> list[DriftRecord]:
        """Realised return of each model's positions of the previous day; no reaction here."""
        return []

    def step(
        self,
        day: int,
        when: date,
        *,
        scheduled: bool,
        faults: FaultPlan | None = None,
        env: object | None = None,
    ) -> list[PolicyUpdate]:
        """Run the day's updates at the close of ``when``; nothing for ``static``.

        ``faults`` poisons some of the scheduled updates; ``env`` (the
        :class:`~online_learning.backtest.environments.Environment`) supplies what a poison
        needs (foreign rows, the symbols).
        """
        return []


class _CorruptedSource:
    """The policy's data source with one price fault planted in what it serves."""

    def __init__(self, source: DataSource, corrupt) -> None:
        self.source, self.corrupt, self.name = source, corrupt, source.name

    def fetch(self, start=None, end=None):
        return self.corrupt(self.source.fetch(start, end))


class UpdatePolicy(Policy):
    """Scheduled incremental updates through the product's learner (``finetune``, ``ewc``).

    The policy remembers, per model, the last validation day its gate judged and passes it to
    the next update (the product's recorded path reads it from the metrics store).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.learner = OnlineLearner(self.registry, self.source)
        self.judged_through: dict[str, date | None] = dict.fromkeys(self.config.model_ids)
        self._eligible = 0

    def _window_days(self, when: date, window: int) -> list[date]:
        """The trading days an update at the close of ``when`` will use (by the calendar)."""
        lag = 1 if self.config.update.execution == "same-close" else 2
        index = self.trading_days.index(when) - lag
        return list(self.trading_days[max(index - window + 1, 0) : index + 1])

    def _will_decide(self, model_id: str, when: date, window: int | None) -> bool:
        days = self._window_days(when, window or self.config.update.data_window)
        judged = self.judged_through.get(model_id)
        fresh = [d for d in days if judged is None or d > judged]
        return len(fresh) >= self.config.update.min_validation_days

    def _poison(self, faults: FaultPlan | None, env, model_id: str, day: int, when: date):
        if faults is None or not self._will_decide(model_id, when, None):
            return None
        kind = faults.kind_on(self._eligible)
        self._eligible += 1
        if kind is None:
            return None
        symbols: tuple[str, ...] = ()
        if kind in PRICE_FAULTS:
            symbols = tuple(sorted(env.rows["symbol"].astype(str).unique()))
        return faults.poison(
            kind,
            seed=derive_seed(self.seed, "fault", day),
            foreign=getattr(env, "foreign_rows", None),
            symbols=symbols,
            window_days=[
                pd.Timestamp(d) for d in self._window_days(when, self.config.update.data_window)
            ],
        )

    def _update(
        self,
        model_id: str,
        day: int,
        when: date,
        kind: str,
        *,
        window: int | None = None,
        lambda_factor: float = 1.0,
        poison: Poison | None = None,
    ) -> PolicyUpdate:
        config = self.config.update_config(
            model_id,
            as_of=when,
            seed=derive_seed(self.seed, model_id, day, kind),
            policy=self.name,
            window=window,
            lambda_factor=lambda_factor,
            learning_rate_factor=poison.learning_rate_factor if poison else 1.0,
            judged_through=self.judged_through.get(model_id),
        )
        learner = self.learner
        if poison is not None and poison.prices is not None:
            learner = OnlineLearner(self.registry, _CorruptedSource(self.source, poison.prices))
        # An estimator is maintained as this policy says (retrain or warm_start).
        definition = (
            replace(self._definitions[model_id], policy=self.name)
            if self._estimator(model_id)
            else None
        )
        outcome = learner.incremental_update(
            config, transform_train=poison.transform if poison else None, definition=definition
        )
        if outcome.judged_through:
            self.judged_through[model_id] = date.fromisoformat(outcome.judged_through)
        if outcome.promoted:
            self._refresh(model_id)
        return PolicyUpdate(
            **outcome.result().result_fields(),
            policy=self.name,
            day=day,
            date=when,
            kind=kind,
            fault=poison.kind if poison else None,
            p_value=outcome.p_value,
            weight_change=outcome.weight_change,
        )

    def step(
        self,
        day: int,
        when: date,
        *,
        scheduled: bool,
        faults: FaultPlan | None = None,
        env: object | None = None,
    ) -> list[PolicyUpdate]:
        return self._scheduled(day, when, faults, env, self._models) if scheduled else []

    def _scheduled(self, day, when, faults, env, model_ids) -> list[PolicyUpdate]:
        """The scheduled update of each of ``model_ids`` (some poisoned by ``faults``)."""
        return [
            self._update(m, day, when, "scheduled", poison=self._poison(faults, env, m, day, when))
            for m in model_ids
        ]


class DriftPolicy(UpdatePolicy):
    """``ewc`` plus an extra, shorter update when drift detectors fire (with a cool-down)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.monitors = {
            m: DriftMonitor(m, warmup=self.config.drift_warmup) for m in self.config.model_ids
        }
        self.cooldown = CooldownPolicy(
            self.config.drift_cooldown, min_detectors=self.config.drift_min_detectors
        )
        self._pending: set[str] = set()

    def observe(self, day: int, when: date, realised: dict[str, float]) -> list[DriftRecord]:
        records = []
        for model_id, value in realised.items():
            signal = self.monitors[model_id].update(value)
            if signal is None:
                continue
            adapt = self.cooldown.should_adapt(signal)
            if adapt:
                self._pending.add(model_id)
            records.append(DriftRecord(self.name, model_id, day, when, signal.detectors, adapt))
        return records

    def step(
        self,
        day: int,
        when: date,
        *,
        scheduled: bool,
        faults: FaultPlan | None = None,
        env: object | None = None,
    ) -> list[PolicyUpdate]:
        records = super().step(day, when, scheduled=scheduled, faults=faults, env=env)
        for model_id in sorted(self._pending):
            record = self._update(
                model_id,
                day,
                when,
                "drift",
                window=self.config.drift_window,
                lambda_factor=self.config.drift_lambda_factor,
            )
            if record.decision == "promoted":
                self.monitors[model_id].reset()  # the returns to watch are the new model's
            records.append(record)
        self._pending.clear()
        return records


class RetrainPolicy(UpdatePolicy):
    """A network: a full retrain from scratch on the last ``retrain_window`` days, every
    ``retrain_every``. An estimator: refitted on the window of each scheduled update, through
    the gate (its configuration's ``retrain``)."""

    def step(
        self,
        day: int,
        when: date,
        *,
        scheduled: bool,
        faults: FaultPlan | None = None,
        env: object | None = None,
    ) -> list[PolicyUpdate]:
        estimators = [m for m in self._models if self._estimator(m)]
        records = self._scheduled(day, when, faults, env, estimators) if scheduled else []
        if day == 0 or day % self.config.retrain_every:
            return records
        index = self.trading_days.index(when)
        start = self.trading_days[max(index - self.config.retrain_window, 0)]
        for model_id in [m for m in self._models if not self._estimator(m)]:
            try:
                result = train_and_register(
                    registry=self.registry,
                    source=self.source,
                    definition=self.config.definition(model_id, data=self.source.name),
                    model_id=model_id,
                    start=start,
                    end=when,
                    epochs=self.config.retrain_epochs,
                    seed=derive_seed(self.seed, model_id, day, "retrain"),
                )
            except DataError as exc:  # e.g. a specialist whose regime is absent from the window
                records.append(
                    PolicyUpdate(
                        policy=self.name,
                        model_id=model_id,
                        day=day,
                        date=when,
                        kind="retrain",
                        decision="failed",
                        reason=str(exc),
                        duration_s=0.0,
                    )
                )
                continue
            self._refresh(model_id)
            records.append(
                PolicyUpdate(
                    policy=self.name,
                    model_id=model_id,
                    day=day,
                    date=when,
                    kind="retrain",
                    decision="promoted",
                    reason="full_retrain",
                    duration_s=result.duration_s,
                )
            )
        return records


_CLASSES = {
    "static": Policy,
    "finetune": UpdatePolicy,
    "ewc": UpdatePolicy,
    "ewc_challenger": UpdatePolicy,
    "ewc_drift": DriftPolicy,
    "retrain": RetrainPolicy,
    "warm_start": UpdatePolicy,
}


def make_policy(name: str, **kwargs) -> Policy:
    """Build the policy called ``name`` (see :class:`Policy` for the arguments)."""
    return _CLASSES[name](name, **kwargs)
