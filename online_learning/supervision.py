"""Children that must keep running: restarted with a bounded backoff when they die, and said so.

``online-learning up`` runs the serving API in a child process and the feedback worker and the
outbox relay in threads of its own. Any of them can die (a crash, the OOM killer, ``kill -9``,
an error nobody foresaw); without a supervisor the platform would go on without it and say
nothing. :class:`Supervisor` watches its children and restarts a dead one after a delay that
doubles with each death in a row (1 s up to 60 s by default) and starts again from the first
once the child has stayed up for ``stable_after_s``. Every death and restart is said (a log
line, and the ``say`` callback: ``up`` prints it) and counted.

A child is a :class:`ProcessChild` (a command started in its own process group, stopped with
SIGTERM then SIGKILL) or a :class:`ThreadChild` (a function run in a thread until a stop event
is set; returning or raising before that is a death).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from online_learning.monitoring.health import Backoff, ComponentHealth
from online_learning.processes import stop_process_group

__all__ = ["ProcessChild", "Supervisor", "ThreadChild"]

logger = logging.getLogger(__name__)


class ProcessChild:
    """A child process: ``spawn()`` starts it (``start_new_session=True``, so that stopping
    its group stops its own children) and returns the :class:`subprocess.Popen`."""

    def __init__(
        self, name: str, spawn: Callable[[], subprocess.Popen], *, stop_timeout_s: float = 20.0
    ) -> None:
        self.name = name
        self.spawn = spawn
        self.stop_timeout_s = stop_timeout_s
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = self.spawn()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def death(self) -> str:
        code = None if self.process is None else self.process.returncode
        if code is not None and code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, timeout_s=self.stop_timeout_s)


class ThreadChild:
    """A function run in a daemon thread as ``target(stop)``; it must return once ``stop``
    is set. Returning or raising while ``stop`` is not set is a death."""

    def __init__(self, name: str, target: Callable[[threading.Event], object]) -> None:
        self.name = name
        self.target = target
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.target(self._stop)
        except BaseException as exc:  # a death to report and restart, never to hide
            self._error = exc
            logger.error("%s raised", self.name, exc_info=exc)

    def start(self) -> None:
        self._stop = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def death(self) -> str:
        if self._error is not None:
            return f"raised {type(self._error).__name__}: {self._error}"
        return "returned"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


Child = ProcessChild | ThreadChild


@dataclass
class _Watched:
    child: Child
    backoff: Backoff
    started_at: float
    restarts: int = 0
    restart_at: float | None = None
    deaths: list[str] = field(default_factory=list)


class Supervisor:
    """Starts children and restarts the ones that die (see the module doc).

    Parameters
    ----------
    say : callable, optional
        Called with one line per death and per restart instead of logging it (``up`` prints
        it on its console, which is its log).
    first_delay_s, max_delay_s : float
        The restart delay after the first death in a row, doubling up to ``max_delay_s``.
    stable_after_s : float
        A child up this long has its delay reset to ``first_delay_s``.
    check_every_s : float
        How often the children are looked at.

    Examples
    --------
    >>> import sys
    >>> said = []
    >>> with Supervisor(say=said.append, first_delay_s=0.05, check_every_s=0.01) as sup:
    ...     child = sup.add(ProcessChild("sleeper", lambda: subprocess.Popen(
    ...         [sys.executable, "-c", "import time; time.sleep(60)"],
    ...         start_new_session=True)))
    ...     child.process.kill()
    ...     sup.wait_restarted("sleeper", timeout_s=30)
    1
    >>> said[0]
    'sleeper was killed by SIGKILL; restarting it in 0.1 s (restart 1)'
    """

    def __init__(
        self,
        *,
        say: Callable[[str], None] | None = None,
        first_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        stable_after_s: float = 60.0,
        check_every_s: float = 0.5,
    ) -> None:
        self.say = say
        self.first_delay_s, self.max_delay_s = first_delay_s, max_delay_s
        self.stable_after_s = stable_after_s
        self.check_every_s = check_every_s
        self.health = ComponentHealth("supervisor", logger=logger)
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- children -------------------------------------------------------------------------
    def add(self, child: Child) -> Child:
        """Start ``child`` and watch it from now on; returns it."""
        backoff = Backoff(first_s=self.first_delay_s, max_s=self.max_delay_s, jitter=0.0)
        with self._lock:
            if child.name in self._watched:
                raise ValueError(f"a child named {child.name!r} is supervised already")
            child.start()
            self._watched[child.name] = _Watched(child, backoff, time.monotonic())
        return child

    def remove(self, name: str) -> None:
        """Stop watching the child ``name`` and stop it."""
        with self._lock:
            watched = self._watched.pop(name, None)
        if watched is not None:
            watched.child.stop()

    def restarts(self, name: str) -> int:
        with self._lock:
            return self._watched[name].restarts

    def wait_restarted(self, name: str, *, times: int = 1, timeout_s: float = 60.0) -> int:
        """Block until ``name`` was restarted ``times`` times and runs; returns the count."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                watched = self._watched[name]
                if watched.restarts >= times and watched.child.alive():
                    return watched.restarts
            time.sleep(0.01)
        raise TimeoutError(f"{name} was not restarted {times} time(s) within {timeout_s:.0f} s")

    # -- the loop -------------------------------------------------------------------------
    def check(self, now: float | None = None) -> None:
        """Look at every child once: note the dead, restart the ones whose delay is over."""
        now = time.monotonic() if now is None else now
        with self._lock:
            watched = list(self._watched.values())
        for item in watched:
            child = item.child
            if item.restart_at is None:
                if child.alive():
                    if now - item.started_at >= self.stable_after_s:
                        item.backoff.reset()
                    continue
                delay = item.backoff.next()
                item.restart_at = now + delay
                death = child.death()
                item.deaths.append(death)
                self.health.count(f"{child.name} died")
                self._say(
                    f"{child.name} {death}; restarting it in {delay:.1f} s "
                    f"(restart {item.restarts + 1})",
                    logging.WARNING,
                )
            elif now >= item.restart_at:
                try:
                    child.start()
                except Exception as exc:  # could not even start: try again later
                    delay = item.backoff.next()
                    item.restart_at = now + delay
                    self._say(f"{child.name} could not be restarted ({exc}); next try in "
                              f"{delay:.1f} s", logging.ERROR)  # fmt: skip
                    continue
                item.restart_at = None
                item.started_at = now
                item.restarts += 1
                self.health.count(f"{child.name} restarted")
                self._say(f"{child.name} restarted (restart {item.restarts})", logging.INFO)

    def _say(self, line: str, level: int) -> None:
        if self.say is None:
            logger.log(level, "%s", line)
            return
        try:
            self.say(line)
        except Exception:  # saying it must never stop the supervision
            logger.log(level, "%s", line)
            logger.exception("could not say %r", line)

    def run(self, stop: threading.Event) -> None:
        """Check the children every ``check_every_s`` until ``stop`` is set."""
        while not stop.wait(self.check_every_s):
            self.check()

    def __enter__(self) -> Supervisor:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="supervisor", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop supervising, then stop every child (last added first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            names = list(self._watched)
        for name in reversed(names):
            self.remove(name)
