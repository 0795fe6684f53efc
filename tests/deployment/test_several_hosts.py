"""The platform on separate hosts (network namespaces, reached by IP alone): it trades end to
end through the load balancer, runs its update rounds on remote Dask workers, and rides out the
loss of an API replica, a feedback worker and a Dask worker.

See ``tests/deployment/conftest.py`` for what each host runs and ``docs/several-machines.md``
for the same recipe on real machines.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading
import time
from uuid import UUID

import httpx
import pytest

from flows.deployments import DAILY_UPDATE
from online_learning_client.stream import Stream
from tests.deployment.conftest import Cluster, wait_until_balanced
from tests.deployment.hosts import HostProcess
from tests.deployment.topology import DASK_WORKERS, FEEDBACK_WORKERS, METRICS_PORT, REPLICAS
from tests.utils.api_keys import TRADER
from tests.utils.waiting import wait_for

SYMBOLS = ("AGT0", "AGT1", "AGT2")  # the example agent's
#: Trading days of the agent: enough to outlast the replica and worker stops, which take
#: some twenty days (a day takes at least the interval: the agent trades for 30 s at least).
AGENT_DAYS, AGENT_INTERVAL_S = 150, 0.2
UPDATE_TIMEOUT_S = 300
#: What a process writes in its home when it falls back to the embedded defaults.
EMBEDDED = frozenset({"mlflow.db", "metrics.db", "mlartifacts", "api-key"})
_DAY_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} AGT\d")
_FLOW_RUN_ID = re.compile(r"UUID: ([0-9a-f-]{36})")
_SUMMARY = re.compile(r"^(\d+) days x (\d+) symbols: .*; outcomes (.*)$", re.MULTILINE)


class StreamWatcher:
    """The SDK's resuming stream of one symbol, read in a thread of its own through the load
    balancer; ``frames`` is everything it yielded (``hello`` included), in order."""

    def __init__(self, url: str, symbol: str, key: str) -> None:
        self.stream = Stream(url, symbol, api_key=key, control=True, max_backoff_s=1.0)
        self.frames: list[dict] = []
        self.error: BaseException | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._read(),), daemon=True)
        self._thread.start()
        self._started.wait(10)

    async def _read(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        self._started.set()
        try:
            async for frame in self.stream:
                self.frames.append(frame)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # the test reports it
            self.error = exc
        finally:
            await self.stream.aclose()

    def of(self, kind: str, after: int = 0) -> list[dict]:
        if self.error is not None:
            raise AssertionError(f"the stream failed: {self.error!r}")
        return [f for f in self.frames[after:] if f.get("type") == kind]

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(10)


def trading_days(agent: HostProcess) -> int:
    """Days the agent has traded so far (one line per symbol and day)."""
    lines = agent.log_path.read_text(errors="replace").splitlines()
    return sum(1 for line in lines if _DAY_LINE.match(line)) // len(SYMBOLS)


def learned(cluster: Cluster) -> dict[str, int]:
    """Outcomes of the agent's symbols the feedback workers recorded as learned, per symbol."""
    rows = cluster.metrics("SELECT symbol, count(*) FROM processed_trades "
                           "WHERE symbol LIKE 'AGT%%' GROUP BY symbol")  # fmt: skip
    return dict(rows)


def samples_seen(cluster: Cluster) -> dict[str, int]:
    """Outcomes the symbols' online sessions learned, per symbol (their checkpoints)."""
    rows = cluster.metrics("SELECT symbol, sum(samples_seen) FROM session_checkpoints "
                           "WHERE symbol LIKE 'AGT%%' GROUP BY symbol")  # fmt: skip
    return {symbol: int(n) for symbol, n in rows}


def partition_owners(cluster: Cluster) -> set[str]:
    rows = cluster.metrics("SELECT DISTINCT owner FROM input_positions "
                           "WHERE topic = 'trade-outcomes'")  # fmt: skip
    return {owner for (owner,) in rows}


