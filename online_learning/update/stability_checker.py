"""The Sharpe stability gate: does an updated model trade at least as well as the champion?

Both models are scored on the **same validation days, which the update did not train on**.
Each model's position on a (symbol, day) is ``2 * p_up - 1`` (long when it expects a rise,
short when it expects a fall, sized by confidence), and its return is that position times the
symbol's next-day return. Returns are **pooled over symbols**: every (symbol, day) is one
sample, and the Sharpe ratio of the pooled samples is annualised with ``sqrt(252)``.

The rule
--------
With ``pre`` the champion's Sharpe, ``post`` the candidate's and ``t`` the threshold
(``min_sharpe_threshold``, 0.95 by default), the candidate passes when::

    post >= pre - (1 - t) * max(|pre|, floor)

For ``pre >= floor`` this is exactly the original rule ``post / pre >= t``. That ratio means
nothing at zero or negative ``pre``: with ``pre = -1`` a worse ``post = -1.5`` gives a ratio of
1.5 and would pass, and at ``pre = 0`` it divides by zero. The rule above allows at most
``(1 - t) * max(|pre|, floor)`` of loss whatever the sign of ``pre``, so a worse model is
rejected there too, and the floor keeps the tolerance from vanishing near zero.
``degradation_pct`` is ``100 * (pre - post) / max(|pre|, floor)``; positive means worse.

Noise
-----
Seven daily returns of one symbol give a Sharpe whose standard error is about
``sqrt(252 / 7) = 6`` annualised: the number is mostly noise. The gate copes in three ways:
it pools all symbols' validation days into one sample; it refuses to promote when the pooled
sample has fewer than ``min_samples`` returns (the champion stays); and because both models
are scored on identical samples, the comparison is paired — a candidate that barely moved
scores almost exactly like the champion, so noise alone rarely rejects a small, sound update,
while a candidate that changed a lot must show it did not get worse. The approximate standard
error of the Sharpe estimate (Lo, 2002) is reported with every decision so that a reader can
judge it; the gate errs on the side of keeping the champion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from torch import nn

TRADING_DAYS = 252


def sharpe_ratio(returns: np.ndarray, periods_per_year: int = TRADING_DAYS) -> float:
    """Annualised Sharpe ratio of per-period returns (risk-free rate 0).

    Returns 0.0 when the returns do not vary (no position taken) and NaN for fewer than two
    returns or any non-finite return.

    Examples
    --------
    >>> round(sharpe_ratio(np.array([0.01, -0.005, 0.02, 0.0])), 3)
    8.949
    >>> sharpe_ratio(np.zeros(5))
    0.0
    """
    values = np.asarray(returns, dtype=np.float64)
    if values.size < 2 or not np.isfinite(values).all():
        return math.nan
    std = values.std(ddof=1)
    if std == 0.0:
        return 0.0
    return float(values.mean() / std * math.sqrt(periods_per_year))


def sharpe_standard_error(sharpe: float, n: int, periods_per_year: int = TRADING_DAYS) -> float:
    """Approximate standard error of an annualised Sharpe estimate from ``n`` returns (Lo, 2002).

    Examples
    --------
    >>> round(sharpe_standard_error(0.0, 7), 2)
    6.0
    """
    if n < 2 or not math.isfinite(sharpe):
        return math.nan
    per_period = sharpe / math.sqrt(periods_per_year)
    return math.sqrt((1 + 0.5 * per_period**2) / n) * math.sqrt(periods_per_year)


def strategy_returns(
    model: nn.Module, frame: pd.DataFrame, feature_names: Sequence[str]
) -> np.ndarray:
    """Per (symbol, day) returns of trading ``model``'s predictions on a labelled frame."""
    features = frame.loc[:, list(feature_names)].to_numpy(dtype=np.float32)
    p_up = model.predict_proba(features)
    position = 2.0 * p_up.astype(np.float64) - 1.0
    return position * np.expm1(frame["forward_return"].to_numpy(dtype=np.float64))


