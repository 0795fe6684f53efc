from __future__ import annotations

import math

import numpy as np
import pytest

from online_learning.update.stability_checker import StabilityGate, sharpe_ratio


def test_sharpe_is_annualised_mean_over_std():
    returns = np.array([0.01, 0.02, -0.01, 0.0, 0.015])
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert sharpe_ratio(returns) == pytest.approx(expected)


def test_sharpe_of_non_finite_or_tiny_samples_is_nan():
    assert math.isnan(sharpe_ratio(np.array([0.01])))
    assert math.isnan(sharpe_ratio(np.array([0.01, np.nan, 0.02])))


@pytest.mark.parametrize(
    ("pre", "post", "passed"),
    [
        (2.0, 1.91, True),  # kept 95.5 %
        (2.0, 1.89, False),  # kept 94.5 %: the seed's rule rejects it
        (1.0, 3.0, True),
    ],
)
def test_positive_sharpe_follows_the_seed_ratio_rule(pre, post, passed):
    assert StabilityGate(min_sharpe_threshold=0.95).decide(pre, post)[0] is passed
    assert (post / pre >= 0.95) is passed


def test_negative_pre_sharpe_still_rejects_a_worse_model():
    gate = StabilityGate(min_sharpe_threshold=0.95)
    # The seed's ratio would accept this: -1.5 / -1.0 = 1.5 >= 0.95.
    assert -1.5 / -1.0 >= 0.95
    passed, degradation = gate.decide(-1.0, -1.5)
    assert passed is False
    assert degradation == pytest.approx(50.0)
    assert gate.decide(-1.0, -0.2)[0] is True
    assert gate.decide(-1.0, -1.04)[0] is True  # within 5 % of |pre|


def test_zero_pre_sharpe_uses_the_floor():
    gate = StabilityGate(min_sharpe_threshold=0.95, sharpe_floor=0.5)
    assert gate.decide(0.0, -0.02)[0] is True  # within 5 % of the 0.5 floor
    assert gate.decide(0.0, -0.03)[0] is False
    assert gate.decide(0.0, 0.3)[0] is True


def test_non_finite_returns_never_pass():
    gate = StabilityGate()
    good = np.linspace(-0.01, 0.02, 30)
    bad = good.copy()
    bad[3] = np.nan
    report = gate.evaluate(pre_returns=good, post_returns=bad)
    assert not report.passed
    assert report.reason == "non_finite"
    assert gate.decide(math.nan, 1.0)[0] is False


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
