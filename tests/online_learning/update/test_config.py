from __future__ import annotations

import math

import pytest

from online_learning.errors import ConfigError
from online_learning.update.config import (
    DEFAULT_EPOCHS,
    DEFAULT_EWC_LAMBDA,
    DEFAULT_LEARNING_RATE,
    PRESETS,
    IncrementalUpdateConfig,
)


def test_defaults_are_the_measured_defaults_and_the_seed_keeps_a_preset():
    config = IncrementalUpdateConfig(model_id="bull_specialist")
    assert (config.data_window, config.learning_rate, config.ewc_lambda, config.epochs) == (
        60,
        DEFAULT_LEARNING_RATE,
        DEFAULT_EWC_LAMBDA,
        DEFAULT_EPOCHS,
    )
    assert config.stability_check is True
    assert config.min_sharpe_threshold == 0.95
    assert (config.execution, config.cost_bps) == ("auto", 5.0)
    seed = IncrementalUpdateConfig.preset("conservative", model_id="m")
    assert (seed.learning_rate, seed.ewc_lambda, seed.epochs) == (1e-5, 1000.0, 10)
    assert IncrementalUpdateConfig.preset("conservative", model_id="m", epochs=3).epochs == 3
    assert set(PRESETS) == {"default", "conservative"}
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        IncrementalUpdateConfig.preset("fast", model_id="m")


@pytest.mark.parametrize("window", [30, 45, 90])
def test_window_bounds_are_inclusive(window):
    assert IncrementalUpdateConfig(model_id="m", data_window=window).data_window == window


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("data_window", 29, "between 30 and 90"),
        ("data_window", 91, "between 30 and 90"),
        ("data_window", 60.5, "integer"),
        ("learning_rate", 0.0, r"learning_rate must be in \(0, 1e\+06\]"),
        ("learning_rate", -1e-5, r"learning_rate must be in \(0, 1e\+06\]"),
        ("learning_rate", 1e38, r"learning_rate must be in \(0, 1e\+06\]"),
        ("max_train_loss_increase", -0.1, "max_train_loss_increase must be >= 0"),
        ("max_weight_change", 0.0, "max_weight_change must be > 0"),
        ("learning_rate", math.nan, "learning_rate must be finite"),
        ("ewc_lambda", -1.0, "ewc_lambda must be >= 0"),
        ("ewc_lambda", math.inf, "ewc_lambda must be finite"),
        ("min_sharpe_threshold", 1.5, "min_sharpe_threshold"),
        ("min_sharpe_threshold", 0.0, "min_sharpe_threshold"),
        ("fisher_decay", 0.0, "fisher_decay"),
        ("validation_days", 0, "validation_days"),
        ("validation_days", 40, "at most half"),
        ("epochs", 0, "epochs"),
        ("execution", "close", "execution must be one of auto, next-open, next-close"),
        ("cost_bps", -1.0, "cost_bps must be between 0 and 10000"),
        ("cost_bps", math.nan, "cost_bps must be between"),
        ("gate_confidence", 1.0, r"gate_confidence must be in \[0.5, 1\)"),
        ("min_validation_days", 1, "min_validation_days"),
        ("min_validation_days", 11, "min_validation_days"),
        ("judged_through", "2024-01-02", "judged_through must be a date"),
    ],
)
def test_rejects_out_of_range_values(field, value, message):
    with pytest.raises(ConfigError, match=message):
        IncrementalUpdateConfig(model_id="m", **{field: value})


@pytest.mark.parametrize("model_id", ["", "has space", "../etc", "-leading", "x" * 101])
def test_rejects_bad_model_ids(model_id):
    with pytest.raises(ConfigError, match="model_id"):
        IncrementalUpdateConfig(model_id=model_id)


def test_config_errors_are_value_errors_for_generic_callers():
    with pytest.raises(ValueError):
        IncrementalUpdateConfig(model_id="m", ewc_lambda=-1)
