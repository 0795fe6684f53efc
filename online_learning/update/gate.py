"""The stability gate: reject a candidate only when it trades worse than the champion, with a
stated confidence.

Both models are priced by the one rule of :mod:`online_learning.execution` (position
``2 * p_up - 1``, executable timing, costs per unit traded) on the **same validation days,
which neither model trained on and no earlier decision of this model judged**. The book of
each model is equally weighted over the day's symbols; ``d_t`` is the candidate's daily net
return minus the champion's.

The test
--------
A paired, one-sided t-test on ``d_t`` with a Newey-West (HAC, Bartlett kernel) standard error,
so that autocorrelated differences do not overstate the evidence::

    t = (mean(d) + margin) / se_HAC(d),    p = P(T_{n-1} <= t)

The candidate is **rejected when p < 1 - confidence** (``confidence`` 0.95 by default): only
when it is worse with that confidence. ``margin`` is the tolerated loss of the seed's rule,
``(1 - min_sharpe_threshold) * max(|S_pre|, sharpe_floor)`` in annualised Sharpe units, turned
into daily return units with the champion's daily volatility; with the default threshold of
0.95 it is small, so the test is close to "is the candidate worse at all?".

Why a test and not the ratio of two Sharpe ratios
-------------------------------------------------
The seed's rule ``post >= 0.95 * pre`` on seven days compared two numbers whose standard error
is about ``sqrt(252 / 7) = 6`` annualised: candidates of equal quality were rejected in about a
third of the decisions. Under the test, a candidate as good as the champion is rejected with a
probability of about ``1 - confidence`` (measured in ``benchmarks/gate_error.py``: the false
rejection rate and the power against a true drop of 1 in annualised Sharpe). The price is
power: a few days cannot prove a small drop, and the gate says so (``p_value`` travels with
every decision).

``sharpe_pre``, ``sharpe_post`` and ``degradation_pct`` (``100 * (pre - post) /
max(|pre|, floor)``, positive means worse) are reported as before; they no longer decide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from torch import nn

from online_learning.execution import (
    DEFAULT_COST_BPS,
    RETURN_COLUMNS,
    DailyReturns,
    daily_net_returns,
    position_from_p_up,
    resolve_execution,
)
from online_learning.stats import (
    TRADING_DAYS,
    paired_test,
    sharpe_ratio,
    sharpe_standard_error,
)


@dataclass(frozen=True)
class StabilityReport:
    """The gate's decision and the numbers behind it.

    ``n_samples`` counts validation rows (symbol-days), ``n_days`` the days tested;
    ``p_value`` is the one-sided p-value of "the candidate is no worse"; the turnovers are
    mean daily one-way turnovers of each book on the validation days.
    """

    passed: bool
    sharpe_pre: float
    sharpe_post: float
    degradation_pct: float
    n_samples: int
    sharpe_standard_error: float
    reason: str
    n_days: int = 0
    mean_difference: float = math.nan
    p_value: float = math.nan
    t_stat: float = math.nan
    margin: float = math.nan
    execution: str = ""
    cost_bps: float = math.nan
    turnover_pre: float = math.nan
    turnover_post: float = math.nan

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class StabilityGate:
    """Decide whether a candidate may replace the champion (see the module doc).

    Parameters
    ----------
    min_sharpe_threshold : float, default 0.95
        The seed's threshold; ``(1 - threshold) * max(|S_pre|, sharpe_floor)`` is the
        tolerated loss of annualised Sharpe (the test's margin).
    sharpe_floor : float, default 0.5
        Scale below which the margin stops shrinking with ``|S_pre|``.
    min_samples : int, default 5
        Validation rows (symbol-days) below which nothing is promoted.
    confidence : float, default 0.95
        A candidate is rejected when it is worse with this confidence (one-sided).
    min_days : int, default 3
        Validation days below which nothing is promoted (a test needs some).

    Examples
    --------
    >>> gate = StabilityGate()
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(0.001, 0.01, 40)
    >>> gate.evaluate(pre_returns=old, post_returns=old).passed
    True
    >>> gate.evaluate(pre_returns=old, post_returns=old - 0.01).passed
    False
    """

    def __init__(
        self,
        min_sharpe_threshold: float = 0.95,
        sharpe_floor: float = 0.5,
        min_samples: int = 5,
        confidence: float = 0.95,
        min_days: int = 3,
    ) -> None:
        if not 0 < min_sharpe_threshold <= 1:
            raise ValueError(f"min_sharpe_threshold must be in (0, 1], got {min_sharpe_threshold}")
        if not sharpe_floor > 0:
            raise ValueError(f"sharpe_floor must be > 0, got {sharpe_floor}")
        if min_samples < 2:
            raise ValueError(f"min_samples must be >= 2, got {min_samples}")
        if not 0.5 <= confidence < 1:
            raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
        if min_days < 2:
            raise ValueError(f"min_days must be >= 2, got {min_days}")
        self.min_sharpe_threshold = min_sharpe_threshold
        self.sharpe_floor = sharpe_floor
        self.min_samples = min_samples
        self.confidence = confidence
        self.min_days = min_days

    def degradation(self, pre: float, post: float) -> float:
        """``100 * (pre - post) / max(|pre|, floor)``; positive means worse.

        Examples
        --------
        >>> StabilityGate().degradation(2.0, 1.5)
        25.0
        """
        if not (math.isfinite(pre) and math.isfinite(post)):
            return math.nan
        return float(100.0 * (pre - post) / max(abs(pre), self.sharpe_floor))

    def evaluate(
        self,
        *,
        pre_returns: np.ndarray,
        post_returns: np.ndarray,
        n_samples: int | None = None,
    ) -> StabilityReport:
        """Decide from the two books' daily net returns on identical days."""
        pre_returns = np.asarray(pre_returns, dtype=np.float64)
        post_returns = np.asarray(post_returns, dtype=np.float64)
        if pre_returns.shape != post_returns.shape:
            raise ValueError("both models must be scored on the same validation days")
        n_days = int(pre_returns.size)
        n = n_days if n_samples is None else int(n_samples)
        pre, post = sharpe_ratio(pre_returns), sharpe_ratio(post_returns)
        common = {
            "sharpe_pre": pre,
            "sharpe_post": post,
            "n_samples": n,
            "sharpe_standard_error": sharpe_standard_error(pre, n_days),
            "n_days": n_days,
        }
        if not (np.isfinite(pre_returns).all() and np.isfinite(post_returns).all()):
            return StabilityReport(False, degradation_pct=math.nan, reason="non_finite", **common)
        if n < self.min_samples or n_days < self.min_days:
            return StabilityReport(
                False, degradation_pct=math.nan, reason="insufficient_validation_data", **common
            )
        scale = max(abs(pre), self.sharpe_floor) if math.isfinite(pre) else self.sharpe_floor
        daily_vol = float(pre_returns.std(ddof=1))
        margin = (1.0 - self.min_sharpe_threshold) * scale / math.sqrt(TRADING_DAYS) * daily_vol
        test = paired_test(post_returns - pre_returns, margin=margin)
        passed = not test.p_value < 1.0 - self.confidence
        return StabilityReport(
            passed,
            degradation_pct=self.degradation(pre, post),
            reason="passed" if passed else "sharpe_degradation",
            mean_difference=test.mean_difference,
            p_value=test.p_value,
            t_stat=test.t_stat,
            margin=margin,
            **common,
        )

    def check(
        self,
        *,
        old_model: nn.Module,
        new_model: nn.Module,
        validation: pd.DataFrame,
        inputs: np.ndarray,
        execution: str = "auto",
        cost_bps: float = DEFAULT_COST_BPS,
        previous: Mapping[str, float] | None = None,
    ) -> StabilityReport:
        """Price both models on ``validation`` under the execution rule and decide.

        ``inputs`` are the models' inputs of the validation rows (rows or sequences, see
        :mod:`online_learning.models.inputs`), in their order; ``previous`` is the book's
        position per symbol before the first validation day (both models trade from it);
        rows whose executed return is unknown are left out.
        """
        timing = resolve_execution(execution, validation)
        books = price_books(
            (old_model, new_model),
            validation=validation,
            inputs=inputs,
            execution=timing,
            cost_bps=cost_bps,
            previous=previous,
        )
        pre, post = books
        known = validation[RETURN_COLUMNS[timing]].to_numpy(dtype=np.float64)
        n_rows = int(np.isfinite(known).sum())
        report = self.evaluate(
            pre_returns=pre.net.to_numpy(), post_returns=post.net.to_numpy(), n_samples=n_rows
        )
        return StabilityReport(
            **{
                **report.to_dict(),
                "execution": timing,
                "cost_bps": float(cost_bps),
                "turnover_pre": float(pre.turnover.mean()) if len(pre.turnover) else math.nan,
                "turnover_post": float(post.turnover.mean()) if len(post.turnover) else math.nan,
            }
        )


def price_books(
    models: Sequence[nn.Module],
    *,
    validation: pd.DataFrame,
    inputs: np.ndarray,
    execution: str,
    cost_bps: float,
    previous: Mapping[str, float] | None = None,
) -> list[DailyReturns]:
    """Each model's book on ``validation`` under one execution rule and cost: position
    ``2 * p_up - 1`` per row from the model's ``predict_proba`` of ``inputs``, traded from
    ``previous`` (the position per symbol before the first day)."""
    features = np.asarray(inputs, dtype=np.float32)
    return [
        daily_net_returns(
            validation,
            position_from_p_up(model.predict_proba(features).astype(np.float64)),
            execution=execution,
            cost_bps=cost_bps,
            previous=previous,
        )
        for model in models
    ]
