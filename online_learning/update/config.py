"""The settings of an incremental update, declared once.

:class:`UpdateSettings` is the one declaration of what an update may be told: its fields,
defaults, descriptions and rules. Everything that takes update settings is built from it: the
``update`` and ``backtest`` command-line options, the flows' parameters, the update job and the
body of ``POST /api/v1/models/online-update``, and the backtest's configuration. A new setting
is a new field here and its use in the update path; nothing else repeats it.

The field names and defaults follow the original update script that teams already run
(``model_id``, ``data_window``, ``learning_rate``, ``ewc_lambda``, ``stability_check``,
``min_sharpe_threshold``); the remaining fields make its implicit choices explicit. Where an
interface names a setting differently, :data:`PUBLIC_NAMES` says so (the window is
``data_window_days`` on the command line, in the flows and in the API).
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import typing
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from online_learning.errors import ConfigError
from online_learning.execution import (
    DEFAULT_COST_BPS,
    DEFAULT_EXECUTION,
    MAX_COST_BPS,
    validate_execution,
)

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_EWC_LAMBDA",
    "DEFAULT_LEARNING_RATE",
    "MAX_WINDOW_DAYS",
    "MIN_WINDOW_DAYS",
    "PRESETS",
    "PUBLIC_NAMES",
    "IncrementalUpdateConfig",
    "UpdateOverrides",
    "UpdateSettings",
    "optional",
    "public_name",
    "validate_model_id",
    "with_setting_parameters",
]

MIN_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 90
MAX_LEARNING_RATE = 1e6
#: Measured defaults of an update (chosen on tuning seeds, see ``docs/backtest.md``).
DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_EWC_LAMBDA = 1.0
DEFAULT_EPOCHS = 5
#: Named settings. ``conservative`` is the seed's original update: at this learning rate Adam
#: moves each weight by about 1e-5 per step, so the model barely changes (the measured change
#: of ``p_up`` is in ``docs/backtest.md``).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        "learning_rate": DEFAULT_LEARNING_RATE,
        "ewc_lambda": DEFAULT_EWC_LAMBDA,
        "epochs": DEFAULT_EPOCHS,
    },
    "conservative": {"learning_rate": 1e-5, "ewc_lambda": 1000.0, "epochs": 10},
}
#: Settings whose name differs outside the library (command line, flows, API).
PUBLIC_NAMES: dict[str, str] = {"data_window": "data_window_days"}
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")

Integer = Annotated[int, Strict()]
Boolean = Annotated[bool, Strict()]
Execution = Literal["auto", "next-open", "next-close", "same-close"]


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return value


def validate_model_id(model_id: str) -> str:
    """Return ``model_id`` if it is a valid registry name, else raise :class:`ConfigError`.

    Examples
    --------
    >>> validate_model_id("bull_specialist")
    'bull_specialist'
    """
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise ConfigError(
            f"model_id must be 1-100 characters of letters, digits, '_', '-' or '.', "
            f"starting with a letter or digit; got {model_id!r}"
        )
    return model_id


def _message(exc: ValidationError) -> str:
    """The first problem of ``exc`` in the library's words: ``<setting> must ..., got ...``."""
    error = exc.errors(include_url=False)[0]
    name = ".".join(str(part) for part in error["loc"]) or "update settings"
    value = error.get("input")
    kind = error["type"]
    if "error" in error.get("ctx", {}):  # a rule of a validator, already in our words
        return str(error["ctx"]["error"])
    if kind == "extra_forbidden":
        return f"unknown update setting {name!r}"
    if kind == "finite_number":
        return f"{name} must be finite, got {value!r}"
    if kind in _BOUNDS and name in UpdateSettings.model_fields:
        return f"{name} must be {_range(UpdateSettings.model_fields[name])}, got {value!r}"
    if kind.startswith("int"):
        return f"{name} must be an integer, got {value!r}"
    if kind.startswith("bool"):
        return f"{name} must be true or false, got {value!r}"
    if kind.startswith("float"):
        return f"{name} must be a number, got {value!r}"
    return f"{name}: {error['msg']}, got {value!r}"