def run_daily_update(cluster: Cluster) -> tuple[object, list[dict], list[tuple]]:
    """A run of the ``daily-update`` deployment on the work pool, its tasks on the Dask
    scheduler's workers, started as an operator would (``prefect deployment run`` on the
    worker host): its final state, its report and the update history it recorded (model,
    decision, worker)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.jobs import read_report

    worker = cluster["worker"]
    started = worker.run(
        "deployment-run",
        ["prefect", "--no-prompt", "deployment", "run", DAILY_UPDATE,
         "--params", json.dumps({"dask_address": cluster.dask_address})],
        env=cluster.platform_env(worker),
    )  # fmt: skip
    [run_id] = _FLOW_RUN_ID.findall(started.log_path.read_text())[-1:]
    with (
        temporary_settings({PREFECT_API_URL: cluster.prefect_api_url}),
        get_client(sync_client=True) as client,
    ):

        def final():
            state = client.read_flow_run(run_id).state
            return state if state is not None and state.is_final() else None

        state = wait_for(final, timeout_s=UPDATE_TIMEOUT_S, every_s=1.0,
                         what=f"flow run {run_id} of {DAILY_UPDATE} to end",
                         details=lambda: "\n".join(cluster[h].tail() for h in
                                                   ("worker", "dask", *DASK_WORKERS)))  # fmt: skip
        report = read_report(client, UUID(run_id), "daily-update")
    history = cluster.metrics(
        "SELECT model_id, decision, worker FROM update_history WHERE job_id LIKE %s "
        "ORDER BY model_id",
        (f"{run_id}/%",),
    )
    return state, report, history


def champions_served(cluster: Cluster) -> dict[str, str]:
    import httpx

    response = httpx.get(f"{cluster.lb_url}/api/v1/ready", timeout=5, trust_env=False)
    return response.json().get("champions", {}) if response.status_code == 200 else {}


@pytest.mark.slow
def test_the_platform_runs_on_several_hosts(cluster: Cluster):
    began = time.monotonic()
    lb = cluster.process["lb"]

    # -- Trading through the load balancer: predictions, outcomes learned, a live stream.
    agent = cluster.start_agent(steps=AGENT_DAYS, interval_s=AGENT_INTERVAL_S)
    watcher = StreamWatcher(cluster.lb_url, SYMBOLS[0], TRADER)
    try:
        wait_for(lambda: sum(learned(cluster).values()) >= 3 * len(SYMBOLS), timeout_s=120,
                 what="the feedback workers learning the agent's first outcomes",
                 details=lambda: agent.tail() + "\n" + "\n".join(
                     cluster[w].tail() for w in FEEDBACK_WORKERS))  # fmt: skip
        assert partition_owners(cluster) <= set(FEEDBACK_WORKERS)
        # Each feedback worker's /metrics answers another host (this one, on the bridge).
        for name in FEEDBACK_WORKERS:
            scraped = httpx.get(f"http://{cluster[name].ip}:{METRICS_PORT}/metrics",
                                timeout=5, trust_env=False)  # fmt: skip
            assert scraped.status_code == 200 and "online_learning_" in scraped.text, name

        # Each replica fans out what the other served (the predictions topic): the stream,
        # held by one of them, shows predictions served by both, and the outcomes.
        wait_for(lambda: {f.get("served_by") for f in watcher.of("prediction")} >= set(REPLICAS),
                 timeout_s=60, what="predictions served by both replicas on one stream",
                 details=lambda: f"{watcher.frames[-5:]}\n{lb.tail()}")  # fmt: skip
        wait_for(lambda: watcher.of("outcome"), timeout_s=30, what="outcomes on the stream")
        attached = watcher.stream.replica  # the replica of the stream's last hello
        assert attached in REPLICAS
        survivor = next(r for r in REPLICAS if r != attached)

        # -- An API replica goes: the agent trades on (HAProxy resends to the other replica
        # what the stopped one refused, the SDK retries the rest), the stream resumes there.
        assert agent.running, f"the agent ended too soon: raise AGENT_DAYS\n{agent.tail()}"
        days_before, seen = trading_days(agent), len(watcher.frames)
        assert cluster.process[attached].stop() == 0, cluster.process[attached].tail()
        wait_until_balanced(cluster, [survivor])
        wait_for(lambda: [f for f in watcher.of("reset", seen) if f["replica"] == survivor],
                 timeout_s=30, what=f"the stream to resume on {survivor}",
                 details=lambda: f"{watcher.frames[seen:]}")  # fmt: skip
        wait_for(lambda: watcher.of("prediction", seen), timeout_s=30,
                 what="a prediction on the resumed stream")  # fmt: skip
        wait_for(lambda: trading_days(agent) >= days_before + 10, timeout_s=60,
                 what=f"the agent trading on after {attached} stopped",
                 details=agent.tail)  # fmt: skip

        # -- A feedback worker's host goes (killed: what it learned since its last recording
        # is lost with it): the other takes its partitions over from their recorded positions.
        assert agent.running, f"the agent ended too soon: raise AGENT_DAYS\n{agent.tail()}"
        learned_before = sum(learned(cluster).values())
        gone, remaining = FEEDBACK_WORKERS
        cluster.process[gone].stop(signal.SIGKILL)
        wait_for(lambda: sum(learned(cluster).values()) > learned_before + 3 * len(SYMBOLS),
                 timeout_s=60, what=f"{remaining} learning after {gone} stopped",
                 details=cluster[remaining].tail)  # fmt: skip

        # -- Every outcome the agent had accepted is learned, once.
        assert agent.wait(300) == 0, agent.tail()
    finally:
        watcher.close()
    output = agent.log_path.read_text()
    [(days, symbols, outcomes)] = _SUMMARY.findall(output)
    totals = {status: int(n) for n, status in re.findall(r"(\d+) (\w+)", outcomes)}
    expected = int(days) * int(symbols)
    assert int(days) == trading_days(agent) and totals.get("rejected", 0) == 0, output[-2000:]
    assert totals["accepted"] + totals.get("duplicate", 0) >= expected, totals
    wait_for(lambda: sum(learned(cluster).values()) == expected, timeout_s=60,
             what=f"the {expected} outcomes the agent settled, learned",
             details=lambda: f"{learned(cluster)}\n{cluster[remaining].tail()}")  # fmt: skip
    per_symbol = learned(cluster)
    assert per_symbol == dict.fromkeys(SYMBOLS, int(days)), per_symbol
    assert samples_seen(cluster) == per_symbol  # each learned by its session exactly once
    assert partition_owners(cluster) == {remaining}
    others = "SELECT trade_id FROM processed_trades WHERE trade_id NOT LIKE 't-%%'"
    assert cluster.metrics(others) == []  # the agent's trades, and nothing else

    # -- An update round on the work pool, its updates on the two Dask hosts.
    state, report, history = run_daily_update(cluster)
    assert state.is_completed(), f"{state}\n{cluster['worker'].tail()}"
    assert len(history) == len(report) == 3, (history, report)
    assert {worker.split(":", 1)[0] for _, _, worker in history} == set(DASK_WORKERS), history
    # The surviving replica serves what the round promoted (its registry poll or the
    # model-updates events relayed by the feedback worker).
    promoted = {r["model"]: r["version"] for r in report if r["decision"] == "promoted"}
    wait_for(lambda: all(champions_served(cluster).get(m) == v for m, v in promoted.items()),
             timeout_s=60, what=f"the API serving the promoted versions {promoted}",
             details=lambda: champions_served(cluster))  # fmt: skip

    # -- A Dask worker goes: the next round runs on the other.
    stopped, left = DASK_WORKERS
    cluster.process[stopped].stop()
    state, report, history = run_daily_update(cluster)
    assert state.is_completed(), f"{state}\n{cluster['worker'].tail()}"
    assert len(history) == 3 and {w.split(":", 1)[0] for _, _, w in history} == {left}, history

    # -- Each host kept to its own home, and none fell back to an embedded store.
    assert len(list((cluster["mlflow"].home / "artifacts").rglob("ewc_state.pt"))) >= 3
    for name, host in cluster.network.hosts.items():
        if name != "pg":  # its data folder is PostgreSQL's
            local = [p for p in host.home.rglob("*") if p.name in EMBEDDED]
            assert local == [], f"{name} wrote what belongs to a server: {local}"
    print(f"several hosts: {time.monotonic() - began:.0f} s after the platform started")
