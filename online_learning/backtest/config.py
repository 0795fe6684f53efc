"""What a backtest run is asked to do: policies, schedule, method parameters, metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from online_learning.errors import ConfigError
from online_learning.models.definition import ModelDefinition
from online_learning.update.config import (
    IncrementalUpdateConfig,
    UpdateSettings,
    validate_model_id,
)

#: The policies of a network, and of an estimator (``retrain``: for a network a periodic
#: full retrain, for an estimator a refit on each scheduled update's window, gated).
NETWORK_POLICIES: tuple[str, ...] = (
    "static", "finetune", "ewc", "ewc_challenger", "ewc_drift", "retrain"
)  # fmt: skip
ESTIMATOR_POLICIES: tuple[str, ...] = ("static", "retrain", "warm_start")
#: Every policy the harness knows, in the order tables and plots show them.
POLICIES: tuple[str, ...] = tuple(dict.fromkeys(NETWORK_POLICIES + ESTIMATOR_POLICIES))
#: Policies whose models change through
#: :class:`~online_learning.update.learner.OnlineLearner`.
UPDATING_POLICIES: tuple[str, ...] = ("finetune", "ewc", "ewc_challenger", "ewc_drift")
#: Policies that watch their realised returns with drift detectors.
DRIFT_POLICIES: tuple[str, ...] = ("ewc_drift",)
#: Policies that promote through the challenger period (``ewc`` is the immediate gate on the
#: same days, whatever ``update.challenger_period`` says).
CHALLENGER_POLICIES: tuple[str, ...] = ("ewc_challenger",)
#: Model id of the default single model (not a regime specialist: it trains on every row).
DEFAULT_MODEL_ID = "backtest_model"


@dataclass(frozen=True)
class BacktestConfig:
    """Parameters of one walk-forward replay, shared by every environment and seed.

    Parameters
    ----------
    policies : tuple of str
        Subset of :data:`POLICIES` (default: every policy of a network); those of each model's
        kind (:data:`NETWORK_POLICIES`, :data:`ESTIMATOR_POLICIES`); ``retrain`` is needed for
        the degradation relative to it.
    model_ids : tuple of str
        Models each policy runs. A regime specialist (``bull_specialist``, ...) trades and
        learns only the rows of its causal regime label; any other id trades every row not
        claimed by a specialist (at most one such generic model).
    update_every : int, default 1
        Scheduled incremental updates on every ``update_every``-th trading day (1 = daily).
    update : UpdateSettings, default the product's
        The settings of every update (window, learning rate, lambda, epochs, the gate's
        parameters, execution timing and costs), as in production. ``finetune`` uses them
        with ``ewc_lambda = 0``; ``update.execution`` and ``update.cost_bps`` also price every
        return of the replay (``same-close`` is a research option only).
    drift_window : int, default 30
        Window of the extra, shorter update that a drift signal starts (``ewc_drift``).
    drift_lambda_factor : float, default 1.0
        Multiplier on ``ewc_lambda`` for that extra update: below 1 it trades memory for
        a faster adaptation once the detectors say the market changed.
    drift_cooldown : int, default 10
        Trading days after a drift-triggered update before another may start.
    drift_min_detectors : int, default 1
        Detectors that must agree for a drift signal to start an update.
    drift_warmup : int, default 20
        Returns the drift detectors see before they may signal.
    retrain_every : int, default 21
        Trading days between full retrains of the ``retrain`` policy.
    retrain_window : int, default 250
        Trading days of history a full retrain trains on.
    bootstrap_epochs, retrain_epochs : int, default 40
        Epochs of training from scratch (bootstrap and retrain).
    holdout_days : int, default 30
        Trading days before the evaluation start kept out of the bootstrap; the deployed
        model's Sharpe on them is its Sharpe at deployment.
    sharpe_window : int, default 30
        Trailing window, in trading days, of the rolling Sharpe.
    horizons : tuple of int, default (30, 90)
        Days after deployment at which degradation is reported.
    sharpe_floor : float, default 0.5
        Smallest reference Sharpe a relative degradation is divided by; below it (or for a
        negative reference) the relative number is not reported, only the difference.
    recovery_window : int, default 20
        Trading days of the rolling mean daily return by which the success metrics judge a
        policy recovered after a known regime change (learning efficiency), and of the
        pre-change level it is compared with.
    definitions : tuple of ModelDefinition, default ()
        The definition of each model of ``model_ids`` that is a team's (its network,
        features, sequence length, target, horizon, symbols); the others are the platform's
        network on its ten features.
    """

    policies: tuple[str, ...] = NETWORK_POLICIES
    model_ids: tuple[str, ...] = (DEFAULT_MODEL_ID,)
    update_every: int = 1
    update: UpdateSettings = field(default_factory=UpdateSettings)
    drift_window: int = 30
    drift_lambda_factor: float = 0.1
    drift_cooldown: int = 10
    drift_min_detectors: int = 1
    drift_warmup: int = 20
    retrain_every: int = 21
    retrain_window: int = 250
    bootstrap_epochs: int = 40
    retrain_epochs: int = 40
    holdout_days: int = 30
    sharpe_window: int = 30
    horizons: tuple[int, ...] = (30, 90)
    sharpe_floor: float = 0.5
    recovery_window: int = 20
    definitions: tuple[ModelDefinition, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        object.__setattr__(self, "model_ids", tuple(self.model_ids))
        object.__setattr__(self, "horizons", tuple(int(h) for h in self.horizons))
        unknown = [p for p in self.policies if p not in POLICIES]
        if unknown or not self.policies:
            raise ConfigError(f"unknown or no policies {unknown}; choose from {list(POLICIES)}")
        if len(set(self.policies)) != len(self.policies):
            raise ConfigError(f"policies repeat: {list(self.policies)}")
        if not self.model_ids:
            raise ConfigError("at least one model id is needed")
        for model_id in self.model_ids:
            validate_model_id(model_id)
        if not isinstance(self.update, UpdateSettings):
            raise ConfigError(f"update must be UpdateSettings, got {type(self.update).__name__}")
        for name in (
            "update_every", "drift_cooldown", "drift_min_detectors", "drift_warmup",
            "retrain_every", "bootstrap_epochs", "retrain_epochs", "holdout_days",
            "sharpe_window", "recovery_window",
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.sharpe_window < 5:
            raise ConfigError(f"sharpe_window must be at least 5 days, got {self.sharpe_window}")
        if self.retrain_window < 50:
            raise ConfigError(f"retrain_window must be at least 50 days, got {self.retrain_window}")
        if not self.horizons or min(self.horizons) < self.sharpe_window:
            raise ConfigError(
                f"horizons {list(self.horizons)} must be at least sharpe_window "
                f"({self.sharpe_window}) days"
            )
        if not (math.isfinite(self.drift_lambda_factor) and self.drift_lambda_factor >= 0):
            raise ConfigError(f"drift_lambda_factor must be >= 0, got {self.drift_lambda_factor}")
        if not (math.isfinite(self.sharpe_floor) and self.sharpe_floor > 0):
            raise ConfigError(f"sharpe_floor must be > 0, got {self.sharpe_floor}")
        object.__setattr__(self, "definitions", tuple(self.definitions))
        unknown = sorted({d.model_id for d in self.definitions} - set(self.model_ids))
        if unknown:
            raise ConfigError(f"definitions of models the backtest does not run: {unknown}")
        for definition in map(self.definition, self.model_ids):
            allowed = ESTIMATOR_POLICIES if definition.kind == "estimator" else NETWORK_POLICIES
            refused = [p for p in self.policies if p not in allowed]
            if refused:
                article = "an" if definition.kind == "estimator" else "a"
                raise ConfigError(
                    f"model {definition.model_id!r} is {article} {definition.kind}: policies "
                    f"{refused} do not apply to it; choose from {list(allowed)}"
                )
        # The drift-triggered update's window follows the product's rules too.
        self.update_config("probe", as_of=None, seed=0, policy="ewc", window=self.drift_window)

    @property
    def horizon_days(self) -> int:
        """Evaluation days the longest degradation horizon needs."""
        return max(self.horizons)

    def update_config(
        self,
        model_id: str,
        *,
        as_of,
        seed: int,
        policy: str,
        window: int | None = None,
        learning_rate_factor: float = 1.0,
        lambda_factor: float = 1.0,
        judged_through=None,
    ) -> IncrementalUpdateConfig:
        """The production update config a policy's update runs with."""
        settings = self.update.replace(
            data_window=window,
            learning_rate=self.update.learning_rate * learning_rate_factor,
            ewc_lambda=0.0 if policy == "finetune" else self.update.ewc_lambda * lambda_factor,
        )
        if policy in UPDATING_POLICIES:  # the immediate gate or the challenger period, by name
            settings = settings.model_copy(
                update={"challenger_period": policy in CHALLENGER_POLICIES}
            )
        return IncrementalUpdateConfig.of(
            model_id, settings, as_of=as_of, seed=seed, judged_through=judged_through
        )

    def definition(self, model_id: str, *, data: str | None = None) -> ModelDefinition:
        """The definition of ``model_id``: its own, else the platform's network (on ``data``)."""
        for definition in self.definitions:
            if definition.model_id == model_id:
                return definition
        return ModelDefinition.builtin(model_id, data=data or "synthetic")

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["definitions"] = [d.to_dict() for d in self.definitions]
        data["update"] = self.update.model_dump(mode="json")
        data["policies"] = list(self.policies)
        data["model_ids"] = list(self.model_ids)
        data["horizons"] = list(self.horizons)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BacktestConfig:
        """Read back :meth:`to_dict`."""
        values = dict(data)
        values["update"] = UpdateSettings(**values.get("update", {}))
        values["definitions"] = tuple(
            ModelDefinition.from_dict(d) for d in values.get("definitions", ())
        )
        return cls(**values)
