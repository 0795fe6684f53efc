"""examples/trading_agent.py trades the simulated market through a live platform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serving.client import Client
from tests.serving.client.helpers import AGENT, OPS

ROOT = Path(__file__).resolve().parents[3]


def test_example_agent_predicts_trades_and_feeds_its_outcomes_back(live, tmp_path):
    (tmp_path / "api-key").write_text(AGENT + "\n")  # as `make run` leaves it
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
        sessions = {s["symbol"]: s for s in client.sessions()}
        # Each symbol's online session learned the agent's four outcomes, once each.
        assert {sym: sessions[sym]["samples_seen"] for sym in ("AGT0", "AGT1", "AGT2")} == {
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
