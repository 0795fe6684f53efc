"""UpdateMetrics: what the exposition says after real outcomes, and the three ways out of it."""

from __future__ import annotations

import http.server
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar
from urllib.error import URLError

import pytest
import torch
from prometheus_client import CollectorRegistry

from online_learning.ewc import EWCState
from online_learning.monitoring import DURATION_BUCKETS, METRIC_NAMES, UpdateMetrics
from online_learning.update.gate import StabilityGate
from online_learning.update.outcomes import RollbackResult, UpdateSuccess
from tests.monitoring.helpers import comparable, metric_types, sample

GATE = StabilityGate()


def promoted(model_id: str, pre: float, post: float, duration_s: float = 60.0) -> UpdateSuccess:
    return UpdateSuccess(
        model_id=model_id,
        sharpe_pre=pre,
        sharpe_post=post,
        degradation_pct=GATE.degradation(pre, post),
        duration_s=duration_s,
        n_train=300,
        n_validation=70,
        window_start="2024-01-02",
        window_end="2024-03-28",
        version="2",
        previous_version="1",
    )


def rolled_back(
    model_id: str,
    pre: float = math.nan,
    post: float = math.nan,
    duration_s: float = 60.0,
    reason: str = "sharpe_degradation",
) -> RollbackResult:
    return RollbackResult(
        model_id=model_id,
        sharpe_pre=pre,
        sharpe_post=post,
        degradation_pct=GATE.degradation(pre, post),
        duration_s=duration_s,
        n_train=300,
        n_validation=70,
        window_start="2024-01-02",
        window_end="2024-03-28",
        champion_version="1",
        reason=reason,
    )


def fisher_stats(*values: float) -> dict[str, float]:
    state = EWCState(fisher={"w": torch.tensor(values)}, anchor={"w": torch.zeros(len(values))})
    return state.stats()


def test_outcomes_update_counters_gauges_and_histogram() -> None:
    metrics = UpdateMetrics()
    metrics.observe(
        promoted("bull", 1.0, 1.2, duration_s=12.0), fisher_stats=fisher_stats(1.0, 3.0)
    )
    metrics.observe(rolled_back("bull", 1.2, 0.9, duration_s=4000.0))
    text = metrics.render()

    assert metric_types(text) == {
        "online_learning_update_duration_seconds": "histogram",
        "online_learning_updates": "counter",
        **{name: "gauge" for name in METRIC_NAMES[2:]},
    }
    updates = "online_learning_updates_total"
    assert sample(text, updates, model_id="bull", outcome="promoted") == 1
    assert sample(text, updates, model_id="bull", outcome="rolled_back") == 1
    assert sample(text, updates, model_id="bull", outcome="failed") == 0
    # The Sharpe gauges describe the last update, the rejected one.
    assert sample(text, "online_learning_sharpe_pre", model_id="bull") == 1.2
    assert sample(text, "online_learning_sharpe_post", model_id="bull") == 0.9
    assert sample(text, "online_learning_degradation_percent", model_id="bull") == pytest.approx(
        25.0
    )
    # A rollback reports no Fisher: the champion's, from the promotion, stays.
    assert sample(text, "online_learning_fisher_mean", model_id="bull") == 2.0
    assert sample(text, "online_learning_fisher_max", model_id="bull") == 3.0
    assert sample(text, "online_learning_fisher_nonfinite_values", model_id="bull") == 0
    duration = "online_learning_update_duration_seconds"
    assert sample(text, f"{duration}_count", model_id="bull") == 2
    assert sample(text, f"{duration}_sum", model_id="bull") == 4012.0
    assert sample(text, f"{duration}_bucket", model_id="bull", le="10.0") == 0
    assert sample(text, f"{duration}_bucket", model_id="bull", le="30.0") == 1
    assert sample(text, f"{duration}_bucket", model_id="bull", le="3600.0") == 1  # > 60 min
    assert sample(text, f"{duration}_bucket", model_id="bull", le="5400.0") == 2
    assert sample(text, f"{duration}_bucket", model_id="bull", le="+Inf") == 2
    assert DURATION_BUCKETS[0] == 0.1 and DURATION_BUCKETS[-1] == 7200.0
    assert sample(text, "online_learning_last_update_timestamp_seconds", model_id="bull") > 0
    assert sample(text, "online_learning_update_started_timestamp_seconds", model_id="bull") == 0


