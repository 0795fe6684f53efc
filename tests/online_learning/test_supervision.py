"""The supervisor restarts real children that die, later each time, says so, stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from online_learning.supervision import ProcessChild, Supervisor, ThreadChild

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(SLEEPER, start_new_session=True)


def test_a_killed_process_is_restarted_later_each_time_in_a_row_and_it_is_said():
    said: list[str] = []
    supervisor = Supervisor(say=said.append, first_delay_s=0.2, max_delay_s=0.8,
                            stable_after_s=30, check_every_s=0.02)  # fmt: skip
    with supervisor:
        child = supervisor.add(ProcessChild("worker", _sleeper, stop_timeout_s=5))
        pids = [child.process.pid]
        for n in (1, 2, 3, 4):
            os.killpg(child.process.pid, signal.SIGKILL)
            assert supervisor.wait_restarted("worker", times=n, timeout_s=30) == n
            pids.append(child.process.pid)
        last = child.process
    assert len(set(pids)) == 5  # a new process each time
    deaths = [line for line in said if "killed" in line]
    assert deaths == [
        "worker was killed by SIGKILL; restarting it in 0.2 s (restart 1)",
        "worker was killed by SIGKILL; restarting it in 0.4 s (restart 2)",
        "worker was killed by SIGKILL; restarting it in 0.8 s (restart 3)",
        "worker was killed by SIGKILL; restarting it in 0.8 s (restart 4)",  # bounded
    ]
    assert [line for line in said if line.endswith(")") and "restarted" in line] == [
        f"worker restarted (restart {n})" for n in (1, 2, 3, 4)
    ]
    assert last.poll() is not None  # stopped with the supervisor


def test_a_child_that_stays_up_long_enough_starts_its_delays_again():
    said: list[str] = []
    supervisor = Supervisor(say=said.append, first_delay_s=0.2, max_delay_s=5,
                            stable_after_s=0.5, check_every_s=0.02)  # fmt: skip
    with supervisor:
        child = supervisor.add(ProcessChild("api", _sleeper, stop_timeout_s=5))
        child.process.kill()
        supervisor.wait_restarted("api", times=1, timeout_s=30)
        child.process.kill()
        supervisor.wait_restarted("api", times=2, timeout_s=30)
        time.sleep(1.0)  # up longer than stable_after_s
        child.process.kill()
        supervisor.wait_restarted("api", times=3, timeout_s=30)
    delays = [line.split(" in ")[1].split(" s")[0] for line in said if "killed" in line]
    assert delays == ["0.2", "0.4", "0.2"]


def test_a_thread_that_raises_or_returns_is_restarted_and_stopped_at_the_end():
    said: list[str] = []
    runs: list[int] = []
    stopped = threading.Event()

    def flaky(stop: threading.Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the consumer was closed")
        if len(runs) == 2:
            return  # returned without being asked to
        stop.wait()
        stopped.set()

    with Supervisor(say=said.append, first_delay_s=0.05, check_every_s=0.01) as supervisor:
        supervisor.add(ThreadChild("feedback worker", flaky))
        supervisor.wait_restarted("feedback worker", times=2, timeout_s=30)
    assert stopped.is_set() and len(runs) == 3
    assert said[0].startswith(
        "feedback worker raised RuntimeError: the consumer was closed; restarting it in"
    )
    assert said[2].startswith("feedback worker returned; restarting it in")


def test_two_children_of_one_name_are_refused():
    with Supervisor(check_every_s=0.01) as supervisor:
        supervisor.add(ThreadChild("relay", lambda stop: stop.wait()))
        with pytest.raises(ValueError, match="relay"):
            supervisor.add(ThreadChild("relay", lambda stop: stop.wait()))
