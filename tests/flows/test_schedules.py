"""A Prefect server schedules the daily update: runs of the deployment's own cron are created.

Prefect 3.8.8's scheduler service raised on every loop with SQLAlchemy 2.1 ("Can't evaluate
bulk DML statement") and created no run at all: the deployments were registered, their
schedules listed, and the daily update never ran. This test runs a real server (its scheduler
service included) and waits for scheduled runs of the cron in ``prefect.yaml``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.deployments import DAILY_UPDATE, load_deployments
from flows.serve import local_server
from tests.utils.waiting import wait_for

pytestmark = pytest.mark.slow


def test_the_server_creates_runs_of_the_daily_update_on_its_cron(tmp_path):
    [daily] = [d for d in load_deployments() if f"{d.flow_name}/{d.name}" == DAILY_UPDATE]
    [schedule] = daily.schedules
    with (
        local_server(tmp_path, ui=False) as server,
        temporary_settings({PREFECT_API_URL: server.api_url}),
        get_client(sync_client=True) as client,
    ):
        flow_id = client.create_flow_from_name(daily.flow_name)
        deployment_id = client.create_deployment(
            flow_id=flow_id, name=daily.name, entrypoint=daily.entrypoint,
            schedules=[DeploymentScheduleCreate(schedule=schedule.schedule,
                                                active=True)],
        )  # fmt: skip
        only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))

        runs = wait_for(
            lambda: client.read_flow_runs(deployment_filter=only),
            timeout_s=90,
            what="scheduled runs of daily-update",
            every_s=1.0,
            details=lambda: server.log_path.read_text()[-3000:],
        )
        log = server.log_path.read_text()
    assert runs, log[-3000:]
    assert "Can't evaluate bulk DML" not in log
    new_york = ZoneInfo(schedule.schedule.timezone)
    for run in runs:  # weekdays at 17:30 New York time, after the close
        assert run.state.is_scheduled(), run.state
        when = run.expected_start_time.astimezone(new_york)
        assert (when.hour, when.minute, when.isoweekday() <= 5) == (17, 30, True), when
