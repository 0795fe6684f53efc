"""Schemathesis over /api/v1/openapi.json against the app on a real uvicorn (uvloop,
httptools) on a loopback port: at least 1,000 generated requests, positive and negative,
bounded in time; no 5xx and every response conforms to the schema (status code, content
type, headers, body)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from tests.utils.api_keys import OPS, bearer
from tests.utils.live_server import LiveServer

MIN_REQUESTS = 1000
EXAMPLES_PER_OPERATION = 45  # x 17 operations x 2 modes
TIME_BUDGET_S = 420.0


@pytest.fixture
def live_server(platform_champions, serving_settings, prefect_api):
    """The app under uvicorn in a thread of this process; jobs reach the session's Prefect
    server (no deployment is served: nothing a generated request submits can run)."""
    from cli.serve_cmd import log_config

    with LiveServer(
        serving_settings,
        loop="uvloop",
        http="httptools",
        log_config=log_config(),
        access_log=False,
    ) as server:
        yield server.url


def test_generated_requests_find_no_5xx_and_no_schema_violation(live_server):
    import requests
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
    from schemathesis.generation import GenerationMode

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    session = requests.Session()
    session.headers.update(bearer(OPS))
    started = time.monotonic()
    counts: dict[str, int] = {}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    def call(label: str, mode, case) -> None:
        if time.monotonic() - started > TIME_BUDGET_S:
            return
        counts[label] = counts.get(label, 0) + 1
        try:
            case.call_and_validate(session=session, checks=checks, base_url=live_server)
        except Exception as exc:  # collect them all, then fail with every one
            failures.append(f"{label} [{mode.value}]: {exc}"[:2000])

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, call)
            except Unsatisfiable:  # e.g. no invalid request exists for GET /health
                assert mode is GenerationMode.NEGATIVE, operation.label

    total = sum(counts.values())
    print(
        f"schemathesis: {total} requests over {len(counts)} operations in "
        f"{time.monotonic() - started:.0f} s"
    )
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures[:10])
    assert total >= MIN_REQUESTS, counts
    assert all(counts.get(op.label) for op in operations), counts


def _fuzz(operation, mode, call) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case) -> None:
        call(operation.label, mode, case)

    run()
