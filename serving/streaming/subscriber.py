"""One WebSocket subscriber: a bounded queue that coalesces predictions, and the writer loop.

The hub never awaits a socket. It *offers* each frame to every subscriber of the symbol
(:meth:`Subscriber.offer`, a few deque operations), and each connection's own writer task
(:meth:`Subscriber.pump`) sends what is queued, one send at a time; the hub's watchdog
cancels a send that takes longer than ``send_timeout_s``. So a slow socket only ever delays
itself.

When the queue is full the subscriber is *behind*: the queued predictions are replaced by
the newest one (a later prediction of the symbol supersedes them; seq numbers then jump by
the frames coalesced), drift and outcome frames are kept. A subscriber that stays behind
longer than ``max_behind_s``, whose queue fills with frames that may not be coalesced, or
whose socket takes longer than ``send_timeout_s`` to take a frame, is closed with code
**4008** and counted (``online_learning_stream_slow_closed_total``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from serving.streaming import metrics
from serving.streaming.frames import COALESCABLE, Frame

__all__ = ["CLOSE_POLICY_VIOLATION", "CLOSE_SLOW", "Subscriber"]

#: Close code of a subscriber that stayed behind (private-use range 4000-4999).
CLOSE_SLOW = 4008
#: Close code of a connection whose key stopped being valid (RFC 6455 policy violation).
CLOSE_POLICY_VIOLATION = 1008
CLOSE_GOING_AWAY = 1001

_SENT = {kind: metrics.FRAMES_SENT.labels(kind) for kind in ("prediction", "drift", "outcome")}


class Subscriber:
    """A client of one symbol stream (see the module docstring).

    Parameters
    ----------
    symbol : str
    queue_size : int
        Frames queued at most; beyond, predictions are coalesced.
    max_behind_s : float
        How long the queue may stay full before the subscriber is closed as slow.
    clock : callable
        Monotonic seconds (swapped in tests).
    """

    def __init__(
        self,
        symbol: str,
        *,
        queue_size: int,
        max_behind_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.symbol = symbol
        self.queue_size = queue_size
        self.max_behind_s = max_behind_s
        self._clock = clock
        self.queue: deque[Frame] = deque()
        self.backlog: list[tuple[str, str]] = []  # (kind, text) sent before the queue
        self.behind_since: float | None = None
        self.close_request: tuple[int, str] | None = None
        self.disconnected = False
        self.released = False  # the hub has forgotten it (counted once)
        self.task: asyncio.Task | None = None
        self.sending_since: float | None = None
        self.timed_out = False
        self.next_check = 0.0
        self.coalesced = 0
        self.sent = 0
        self._wakeup = asyncio.Event()

    # -- producer side (the hub, on the event loop) ------------------------------------------

    def offer(self, frame: Frame) -> bool:
        """Queue ``frame``; False when the subscriber must be closed as slow."""
        if self.close_request is not None:
            return True
        queue = self.queue
        if len(queue) < self.queue_size:
            queue.append(frame)
            self._wakeup.set()
            return True
        now = self._clock()
        if self.behind_since is None:
            self.behind_since = now
        elif now - self.behind_since > self.max_behind_s:
            return False
        kept = [f for f in queue if f.kind not in COALESCABLE]
        dropped = len(queue) - len(kept)
        if frame.kind not in COALESCABLE:
            # Keep the newest queued prediction: it is still the latest one for the symbol.
            latest = next((f for f in reversed(queue) if f.kind in COALESCABLE), None)
            if latest is not None:
                kept = [f for f in queue if f.kind not in COALESCABLE or f is latest]
                dropped -= 1
        if len(kept) >= self.queue_size:
            return False  # full of drift and outcome frames: nothing may be coalesced away
        self.coalesced += dropped
        metrics.FRAMES_COALESCED.inc(dropped)
        queue.clear()
        queue.extend(kept)
        queue.append(frame)
        self._wakeup.set()
        return True

    def request_close(self, code: int, reason: str) -> None:
        """Ask the writer to close with ``code`` (the first request wins)."""
        if self.close_request is None:
            self.close_request = (code, reason)
        self._wakeup.set()

    def mark_disconnected(self) -> None:
        self.disconnected = True
        self._wakeup.set()

    # -- writer side (the connection's task) -------------------------------------------------

    async def pump(
        self,
        send: Callable[[str], Awaitable[None]],
        *,
        check_every_s: float,
        check: Callable[[], tuple[int, str] | None],
    ) -> tuple[int, str] | None:
        """Send the backlog, then queued frames, until a close is due.

        Returns the ``(code, reason)`` to close with, or None when the client went away.
        ``check`` runs about every ``check_every_s`` (the key's revalidation) and returns a
        close to perform, if any. Timeouts come from :meth:`watch`, called by the hub's
        watchdog: no timer is armed per frame (two per frame cost ~15 % of the server's CPU
        at 1,000 subscribers).
        """
        loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.next_check = loop.time() + check_every_s
        backlog, self.backlog = self.backlog, []
        for kind, text in backlog:
            if not await self._send(send, text, loop):
                return self.close_request
            metrics.FRAMES_SENT.labels(kind).inc()
        queue = self.queue
        while True:
            if self.disconnected:
                return None
            if self.close_request is not None:
                return self.close_request
            if loop.time() >= self.next_check:
                self.next_check = loop.time() + check_every_s
                verdict = check()
                if verdict is not None:
                    return verdict
            if not queue:
                self.behind_since = None
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            frame = queue.popleft()
            if not await self._send(send, frame.text, loop):
                queue.appendleft(frame)  # never taken by the socket: counted as dropped
                return self.close_request
            self.sent += 1
            _SENT[frame.kind].inc()

    async def _send(self, send, text: str, loop) -> bool:
        self.sending_since = loop.time()
        try:
            await send(text)
            return True
        except asyncio.CancelledError:
            if not self.timed_out:
                raise
            self.task.uncancel()
            if self.close_request is None:
                self.close_request = (CLOSE_SLOW, "send timed out: client too slow")
            return False
        finally:
            self.sending_since = None

    def watch(self, now: float, send_timeout_s: float) -> None:
        """The watchdog's visit: cancel a send older than ``send_timeout_s`` (a close with
        4008 follows) and wake an idle writer whose key is due for its check."""
        if self.task is None:
            return
        since = self.sending_since
        if since is not None:
            if now - since > send_timeout_s and not self.timed_out:
                self.timed_out = True
                self.task.cancel()
        elif now >= self.next_check:
            self._wakeup.set()

    @staticmethod
    def texts(frames: Iterable[Frame]) -> list[tuple[str, str]]:
        return [(f.kind, f.text) for f in frames]