def test_fisher_stats_default_to_the_ones_the_outcome_carries() -> None:
    metrics = UpdateMetrics()
    carrying = SimpleNamespace(**vars(promoted("bull", 1.0, 1.1)))
    carrying.fisher_stats = fisher_stats(0.5, math.nan)
    metrics.observe(carrying)
    assert metrics.value("online_learning_fisher_nonfinite_values", model_id="bull") == 1
    assert metrics.value("online_learning_fisher_max", model_id="bull") == 0.5

    carrying.fisher_stats = {}  # nothing computed: the gauges keep the last statistics
    metrics.observe(carrying)
    assert metrics.value("online_learning_fisher_max", model_id="bull") == 0.5
    metrics.observe(carrying, fisher_stats=fisher_stats(2.0))  # an explicit argument wins
    assert metrics.value("online_learning_fisher_max", model_id="bull") == 2.0
    assert metrics.value("online_learning_fisher_nonfinite_values", model_id="bull") == 0


def test_consecutive_failures_count_rollbacks_and_failures_and_reset_on_promotion() -> None:
    metrics = UpdateMetrics()
    consecutive = "online_learning_consecutive_failed_updates"
    metrics.observe(promoted("bear", 1.0, 1.1))
    metrics.observe(rolled_back("bull", 1.0, 0.5))
    metrics.observe_failure("bull", 2.0)
    metrics.observe(rolled_back("bull", reason="non_finite_data"))
    assert metrics.value(consecutive, model_id="bull") == 3
    assert metrics.value(consecutive, model_id="bear") == 0  # other models are their own

    metrics.observe(promoted("bull", 1.0, 1.0))
    assert metrics.value(consecutive, model_id="bull") == 0
    metrics.observe_failure("bull", 2.0)
    assert metrics.value(consecutive, model_id="bull") == 1


def test_rollback_rate_is_rolled_back_over_all_finished_updates() -> None:
    metrics = UpdateMetrics()
    with metrics.track("bull"):
        pass  # a tracked model without a finished update has no rate yet
    assert math.isnan(metrics.value("online_learning_rollback_rate", model_id="bull"))
    assert metrics.value("online_learning_updates_total", model_id="bull", outcome="failed") == 0

    metrics.observe(promoted("bull", 1.0, 1.1))
    metrics.observe(promoted("bull", 1.0, 1.1))
    metrics.observe(rolled_back("bull", 1.0, 0.2))
    metrics.observe_failure("bull", 1.0)
    assert metrics.value("online_learning_rollback_rate", model_id="bull") == 0.25


def test_unknown_values_are_exposed_as_nan() -> None:
    metrics = UpdateMetrics()
    metrics.observe(promoted("bull", 1.0, 1.1))
    # Rejected before the gate ran: no Sharpe was measured.
    metrics.observe(rolled_back("bull", reason="insufficient_training_data"))
    metrics.observe_failure("bear", 3.0)
    text = metrics.render()
    for model_id in ("bull", "bear"):
        for name in (
            "online_learning_sharpe_pre",
            "online_learning_sharpe_post",
            "online_learning_degradation_percent",
            "online_learning_fisher_mean",
            "online_learning_fisher_max",
            "online_learning_fisher_nonfinite_values",
        ):
            assert math.isnan(sample(text, name, model_id=model_id)), (name, model_id)

    metrics.observe(promoted("bull", 1.0, 1.1), fisher_stats=fisher_stats(1.0, math.nan, math.inf))
    text = metrics.render()
    assert sample(text, "online_learning_fisher_nonfinite_values", model_id="bull") == 2
    assert sample(text, "online_learning_fisher_max", model_id="bull") == 1.0


