from __future__ import annotations

import math

import numpy as np
import pytest

from online_learning.update.gate import StabilityGate


def test_non_finite_returns_never_pass():
    gate = StabilityGate()
    good = np.linspace(-0.01, 0.02, 30)
    bad = good.copy()
    bad[3] = np.nan
    report = gate.evaluate(pre_returns=good, post_returns=bad)
    assert not report.passed
    assert report.reason == "non_finite"


def test_too_few_pooled_samples_keeps_the_champion():
    gate = StabilityGate(min_samples=10)
    returns = np.linspace(0.001, 0.01, 6)
    report = gate.evaluate(pre_returns=returns, post_returns=returns * 2)
    assert not report.passed
    assert report.reason == "insufficient_validation_data"


def test_identical_models_pass_and_report_a_standard_error():
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0, 0.01, 42)
    report = StabilityGate().evaluate(pre_returns=returns, post_returns=returns)
    assert report.passed
    assert report.degradation_pct == pytest.approx(0.0)
    assert report.sharpe_standard_error == pytest.approx(math.sqrt(252 / 42), rel=0.05)


def test_gate_rejects_models_scored_on_different_samples():
    with pytest.raises(ValueError, match="same validation days"):
        StabilityGate().evaluate(pre_returns=np.zeros(5), post_returns=np.zeros(6))
