"""Bootstrapped specialists and Prefect API reads shared by the flow tests."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, TaskRun
from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

from online_learning.data import resolve_source
from online_learning.update.bootstrap import train_and_register
from online_learning.update.gate import StabilityGate
from online_learning.update.window import labelled_features

SPECIALISTS = ("bull_specialist", "bear_specialist", "sideways_specialist")


def bootstrap_specialists(registry, *, models=SPECIALISTS, epochs: int = 5) -> dict[str, str]:
    """Train the specialists on the seeded synthetic market up to 60 trading days before its
    last day, so that the default update window is data they have not seen. Returns the
    champion version of each."""
    source = resolve_source("synthetic", seed=0)
    days = sorted(labelled_features(source)["date"].unique())
    end = days[-61].date()
    return {
        model_id: train_and_register(
            registry=registry, source=source, model_id=model_id, end=end, epochs=epochs, seed=0
        ).version
        for model_id in models
    }


def gate_passes(row: dict) -> bool:
    """Whether the stability gate let the row's candidate through.

    The gate decides on a paired test of daily returns, not on the two Sharpe ratios the row
    reports, so the verdict is the row's reason: ``passed``, or a rejection by the gate or an
    earlier check. The degradation the row reports must still be the one of its Sharpe ratios.
    """
    pre, post = row["sharpe_pre"], row["sharpe_post"]
    degradation = None if pre is None or post is None else StabilityGate().degradation(pre, post)
    if row.get("degradation_pct") is not None and degradation is not None:
        assert abs(row["degradation_pct"] - degradation) < 1e-3, row
    return row["reason"] == "passed"


def flow_runs_of(deployment_name: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id])
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=100,
        )


def read_flow_run(flow_run_id) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def task_runs_of(flow_run_id) -> dict[str, TaskRun]:
    """The flow run's task runs by name (``update-<model_id>``)."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
            limit=100,
            offset=0,
        )
    return {run.name: run for run in runs}


def report_rows(flow_run_id, key: str) -> list[dict]:
    """The rows of the flow run's table artifact ``key``."""
    from flows.jobs import read_report

    with get_client(sync_client=True) as client:
        return read_report(client, flow_run_id, key)
