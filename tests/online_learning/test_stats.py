"""The shared statistics: one Sharpe ratio, its annualisation, the HAC error, the paired test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from online_learning.stats import sharpe_ratio


def test_sharpe_is_annualised_mean_over_std():
    returns = np.array([0.01, 0.02, -0.01, 0.0, 0.015])
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert sharpe_ratio(returns) == pytest.approx(expected)


def test_sharpe_of_non_finite_or_tiny_samples_is_nan():
    assert math.isnan(sharpe_ratio(np.array([0.01])))
    assert math.isnan(sharpe_ratio(np.array([0.01, np.nan, 0.02])))