def test_track_sets_the_started_gauge_and_clears_it_even_when_the_update_raises() -> None:
    metrics = UpdateMetrics()
    started = "online_learning_update_started_timestamp_seconds"
    seen: list[float] = []

    def publish(m: UpdateMetrics) -> None:
        seen.append(sample(m.render(), started, model_id="bull"))

    before = metrics.value(started, model_id="bull")
    with (
        pytest.raises(RuntimeError, match="registry down"),
        metrics.track("bull", on_change=publish),
    ):
        inside = metrics.value(started, model_id="bull")
        raise RuntimeError("registry down")
    assert before is None
    assert inside is not None and abs(inside - seen[0]) < 1e-9 and inside > 1.6e9
    assert seen == [inside, 0.0]  # published when set and when cleared
    assert metrics.value(started, model_id="bull") == 0
    # The exception counts as a failed update.
    assert metrics.value("online_learning_updates_total", model_id="bull", outcome="failed") == 1
    assert metrics.value("online_learning_consecutive_failed_updates", model_id="bull") == 1
    assert metrics.value("online_learning_update_duration_seconds_count", model_id="bull") == 1


def test_track_does_not_count_an_observed_update_twice_or_run_twice() -> None:
    metrics = UpdateMetrics()
    with pytest.raises(OSError), metrics.track("bull"):
        metrics.observe(rolled_back("bull", 1.0, 0.5))
        raise OSError("could not write the report")  # after the outcome was recorded
    assert metrics.value("online_learning_updates_total", model_id="bull", outcome="failed") == 0
    assert metrics.value("online_learning_consecutive_failed_updates", model_id="bull") == 1

    with metrics.track("bull"), pytest.raises(RuntimeError, match="already"):  # noqa: SIM117
        with metrics.track("bull"):
            pass
    with metrics.track("bull"):  # released again
        pass


def test_invalid_observations_are_refused() -> None:
    metrics = UpdateMetrics()
    with pytest.raises(ValueError, match="decision"):
        metrics.observe(
            SimpleNamespace(**vars(promoted("bull", 1.0, 1.0)) | {"decision": "retrained"})
        )
    with pytest.raises(ValueError, match="duration_s"):
        metrics.observe(promoted("bull", 1.0, 1.0, duration_s=-1.0))
    with pytest.raises(ValueError, match="fisher_max"):
        metrics.observe(promoted("bull", 1.0, 1.0), fisher_stats={"fisher_mean": 1.0})
    with pytest.raises(ValueError, match="model_id"):
        metrics.observe_failure("", 1.0)
    assert "bull" not in metrics.render().decode()  # nothing half-recorded


def test_one_registry_holds_one_update_metrics() -> None:
    registry = CollectorRegistry()
    UpdateMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated"):
        UpdateMetrics(registry)


def test_concurrent_observations_are_all_counted() -> None:
    metrics = UpdateMetrics()

    def work() -> None:
        for _ in range(200):
            metrics.observe(promoted("bull", 1.0, 1.1, duration_s=1.0))
            metrics.render()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metrics.value("online_learning_updates_total", model_id="bull", outcome="promoted") == (
        1600
    )
    assert metrics.value("online_learning_update_duration_seconds_sum", model_id="bull") == 1600


