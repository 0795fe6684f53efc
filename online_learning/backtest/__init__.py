"""Walk-forward backtest of model maintenance policies (definitions: ``docs/backtest.md``).

:func:`run_backtest` replays one environment for one seed with every policy side by side,
each updating through the product's own path against a throw-away
:class:`~online_learning.registry.memory.InMemoryRegistry`; :func:`run_suite` runs many
environments and seeds (in a process pool) and assembles ``results.json``;
:func:`write_outputs` writes it with the summary table and plots. :func:`success_summary`
computes the integration's five success metrics of each policy (``success`` in each policy's
entry).
"""

from __future__ import annotations

from online_learning.backtest.config import (
    DEFAULT_MODEL_ID,
    ESTIMATOR_POLICIES,
    NETWORK_POLICIES,
    POLICIES,
    UPDATING_POLICIES,
    BacktestConfig,
)
from online_learning.backtest.environments import (
    DEFAULT_DRIFT_SPEED,
    SWITCH_TO,
    SYNTHETIC_ENVIRONMENTS,
    Environment,
    data_environment,
    synthetic_environment,
)
from online_learning.backtest.faults import FAULT_KINDS, FaultPlan
from online_learning.backtest.harness import RunResult, daily_returns, run_backtest
from online_learning.backtest.metrics import (
    environment_summary,
    fault_summary,
    t_interval,
    timeline,
)
from online_learning.backtest.report import markdown_summary, write_outputs
from online_learning.backtest.runner import EnvironmentSpec, Suite, run_suite, synthetic_specs
from online_learning.backtest.success import success_summary

__all__ = [
    "DEFAULT_DRIFT_SPEED",
    "DEFAULT_MODEL_ID",
    "ESTIMATOR_POLICIES",
    "FAULT_KINDS",
    "NETWORK_POLICIES",
    "POLICIES",
    "SWITCH_TO",
    "SYNTHETIC_ENVIRONMENTS",
    "UPDATING_POLICIES",
    "BacktestConfig",
    "Environment",
    "EnvironmentSpec",
    "FaultPlan",
    "RunResult",
    "Suite",
    "daily_returns",
    "data_environment",
    "environment_summary",
    "fault_summary",
    "markdown_summary",
    "run_backtest",
    "run_suite",
    "success_summary",
    "synthetic_environment",
    "synthetic_specs",
    "t_interval",
    "timeline",
    "write_outputs",
]
