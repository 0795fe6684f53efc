"""examples/trading_agent.py trades the simulated market through a live platform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from online_learning_client import Client
from tests.utils.api_keys import OPS, TRADER
from tests.utils.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]


def test_example_agent_predicts_trades_and_feeds_its_outcomes_back(live, tmp_path):
    (tmp_path / "api-key").write_text(TRADER + "\n")  # as `make run` leaves it
    env = {k: v for k, v in os.environ.items() if k != "ONLINE_LEARNING_API_KEY"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "trading_agent.py"), "--url", live.url,
         "--home", str(tmp_path), "--steps", "4", "--interval", "0",
         "--min-confidence", "0.5"],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert sum(" position " in line for line in lines) == 4 * 3  # four days, three symbols
    assert "4 days x 3 symbols" in lines[-1] and "12 accepted" in lines[-1]
    with Client(live.url, OPS) as client:
        sessions = {s.symbol: s for s in client.sessions()}
        # Each symbol's online session learned the agent's four outcomes, once each.
        assert {sym: sessions[sym].samples_seen for sym in ("AGT0", "AGT1", "AGT2")} == {
            "AGT0": 4, "AGT1": 4, "AGT2": 4
        }  # fmt: skip


def test_example_agent_without_a_key_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ONLINE_LEARNING_API_KEY"}
    env["ONLINE_LEARNING_HOME"] = str(tmp_path)  # no api-key file there
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "trading_agent.py"), "--steps", "1"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1
    assert "no API key" in run.stderr


def test_example_agent_loses_no_outcome_while_the_platform_is_down(live, tmp_path):
    """The server stops under the running agent and comes back: the days it could not settle
    are posted again later, and every traded day is learned exactly once."""
    import queue
    import re
    import threading

    env = {**os.environ, "ONLINE_LEARNING_API_KEY": TRADER}
    agent = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "trading_agent.py"), "--url", live.url,
         "--steps", "25", "--interval", "0.1", "--min-confidence", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in agent.stdout], daemon=True).start()

    said: list[str] = []

    def wait_for_line(pattern: str, timeout: float = 120) -> str:
        def matching() -> str | None:
            try:
                said.append(lines.get(timeout=0.5))
            except queue.Empty:
                return None
            return said[-1] if re.search(pattern, said[-1]) else None

        return wait_for(
            matching,
            timeout_s=timeout,
            what=f"the agent to say {pattern!r}",
            every_s=0,
            details=lambda: "".join(said[-20:]),
        )

    try:
        wait_for_line(r" position ")  # trading
        live.stop()
        wait_for_line(r"not traded or settled")  # the agent noticed, kept going
        live.start()
        agent.wait(timeout=180)
        rest = []
        while not lines.empty():
            rest.append(lines.get())
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, "\n".join(rest)
    summary = re.search(r"(\d+) days x 3 symbols", rest[-1])
    assert summary, rest[-1]
    days = int(summary.group(1))
    assert 0 < days <= 25  # a day whose prediction failed is not traded
    assert "0 rejected" in rest[-1]
    with Client(live.url, OPS) as client:
        sessions = {s.symbol: s.samples_seen for s in client.sessions()}
    assert {sym: sessions[sym] for sym in ("AGT0", "AGT1", "AGT2")} == dict.fromkeys(
        ("AGT0", "AGT1", "AGT2"), days
    )