_BOUNDS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def _range(field: FieldInfo) -> str:
    """A field's allowed range in words: ``between 30 and 90 trading days``, ``in (0, 1]``,
    ``>= 0``, ``a positive integer``."""
    bounds = {name: getattr(m, name) for m in field.metadata
              for name in ("ge", "gt", "le", "lt") if hasattr(m, name)}  # fmt: skip
    unit = f" {field.json_schema_extra['unit']}" if field.json_schema_extra else ""
    low = next(((k, v) for k, v in bounds.items() if k in ("ge", "gt")), None)
    high = next(((k, v) for k, v in bounds.items() if k in ("le", "lt")), None)
    if low == ("ge", 1) and high is None and field.annotation is int:
        return "a positive integer"
    if low and high:
        if low[0] == "ge" and high[0] == "le":
            return f"between {low[1]:g} and {high[1]:g}{unit}"
        left, right = "[" if low[0] == "ge" else "(", "]" if high[0] == "le" else ")"
        return f"in {left}{low[1]:g}, {high[1]:g}{right}"
    sign = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    kind, bound = low or high
    return f"{sign[kind]} {bound:g}{unit}"


class _Declared(BaseModel):
    """Frozen, unknown keys refused, and a rule broken is a :class:`ConfigError` that names
    the setting (the constructor's; pydantic's own validation entry points raise
    ``ValidationError`` with the same message inside)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_message(exc)) from None


class UpdateSettings(_Declared):
    """How an incremental update trains and judges its candidate (see the module doc).

    Examples
    --------
    >>> UpdateSettings().data_window
    60
    >>> UpdateSettings(data_window=14)
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: data_window must be between 30 and 90 trading days, got 14
    >>> UpdateSettings.preset("conservative").learning_rate
    1e-05
    """

    data_window: Integer = Field(
        60,
        ge=MIN_WINDOW_DAYS,
        le=MAX_WINDOW_DAYS,
        json_schema_extra={"unit": "trading days"},
        description="Trading days in the sliding window, 30 to 90 inclusive. The last "
        "validation_days of them are held out for the stability gate; the rest are trained on.",
    )
    learning_rate: float = Field(
        DEFAULT_LEARNING_RATE,
        gt=0,
        # Far above any sane rate, and Adam's first step overflows float32 beyond ~1e37.
        le=MAX_LEARNING_RATE,
        allow_inf_nan=False,
        description="Adam learning rate, > 0 (measured default, see docs/backtest.md; the "
        "seed's 1e-5 is the 'conservative' preset).",
    )
    ewc_lambda: float = Field(
        DEFAULT_EWC_LAMBDA,
        ge=0,
        allow_inf_nan=False,
        description="Strength of the EWC penalty, >= 0 (0 is plain fine-tuning), in units of "
        "one window: lambda 1 holds the old weights as firmly as one more window of data would.",
    )
    stability_check: Boolean = Field(
        True,
        description="Run the stability gate. Inconsistent rows, suspect prices, a diverged "
        "loss and non-finite values are rejected even when this is off.",
    )
    min_sharpe_threshold: float = Field(
        0.95,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="Sets the gate's tolerated loss, (1 - t) * max(|S_pre|, sharpe_floor) of "
        "annualised Sharpe.",
    )
    validation_days: Integer = Field(
        10,
        ge=1,
        description="At most this many trading days at the end of the window are held out for "
        "the gate; only days no earlier decision judged count.",
    )
    min_validation_days: Integer = Field(
        5,
        ge=2,
        description="Fewer new validation days than this and the update waits: nothing is "
        "trained and the champion stays (awaiting_validation_days).",
    )
    gate_confidence: float = Field(
        0.95,
        ge=0.5,
        lt=1,
        allow_inf_nan=False,
        description="The gate rejects a candidate worse than the champion with this "
        "confidence (one-sided paired test of daily net returns).",
    )
    execution: Execution = Field(
        DEFAULT_EXECUTION,
        description="Execution timing the gate prices positions at: auto (next open when the "
        "data has opens, else next close), next-open, next-close, or same-close (research "
        "only: trades at the close it has seen).",
    )
    cost_bps: float = Field(
        DEFAULT_COST_BPS,
        ge=0,
        le=MAX_COST_BPS,
        description="Trading cost per unit of position traded, in basis points.",
    )
    epochs: Integer = Field(
        DEFAULT_EPOCHS, ge=1, description="Passes over the window's training days."
    )
    batch_size: Integer = Field(32, ge=1, description="Training batch size.")
    fisher_decay: float = Field(
        0.5,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="What is left of the accumulated Fisher after one window's worth of new "
        "days, in (0, 1]; the sum stays near 1 / -ln(decay) windows' Fisher.",
    )
    sharpe_floor: float = Field(
        0.5,
        gt=0,
        allow_inf_nan=False,
        description="Annualised Sharpe below which the gate's tolerance stops shrinking with "
        "the champion's Sharpe.",
    )
    min_validation_samples: Integer = Field(
        5,
        ge=1,
        description="Validation rows (symbol-days) below which the gate refuses to promote.",
    )
    min_train_samples: Integer = Field(
        20, ge=1, description="Training rows below which the update is not attempted."
    )
    max_train_loss_increase: float = Field(
        0.01,
        ge=0,
        allow_inf_nan=False,
        description="A candidate whose loss on its own training rows ends more than this above "
        "the champion's has diverged (training_diverged).",
    )
    max_weight_change: float = Field(
        1.0,
        gt=0,
        allow_inf_nan=False,
        description="Largest accepted ||theta_new - theta_old|| / ||theta_old||; beyond it the "
        "candidate is another model, not an increment (update_too_large). Measured: clean "
        "updates 0.07-0.53, a learning rate 1000x too high 76-347.",
    )
    challenger_period: Boolean = Field(
        False,
        description="A candidate that passes the gate becomes the model's challenger instead "
        "of its champion, and is promoted only when an anytime-valid sequential test on the "
        "paired daily net returns of the days after finds it better (see docs/updates.md).",
    )
    challenger_horizon_days: Integer = Field(
        60,
        ge=10,
        le=250,
        json_schema_extra={"unit": "trading days"},
        description="Trading days after which an undecided challenger is retired "
        "(challenger_inconclusive).",
    )
    challenger_min_days: Integer = Field(
        10,
        ge=3,
        json_schema_extra={"unit": "trading days"},
        description="Trading days of a challenger period before the test may decide (its "
        "long-run variance needs some).",
    )
    challenger_confidence: float = Field(
        0.95,
        ge=0.5,
        lt=1,
        allow_inf_nan=False,
        description="Confidence of the challenger's sequential test: a challenger no better "
        "than its champion is promoted with probability at most 1 - confidence.",
    )
    challenger_margin: float = Field(
        0.0,
        ge=0,
        le=5,
        allow_inf_nan=False,
        description="Annualised Sharpe of the champion's book a challenger may give up and "
        "still be promoted; 0 (default) promotes only a challenger shown to be better.",
    )

    #: Names of the settings, in declaration order (the fields of subclasses excluded).
    NAMES: ClassVar[tuple[str, ...]]

    @field_validator("execution", mode="before")
    @classmethod
    def _execution(cls, value: object) -> object:
        return validate_execution(value)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _rules(self) -> UpdateSettings:
        """The rules between settings (each setting's own range is on its field)."""
        if self.min_validation_days > self.validation_days:
            raise ConfigError(
                f"min_validation_days ({self.min_validation_days}) must be between 2 and "
                f"validation_days ({self.validation_days})"
            )
        if self.challenger_min_days > self.challenger_horizon_days:
            raise ConfigError(
                f"challenger_min_days ({self.challenger_min_days}) must be at most "
                f"challenger_horizon_days ({self.challenger_horizon_days})"
            )
        if self.validation_days > self.data_window // 2:
            raise ConfigError(
                f"validation_days ({self.validation_days}) must be at most half of "
                f"data_window ({self.data_window})"
            )
        return self

    @classmethod
    def preset(cls, name: str, **fields: Any) -> UpdateSettings:
        """The settings of a named preset of :data:`PRESETS`; ``fields`` win."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **fields})

    def settings(self) -> dict[str, Any]:
        """The settings alone, by name (what :meth:`replace` and the overrides take)."""
        return {name: getattr(self, name) for name in UpdateSettings.NAMES}

    def replace(self, **changes: Any) -> UpdateSettings:
        """A validated copy with ``changes`` (None values are ignored: "keep this one").

        Examples
        --------
        >>> UpdateSettings().replace(epochs=3, learning_rate=None).epochs
        3
        """
        given = {k: v for k, v in changes.items() if v is not None}
        return type(self)(**{**self.model_dump(), **given})


UpdateSettings.NAMES = tuple(UpdateSettings.model_fields)


def optional(field: FieldInfo) -> Any:
    """The type of a setting with its constraints, or None (an override not given)."""
    if not field.metadata:
        return field.annotation | None
    return Annotated[(field.annotation, *field.metadata)] | None


#: Every setting optional (None: keep the configured or default value): what the command
#: line, the flows and the API's update request take. Types are checked here; the rules when
#: the overrides are applied (:meth:`UpdateSettings.replace`).
UpdateOverrides: type[BaseModel] = create_model(
    "UpdateOverrides",
    __config__=ConfigDict(frozen=True, extra="forbid"),
    **{
        name: (optional(field), Field(None, description=field.description))
        for name, field in UpdateSettings.model_fields.items()
    },
)


class IncrementalUpdateConfig(UpdateSettings):
    """One incremental update of one model: its settings and where it stands.

    ``model_id`` is the registered model; ``as_of`` the last day of data the update may use
    (None: the latest the source has); ``judged_through`` the last validation day of the
    model's previous gate decision, whose days are not judged again (None: no earlier decision;
    the recorded path looks it up in the metrics store, the backtest keeps it per model);
    ``seed`` seeds batch order and any randomness of training.

    Examples
    --------
    >>> IncrementalUpdateConfig(model_id="bull_specialist").data_window
    60
    >>> IncrementalUpdateConfig(model_id="bull_specialist", data_window=14)
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: data_window must be between 30 and 90 trading days, got 14
    """

    model_id: str
    judged_through: date | None = None
    as_of: date | None = None
    seed: Integer = 0

    @field_validator("model_id", mode="before")
    @classmethod
    def _model_id(cls, value: object) -> object:
        return validate_model_id(value)  # type: ignore[arg-type]

    @field_validator("as_of", "judged_through", mode="before")
    @classmethod
    def _date(cls, value: object, info: Any) -> object:
        if value is not None and not isinstance(value, date):
            raise ConfigError(f"{info.field_name} must be a date or None, got {value!r}")
        return value

    @classmethod
    def of(
        cls, model_id: str, settings: UpdateSettings | Mapping[str, Any] | None = None, **context
    ) -> IncrementalUpdateConfig:
        """The config of ``model_id`` with ``settings`` and ``context`` (``as_of``,
        ``judged_through``, ``seed``)."""
        values = settings.settings() if isinstance(settings, UpdateSettings) else settings or {}
        return cls(model_id=model_id, **values, **context)

    @property
    def update_settings(self) -> UpdateSettings:
        """The settings alone."""
        return UpdateSettings(**self.settings())

    def to_params(self) -> dict[str, Any]:
        """Flat, string-friendly view for logging as run parameters."""
        return self.model_dump(mode="json")


def public_name(name: str) -> str:
    """The name of setting ``name`` on the command line, in the flows and in the API."""
    return PUBLIC_NAMES.get(name, name)


def with_setting_parameters(
    func: Callable[..., Any], parameter: Callable[[str, FieldInfo], inspect.Parameter]
) -> Callable[..., Any]:
    """``func`` with one keyword parameter per update setting, as adapters declare them.

    ``parameter(public_name, field)`` builds each (its annotation, default and help are the
    adapter's: a Typer option, a Prefect flow parameter). ``func`` must take ``overrides``: it
    receives the settings' values in it, by setting name, None where none was given. The
    command line and the flows are built this way, so a new setting reaches both unwritten.

    Examples
    --------
    >>> def run(model_id: str, overrides: dict) -> dict:
    ...     return {k: v for k, v in overrides.items() if v is not None}
    >>> run = with_setting_parameters(run, lambda name, field: inspect.Parameter(
    ...     name, inspect.Parameter.KEYWORD_ONLY, default=None))
    >>> "data_window_days" in inspect.signature(run).parameters
    True
    >>> run("m", data_window_days=45, epochs=3)
    {'data_window': 45, 'epochs': 3}
    """
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in signature.parameters.values() if p.name != "overrides"]  # fmt: skip
    added = [parameter(public_name(name), UpdateSettings.model_fields[name])
             for name in UpdateSettings.NAMES]  # fmt: skip

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        overrides = {name: kwargs.pop(public_name(name), None) for name in UpdateSettings.NAMES}
        return func(*args, **kwargs, overrides=overrides)

    del wrapper.__wrapped__  # the signature below is the whole truth
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*own, *added], return_annotation=hints.get("return", signature.empty)
    )
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    if "return" in hints:
        wrapper.__annotations__["return"] = hints["return"]
    return wrapper
