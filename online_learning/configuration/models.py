"""One maintained model as a team configures it: a ``[models.<id>]`` table.

:class:`ModelConfig` declares the keys of a table: what the model is (``network`` or
``estimator`` with its parameters), what it sees (``features``, ``sequence_length``), what it
predicts (``target``, ``horizon_days``), on which data (``data``, ``symbols``, ``regime``), and
how it is maintained (``window_days``, ``policy`` and any update setting of
:class:`~online_learning.update.config.UpdateSettings` that overrides the defaults).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, model_validator

from online_learning.entry_points import is_entry_point
from online_learning.features import FEATURE_COLUMNS
from online_learning.models.definition import BUILTIN, ModelDefinition
from online_learning.update.config import (
    MAX_WINDOW_DAYS,
    MIN_WINDOW_DAYS,
    UpdateSettings,
    optional,
)
from online_learning.urls import redact

__all__ = ["BUILTIN", "POLICIES", "ModelConfig", "Policy", "Target"]

Target = Literal["direction", "return"]
Policy = Literal["ewc", "finetune", "retrain", "warm_start"]
POLICIES: tuple[str, ...] = ("ewc", "finetune", "retrain", "warm_start")
Regime = Literal["bull", "bear", "sideways"]


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    network: str | None = Field(
        None,
        description="'builtin' or 'package.module:callable', called as callable(n_features, "
        "**network_params) and returning a torch.nn.Module.",
    )
    network_params: dict[str, Any] = Field(default_factory=dict)
    estimator: str | None = Field(
        None,
        description="'package.module:callable' of a scikit-learn-API estimator (instead of "
        "network), called as callable(**estimator_params).",
    )
    estimator_params: dict[str, Any] = Field(default_factory=dict)
    features: str = Field(
        BUILTIN,
        description="'builtin' (the platform's ten features) or 'package.module:callable', "
        "called with the long price frame and returning one float column per feature, indexed "
        "by (date, symbol).",
    )
    sequence_length: int | None = Field(
        None,
        ge=2,
        le=252,
        description="Days of features the network sees at once: it gets (batch, "
        "sequence_length, n_features) instead of rows (batch, n_features).",
    )
    target: Target = Field(
        "direction",
        description="'direction' (two logits: down, up) or 'return' (one output: the log "
        "return over horizon_days).",
    )
    horizon_days: int = Field(1, ge=1, le=63, description="Trading days the target looks ahead.")
    data: str = Field(
        "synthetic",
        description="The model's data source: a built-in name, a CSV/Parquet path, a SQL URL "
        "with ?table= or ?query=, or 'package.module:Class'.",
    )
    symbols: list[str] | None = Field(
        None, min_length=1, description="The symbols the model trades (default: all)."
    )
    regime: Regime | None = Field(
        None, description="Train and trade only rows of this causal regime (the specialists)."
    )
    window_days: int = Field(
        60,
        ge=MIN_WINDOW_DAYS,
        le=MAX_WINDOW_DAYS,
        description="Trading days of an update's sliding window.",
    )
    policy: Policy = Field(
        "ewc",
        description="How updates change the model: ewc (fine-tuning held by the EWC "
        "penalty), finetune (no penalty), retrain (from scratch on the window; estimators), "
        "warm_start (continue from the champion; estimators).",
    )

    _origin: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _kind(self) -> _Table:
        if (self.network is None) == (self.estimator is None):
            what = "both" if self.network else "neither"
            raise ValueError(f"give network or estimator, not {what}")
        for key in ("network", "estimator", "features"):
            value = getattr(self, key)
            if value is not None and value != BUILTIN and not is_entry_point(value):
                raise ValueError(
                    f"{key} must be 'builtin' or an entry point 'package.module:callable', "
                    f"got {value!r}"
                )
        if self.estimator == BUILTIN:
            raise ValueError("estimator must be an entry point 'package.module:callable'")
        if self.network is not None and self.policy == "warm_start":
            raise ValueError(
                "policy 'warm_start' is for estimators; a network: ewc, finetune or retrain"
            )
        if self.estimator is not None and self.policy in ("ewc", "finetune"):
            raise ValueError(
                f"policy {self.policy!r} needs a network; an estimator: retrain or warm_start"
            )
        if self.estimator is not None and self.sequence_length is not None:
            raise ValueError("sequence_length is for networks; an estimator sees rows")
        if self.network == BUILTIN and self.target != "direction":
            raise ValueError("the builtin network predicts a direction; target must be 'direction'")
        return self

    @property
    def origin(self) -> str:
        """Where the table came from, ``"<file>: [models.<id>]"`` (for messages)."""
        return self._origin

    def definition(self, model_id: str) -> ModelDefinition:
        """The definition the model starts with (its feature names are known once its feature
        function has run: :meth:`ModelDefinition.with_features`)."""
        network = self.network is not None
        return ModelDefinition(
            model_id=model_id,
            kind="network" if network else "estimator",
            entry=self.network if network else self.estimator,
            params=dict(self.network_params if network else self.estimator_params),
            features=self.features,
            feature_names=FEATURE_COLUMNS if self.features == BUILTIN else (),
            sequence_length=self.sequence_length,
            target=self.target,
            horizon_days=self.horizon_days,
            data=redact(self.data),
            symbols=tuple(self.symbols) if self.symbols else None,
            regime=self.regime,
            policy=self.policy,
        )

    def update_settings(self) -> UpdateSettings:
        """The model's update settings: the defaults, its window and its overrides (a
        ``finetune`` policy is EWC without the penalty: ``ewc_lambda`` 0)."""
        overrides = {name: getattr(self, name) for name in _OVERRIDABLE}
        if self.policy == "finetune":
            overrides["ewc_lambda"] = 0.0
        return UpdateSettings().replace(data_window=self.window_days, **overrides)

    def with_data(self, data: str) -> _Table:
        """The same table on another data source (an explicit ``--data``)."""
        return self.model_copy(update={"data": data})


#: Update settings a table may override (the window is ``window_days``).
_OVERRIDABLE = tuple(name for name in UpdateSettings.NAMES if name != "data_window")

ModelConfig: type[_Table] = create_model(
    "ModelConfig",
    __base__=_Table,
    __doc__=__doc__,
    **{name: (optional(UpdateSettings.model_fields[name]), Field(None)) for name in _OVERRIDABLE},
)
