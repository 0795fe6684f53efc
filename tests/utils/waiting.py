"""Waiting for what another thread or process does: one poll, one failure message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    *,
    timeout_s: float,
    what: str,
    every_s: float = 0.2,
    details: Callable[[], object] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    ``condition`` runs at once and then every ``every_s`` seconds; an exception it raises ends
    the wait there. After ``timeout_s`` an ``AssertionError`` names ``what`` was awaited, the
    last value seen (when it says more than ``False``) and ``details()``: a log's tail, a
    job's state, whatever tells the reader why it never came.

    >>> calls = []
    >>> wait_for(lambda: calls.append(1) or len(calls) >= 3, timeout_s=5, what="3", every_s=0)
    True
    >>> wait_for(list, timeout_s=0, what="a non-empty list", details=lambda: "nothing sent")
    Traceback (most recent call last):
    AssertionError: timed out after 0 s waiting for a non-empty list (last: [])
    nothing sent
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout_s:g} s waiting for {what}"
            if not isinstance(value, bool):
                message += f" (last: {value!r:.300})"
            if details is not None:
                message += f"\n{details()}"
            raise AssertionError(message)
        time.sleep(every_s)