def test_write_textfile_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "online_learning.prom"
    registry = CollectorRegistry()
    metrics = UpdateMetrics(registry)
    metrics.observe(promoted("bull", 1.0, 1.1))
    metrics.write_textfile(path)
    first_inode = path.stat().st_ino
    assert (
        sample(
            path.read_text(), "online_learning_updates_total", model_id="bull", outcome="promoted"
        )
        == 1
    )

    metrics.observe(promoted("bull", 1.0, 1.1))
    metrics.write_textfile(path)
    # A new file renamed over the old one: a reader has either the old or the new, never a mix.
    assert path.stat().st_ino != first_inode
    assert (
        sample(
            path.read_text(), "online_learning_updates_total", model_id="bull", outcome="promoted"
        )
        == 2
    )

    class Broken:
        def collect(self) -> Iterator[object]:
            raise RuntimeError("collector failed halfway")

    registry.register(Broken())
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="halfway"):
        metrics.write_textfile(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["online_learning.prom"]  # no temporary left behind


def test_from_textfile_continues_the_previous_run(tmp_path: Path) -> None:
    path = tmp_path / "online_learning.prom"
    first = UpdateMetrics.from_textfile(path)  # no file yet
    first.observe(promoted("bull", 1.0, 1.1, duration_s=20.0), fisher_stats=fisher_stats(0.5))
    first.observe(rolled_back("bull", 1.0, 0.5, duration_s=4000.0))
    first.observe_failure("bear", 1.0)
    first.write_textfile(path)
    with path.open("a") as file:  # node_exporter files may hold other metrics: ignored
        file.write("# TYPE other_metric gauge\nother_metric 1\n")

    second = UpdateMetrics.from_textfile(path)
    assert comparable(second.render()) == comparable(first.render())
    second.observe_failure("bull", 30.0)
    text = second.render()
    assert sample(text, "online_learning_consecutive_failed_updates", model_id="bull") == 2
    assert sample(text, "online_learning_updates_total", model_id="bull", outcome="failed") == 1
    assert sample(text, "online_learning_updates_total", model_id="bull", outcome="promoted") == 1
    assert sample(text, "online_learning_rollback_rate", model_id="bull") == pytest.approx(1 / 3)
    assert sample(text, "online_learning_update_duration_seconds_count", model_id="bull") == 3
    assert sample(text, "online_learning_update_duration_seconds_sum", model_id="bull") == 4050
    assert (
        sample(text, "online_learning_update_duration_seconds_bucket", model_id="bull", le="30.0")
        == 2
    )
    assert sample(text, "online_learning_fisher_max", model_id="bull") == 0.5
    assert sample(text, "online_learning_updates_total", model_id="bear", outcome="failed") == 1

    # A run killed mid-update leaves its start time in the file; the next finished update
    # of that model clears it.
    second.write_textfile(path)
    killed = (
        "import os, sys\n"
        "from online_learning.monitoring import UpdateMetrics\n"
        "m = UpdateMetrics.from_textfile(sys.argv[1])\n"
        "with m.track('bear', on_change=lambda m: m.write_textfile(sys.argv[1])):\n"
        "    os._exit(9)\n"
    )
    run = subprocess.run([sys.executable, "-c", killed, str(path)], check=False, timeout=60)
    assert run.returncode == 9
    started = "online_learning_update_started_timestamp_seconds"
    third = UpdateMetrics.from_textfile(path)
    assert third.value(started, model_id="bear") > time.time() - 60
    third.observe_failure("bear", 1.0)
    assert third.value(started, model_id="bear") == 0
    assert third.value("online_learning_updates_total", model_id="bear", outcome="failed") == 2

    changed = path.read_text().replace('le="7200.0"', 'le="10800.0"')
    path.write_text(changed)
    with pytest.raises(ValueError, match="buckets"):
        UpdateMetrics.from_textfile(path)


class _Recorder(http.server.BaseHTTPRequestHandler):
    # Set per server by the fixture, which makes a subclass for each test.
    requests: ClassVar[list[tuple[str, str, str, bytes]]]
    status: ClassVar[int]

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.requests.append((self.command, self.path, self.headers["Content-Type"], body))
        self.send_response(self.status)
        self.end_headers()

    do_POST = do_PUT = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Recorder]]]:
    """A Pushgateway stand-in on 127.0.0.1 that records every request."""
    handler = type("Recorder", (_Recorder,), {"requests": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_push_posts_the_exposition_to_the_job_path(gateway: tuple[str, type[_Recorder]]) -> None:
    address, handler = gateway
    metrics = UpdateMetrics()
    metrics.observe(promoted("bull", 1.0, 1.1))
    metrics.push(f"http://{address}", job="online-learning")
    metrics.push(address, job="online-learning", grouping_key={"model_id": "bull"})

    (method, path, content_type, body), (_, grouped_path, _, _) = handler.requests
    assert method == "POST"  # pushadd: replace our metric names only, keep the rest
    assert path == "/metrics/job/online-learning"
    assert grouped_path == "/metrics/job/online-learning/model_id/bull"
    assert content_type.startswith("text/plain")
    assert sample(body, "online_learning_updates_total", model_id="bull", outcome="promoted") == 1
    assert comparable(body) == comparable(metrics.render())


def test_push_raises_when_the_gateway_refuses(gateway: tuple[str, type[_Recorder]]) -> None:
    address, handler = gateway
    handler.status = 500
    with pytest.raises(URLError):
        UpdateMetrics().push(address, job="online-learning")


def test_exposition_passes_promtool_lint(promtool: str) -> None:
    metrics = UpdateMetrics()
    metrics.observe(promoted("bull", 1.0, 1.1), fisher_stats=fisher_stats(1.0, 2.0))
    metrics.observe(rolled_back("bear", 1.0, 0.1))
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=metrics.render(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    assert result.stdout.decode().strip() == "", result.stdout.decode()  # no lint warnings