@dataclass(frozen=True)
class StabilityReport:
    """The gate's decision and the numbers behind it."""

    passed: bool
    sharpe_pre: float
    sharpe_post: float
    degradation_pct: float
    n_samples: int
    sharpe_standard_error: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class StabilityGate:
    """Compare a candidate's validation Sharpe with the champion's.

    Parameters
    ----------
    min_sharpe_threshold : float, default 0.95
        Fraction of the champion's Sharpe the candidate must keep.
    sharpe_floor : float, default 0.5
        Scale below which the tolerance stops shrinking with ``|pre|``.
    min_samples : int, default 5
        Pooled validation returns below which nothing is promoted.

    Examples
    --------
    >>> gate = StabilityGate()
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(0.001, 0.01, 40)
    >>> gate.evaluate(pre_returns=old, post_returns=old).passed
    True
    >>> gate.evaluate(pre_returns=old, post_returns=-old).passed
    False
    """

    def __init__(
        self,
        min_sharpe_threshold: float = 0.95,
        sharpe_floor: float = 0.5,
        min_samples: int = 5,
    ) -> None:
        if not 0 < min_sharpe_threshold <= 1:
            raise ValueError(f"min_sharpe_threshold must be in (0, 1], got {min_sharpe_threshold}")
        if not sharpe_floor > 0:
            raise ValueError(f"sharpe_floor must be > 0, got {sharpe_floor}")
        if min_samples < 2:
            raise ValueError(f"min_samples must be >= 2, got {min_samples}")
        self.min_sharpe_threshold = min_sharpe_threshold
        self.sharpe_floor = sharpe_floor
        self.min_samples = min_samples

    def decide(self, pre: float, post: float) -> tuple[bool, float]:
        """Apply the rule to two Sharpe ratios: ``(passed, degradation_pct)``.

        Examples
        --------
        >>> gate = StabilityGate()
        >>> gate.decide(2.0, 1.95)[0], gate.decide(2.0, 1.85)[0]
        (True, False)
        >>> gate.decide(-1.0, -1.5)[0]  # worse, though -1.5 / -1.0 = 1.5 >= 0.95
        False
        >>> gate.decide(-1.0, -0.5)[0]
        True
        """
        if not (math.isfinite(pre) and math.isfinite(post)):
            return False, math.nan
        scale = max(abs(pre), self.sharpe_floor)
        degradation = 100.0 * (pre - post) / scale
        passed = post >= pre - (1.0 - self.min_sharpe_threshold) * scale
        return bool(passed), float(degradation)

    def evaluate(self, *, pre_returns: np.ndarray, post_returns: np.ndarray) -> StabilityReport:
        """Decide from the two models' returns on identical validation samples."""
        pre_returns = np.asarray(pre_returns, dtype=np.float64)
        post_returns = np.asarray(post_returns, dtype=np.float64)
        if pre_returns.shape != post_returns.shape:
            raise ValueError("both models must be scored on the same validation samples")
        n = int(pre_returns.size)
        pre, post = sharpe_ratio(pre_returns), sharpe_ratio(post_returns)
        standard_error = sharpe_standard_error(pre, n)
        if not (np.isfinite(pre_returns).all() and np.isfinite(post_returns).all()):
            return StabilityReport(False, pre, post, math.nan, n, standard_error, "non_finite")
        if n < self.min_samples:
            return StabilityReport(
                False, pre, post, math.nan, n, standard_error, "insufficient_validation_data"
            )
        passed, degradation = self.decide(pre, post)
        reason = "passed" if passed else "sharpe_degradation"
        return StabilityReport(passed, pre, post, degradation, n, standard_error, reason)

    def check(
        self,
        *,
        old_model: nn.Module,
        new_model: nn.Module,
        validation: pd.DataFrame,
        feature_names: Sequence[str],
    ) -> StabilityReport:
        """Score both models on ``validation`` and decide."""
        return self.evaluate(
            pre_returns=strategy_returns(old_model, validation, feature_names),
            post_returns=strategy_returns(new_model, validation, feature_names),
        )
