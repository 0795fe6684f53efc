"""Configuration of one incremental update.

The field names and defaults follow the original update script that teams already run
(``model_id``, ``data_window``, ``learning_rate``, ``ewc_lambda``, ``stability_check``,
``min_sharpe_threshold``); the remaining fields make its implicit choices explicit.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from online_learning.errors import ConfigError
from online_learning.execution import (
    DEFAULT_COST_BPS,
    DEFAULT_EXECUTION,
    validate_cost_bps,
    validate_execution,
)

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
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def _finite(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return number


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


@dataclass(frozen=True)
class IncrementalUpdateConfig:
    """Everything one incremental update of one model needs to know.

    Parameters
    ----------
    model_id : str
        Registered model name, e.g. ``"bull_specialist"``.
    data_window : int, default 60
        Trading days in the sliding window, 30 to 90 inclusive. The last ``validation_days``
        of them are held out for the stability gate; the rest are trained on.
    learning_rate : float, default DEFAULT_LEARNING_RATE
        Adam learning rate, > 0 (measured default, see ``docs/backtest.md``; the seed's 1e-5
        is the ``conservative`` preset of :data:`PRESETS`).
    ewc_lambda : float, default DEFAULT_EWC_LAMBDA
        Strength of the EWC penalty, >= 0 (0 is plain fine-tuning). The task loss is a mean
        over the window's rows and the Fisher a mean over the rows of the windows it
        remembers, so lambda is the weight of that memory in units of one window: lambda 1
        holds the old weights as firmly as one more window of data would.
    stability_check : bool, default True
        Run the stability gate. Inconsistent training rows (see
        :mod:`online_learning.update.integrity`), suspect prices (see
        :mod:`online_learning.update.price_checks`), a diverged training loss and non-finite
        losses, weights or Fisher values are rejected even when this is False.
    min_sharpe_threshold : float, default 0.95
        Sets the gate's tolerated loss, ``(1 - t) * max(|S_pre|, sharpe_floor)`` of
        annualised Sharpe (see :mod:`online_learning.update.gate`).
    validation_days : int, default 10
        At most this many trading days at the end of the window are held out for the gate;
        only days that no earlier decision judged (after ``judged_through``) count.
    min_validation_days : int, default 5
        Fewer new validation days than this and the update waits: it is not attempted and
        the champion stays (``awaiting_validation_days``).
    gate_confidence : float, default 0.95
        The gate rejects a candidate that is worse than the champion with this confidence
        (one-sided paired test of daily net returns).
    execution : str, default "auto"
        Execution timing of the positions the gate prices: ``auto`` (next open when the data
        has opens, else next close), ``next-open``, ``next-close`` or ``same-close``
        (research only; see :mod:`online_learning.execution`).
    cost_bps : float, default 5.0
        Trading cost per unit of position traded, in basis points.
    judged_through : datetime.date or None
        Last validation day of this model's previous gate decision; its days are not judged
        again. ``None``: no earlier decision (the recorded path looks it up in the metrics
        store, the backtest keeps it per model).
    epochs : int, default DEFAULT_EPOCHS
        Passes over the training part of the window.
    batch_size : int, default 32
    fisher_decay : float, default 0.5
        What is left of the accumulated Fisher after one window's worth of new days, in
        (0, 1]. An update whose training days are a share ``w`` new multiplies the old Fisher
        by ``fisher_decay ** w`` and adds ``w`` times its own, so on any fixed schedule the
        sum stays near ``1 / -ln(fisher_decay)`` (1.44 at 0.5) times one window's Fisher.
    sharpe_floor : float, default 0.5
        Annualised Sharpe below which the gate's tolerance stops shrinking with the old Sharpe.
    min_validation_samples : int, default 5
        Validation rows (symbol-days) below which the gate refuses to promote.
    min_train_samples : int, default 20
        Training samples below which the update is not attempted.
    max_train_loss_increase : float, default 0.01
        A candidate whose cross-entropy on its own training rows ends more than this above the
        champion's on the same rows has diverged and is rejected (``training_diverged``).
    max_weight_change : float, default 1.0
        Largest accepted size of an update, ``||theta_new - theta_old|| / ||theta_old||``;
        beyond it the candidate is another model, not an increment (``update_too_large``).
        Measured in the backtest: clean updates 0.07-0.53, a learning rate 1000x too high
        76-347.
    as_of : datetime.date or None
        Last day of data the update may use; ``None`` means the latest day the source has.
    seed : int, default 0
        Seeds batch order and any randomness of training.

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
    data_window: int = 60
    learning_rate: float = DEFAULT_LEARNING_RATE
    ewc_lambda: float = DEFAULT_EWC_LAMBDA
    stability_check: bool = True
    min_sharpe_threshold: float = 0.95
    validation_days: int = 10
    min_validation_days: int = 5
    gate_confidence: float = 0.95
    execution: str = DEFAULT_EXECUTION
    cost_bps: float = DEFAULT_COST_BPS
    judged_through: date | None = None
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 32
    fisher_decay: float = 0.5
    sharpe_floor: float = 0.5
    min_validation_samples: int = 5
    min_train_samples: int = 20
    max_train_loss_increase: float = 0.01
    max_weight_change: float = 1.0
    as_of: date | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        validate_model_id(self.model_id)
        if isinstance(self.data_window, bool) or not isinstance(self.data_window, int):
            raise ConfigError(f"data_window must be an integer, got {self.data_window!r}")
        if not MIN_WINDOW_DAYS <= self.data_window <= MAX_WINDOW_DAYS:
            raise ConfigError(
                f"data_window must be between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS} "
                f"trading days, got {self.data_window}"
            )
        if not 0 < _finite("learning_rate", self.learning_rate) <= MAX_LEARNING_RATE:
            # Far above any sane rate, and Adam's first step overflows float32 beyond ~1e37.
            raise ConfigError(
                f"learning_rate must be in (0, {MAX_LEARNING_RATE:g}], got {self.learning_rate}"
            )
        if _finite("ewc_lambda", self.ewc_lambda) < 0:
            raise ConfigError(f"ewc_lambda must be >= 0, got {self.ewc_lambda}")
        if not 0 < _finite("min_sharpe_threshold", self.min_sharpe_threshold) <= 1:
            raise ConfigError(
                f"min_sharpe_threshold must be in (0, 1], got {self.min_sharpe_threshold}"
            )
        if not 0 < _finite("fisher_decay", self.fisher_decay) <= 1:
            raise ConfigError(f"fisher_decay must be in (0, 1], got {self.fisher_decay}")
        if _finite("sharpe_floor", self.sharpe_floor) <= 0:
            raise ConfigError(f"sharpe_floor must be > 0, got {self.sharpe_floor}")
        validate_execution(self.execution)
        object.__setattr__(self, "cost_bps", validate_cost_bps(self.cost_bps))
        if not 0.5 <= _finite("gate_confidence", self.gate_confidence) < 1:
            raise ConfigError(f"gate_confidence must be in [0.5, 1), got {self.gate_confidence}")
        names = ("validation_days", "min_validation_days", "epochs", "batch_size",
                 "min_validation_samples")  # fmt: skip
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not 2 <= self.min_validation_days <= self.validation_days:
            raise ConfigError(
                f"min_validation_days ({self.min_validation_days}) must be between 2 and "
                f"validation_days ({self.validation_days})"
            )
        if self.validation_days > self.data_window // 2:
            raise ConfigError(
                f"validation_days ({self.validation_days}) must be at most half of "
                f"data_window ({self.data_window})"
            )
        if _finite("max_train_loss_increase", self.max_train_loss_increase) < 0:
            raise ConfigError(
                f"max_train_loss_increase must be >= 0, got {self.max_train_loss_increase}"
            )
        if _finite("max_weight_change", self.max_weight_change) <= 0:
            raise ConfigError(f"max_weight_change must be > 0, got {self.max_weight_change}")
        for name in ("as_of", "judged_through"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, date):
                raise ConfigError(f"{name} must be a date or None, got {value!r}")
        if not isinstance(self.min_train_samples, int) or self.min_train_samples < 1:
            raise ConfigError(
                f"min_train_samples must be a positive integer, got {self.min_train_samples!r}"
            )

    def to_params(self) -> dict[str, Any]:
        """Flat, string-friendly view for logging as run parameters."""
        params = asdict(self)
        for name in ("as_of", "judged_through"):
            value = getattr(self, name)
            params[name] = value.isoformat() if value else None
        return params

    @classmethod
    def preset(cls, name: str, **fields: Any) -> IncrementalUpdateConfig:
        """A config with the settings of a named preset of :data:`PRESETS`; ``fields`` win.

        Examples
        --------
        >>> IncrementalUpdateConfig.preset("conservative", model_id="m").learning_rate
        1e-05
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **fields})
