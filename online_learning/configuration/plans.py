"""What training or updating a model means under the configuration: its definition, its data
source and its settings, wherever the request comes from (the command line, the daily flow, a
drift adaptation, an update job).

A configured model trains and updates on its own data (``data``) with its own settings; an
explicit ``data`` (``--data``, a flow parameter) overrides it, and an update whose data or
definition does not match its champion's is then refused by the update itself. A model that is
not configured (registered some other way) updates with the default settings on the data its
champion recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from online_learning.configuration.loading import Configuration
from online_learning.errors import ConfigError
from online_learning.models.definition import ModelDefinition
from online_learning.update.config import IncrementalUpdateConfig, UpdateSettings
from online_learning.urls import redact

__all__ = ["TrainingPlan", "UpdatePlan", "training_plan", "update_plan"]

#: Where a model without a configuration or a recorded source takes its data from.
FALLBACK_DATA = "synthetic"


@dataclass(frozen=True)
class UpdatePlan:
    """One update as the configuration and the request make it: its config, its data source
    and, for a configured model, the definition its champion must have."""

    config: IncrementalUpdateConfig
    data: str
    definition: ModelDefinition | None


@dataclass(frozen=True)
class TrainingPlan:
    """A model's training from scratch: its definition, its data source, and where it was
    configured (``"<file>: [models.<id>]"``, for messages; empty when it was not)."""

    definition: ModelDefinition
    data: str
    origin: str = ""


def training_plan(
    configuration: Configuration, model_id: str, *, data: str | None = None
) -> TrainingPlan:
    """The definition a model is trained with and the data source it trains on.

    Examples
    --------
    >>> from online_learning.configuration import load_configuration
    >>> plan = training_plan(load_configuration(), "bear_specialist")
    >>> plan.definition.regime, plan.data
    ('bear', 'synthetic')
    >>> training_plan(load_configuration(), "other", data="sp500").definition.entry
    'builtin'
    """
    if model_id in configuration:
        model = configuration.model(model_id)
        source = data or model.data
        return TrainingPlan(model.with_data(source).definition(model_id), source, model.origin)
    source = data or FALLBACK_DATA
    return TrainingPlan(ModelDefinition.builtin(model_id, data=source), source)


def update_plan(
    configuration: Configuration,
    model_id: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    base: UpdateSettings | None = None,
    data: str | None = None,
    seed: int = 0,
    as_of: date | None = None,
    recorded_data: Callable[[], str | None] | None = None,
) -> UpdatePlan:
    """The update of ``model_id``: its configured settings (or ``base``, default the
    defaults) with ``overrides``, its configured data unless ``data`` says otherwise, and its
    configured definition; an unconfigured model's data is what its champion recorded
    (``recorded_data``), else ``data``, else the synthetic market.

    Examples
    --------
    >>> from online_learning.configuration import load_configuration
    >>> plan = update_plan(load_configuration(), "bull_specialist", overrides={"epochs": 3})
    >>> plan.config.epochs, plan.config.data_window, plan.data, plan.definition.regime
    (3, 60, 'synthetic', 'bull')
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if model_id in configuration:
        model = configuration.model(model_id)
        settings = model.update_settings().replace(**overrides)
        source = data or model.data
        definition = model.with_data(source).definition(model_id)
    else:
        settings = (base or UpdateSettings()).replace(**overrides)
        recorded = recorded_data() if recorded_data else None
        if data and recorded and redact(data) != recorded:
            raise ConfigError(
                f"{model_id}: the update's data does not match its champion's: the champion's "
                f"is {recorded!r}, this update's {redact(data)!r}; train a new version "
                "(online-learning train) to change the model's data"
            )
        source = data or recorded or FALLBACK_DATA
        definition = None
    config = IncrementalUpdateConfig.of(model_id, settings, seed=seed, as_of=as_of)
    return UpdatePlan(config=config, data=source, definition=definition)
