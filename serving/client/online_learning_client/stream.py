"""A per-symbol stream of the platform's frames that survives restarts and dropped sockets.

The server numbers each symbol's frames (``seq``, per replica, contiguous) and keeps a replay
buffer: ``/api/v1/streaming/{symbol}?since=N`` sends the frames after ``N`` first, or a
``{"type": "gap", "from": a, "to": b}`` frame for the part it no longer has. This iterator
remembers the last ``seq`` it delivered and reconnects with it, so a consumer sees each frame
once, or a ``gap`` frame saying what it missed.

Sequence numbers are valid within one ``(replica, epoch)`` of the ``hello`` frame; the iterator
resumes with ``?since=<seq>&epoch=<epoch>``. When the numbering restarted (the server
restarted, or the connection reached another replica: another ``replica`` or ``epoch``, or a
``seq`` behind ours), there is nothing to resume: the iterator yields ``{"type": "reset",
"symbol", "replica", "epoch", "previous_replica", "previous_epoch", "last_seq", "seq"}`` and
then what the new numbering
still has from its start (the server sends it for a ``since`` of another epoch; a server
without epochs is asked again with ``since=0``).

The key travels in the ``Authorization`` header (or, with ``auth="subprotocol"``, as the
``bearer.<key>`` subprotocol), never in the URL, which proxies and access logs record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from online_learning_client._calls import API
from online_learning_client.errors import AuthenticationError, ConnectionFailed, error_for_status

__all__ = ["Stream"]

log = logging.getLogger(__name__)
#: The server closes with this code when the key was revoked or is invalid: do not retry.
POLICY_VIOLATION = 1008


class Stream:
    """Async iterator over the frames of one symbol; ``async with`` (or :meth:`aclose`) ends it.

    Attributes
    ----------
    last_seq : int or None
        The last sequence number delivered (or covered by a ``gap`` frame).
    replica : str or None
        The replica of the current numbering (from ``hello``).
    connections, duplicates : int
        Successful connections so far; replayed frames dropped as already delivered.
    """

    def __init__(
        self,
        base_url: str,
        symbol: str,
        *,
        api_key: str | None,
        since: int | None = None,
        max_retries: int | None = None,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        auth: str = "header",
        open_timeout: float = 10.0,
        control: bool = False,
    ) -> None:
        if auth not in ("header", "subprotocol"):
            raise ValueError(f"auth must be 'header' or 'subprotocol', got {auth!r}")
        if max_retries is not None and max_retries < 0:
            raise ValueError(f"max_retries must be >= 0 or None, got {max_retries!r}")
        if since is not None and since < 0:
            raise ValueError(f"since must be >= 0, got {since!r}")
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
        scheme, rest = base_url.split("://", 1)
        self._url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}{API}/streaming/"
        self._url += quote(symbol, safe="")
        self.symbol = symbol
        self.last_seq = since
        self.replica: str | None = None
        self._epoch: Any = None
        self._sent_epoch: Any = None  # the epoch the current connection resumed in
        self.connections = 0
        self.duplicates = 0
        self._api_key = api_key
        self._auth = auth
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._open_timeout = open_timeout
        self._control = control
        self._frames: AsyncIterator[dict[str, Any]] | None = None
        self._failures = 0
        self._ws: ClientConnection | None = None  # the open connection, if any

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._frames is None:
            self._frames = self._run()
        return await self._frames.__anext__()

    async def aclose(self) -> None:
        if self._frames is not None:
            await self._frames.aclose()  # closes the socket it holds

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self) -> str:
        """The URL of the next connection (the resume point; never the key)."""
        if self.last_seq is None:
            return self._url
        url = f"{self._url}?since={self.last_seq}"
        return url if self._epoch is None else f"{url}&epoch={quote(str(self._epoch), safe='')}"

    def _connect(self) -> connect:
        self._sent_epoch = self._epoch if self.last_seq is not None else None
        headers, subprotocols = {}, None
        if self._api_key and self._auth == "header":
            headers["Authorization"] = f"Bearer {self._api_key}"
        elif self._api_key:
            subprotocols = [Subprotocol("bearer"), Subprotocol(f"bearer.{self._api_key}")]
        return connect(
            self.url(), additional_headers=headers, subprotocols=subprotocols,
            open_timeout=self._open_timeout, user_agent_header="online-learning-sdk/0.1",
        )  # fmt: skip

    def _delay(self, failures: int) -> float:
        """Capped exponential backoff with "equal jitter": between half and all of the cap, so
        that reconnecting clients spread out but none hammers a server that is starting."""
        cap = min(self._max_backoff_s, self._backoff_s * 2**failures)
        return cap / 2 + random.uniform(0.0, cap / 2)

    async def _run(self) -> AsyncIterator[dict[str, Any]]:
        self._failures = 0  # failed connections in a row; a hello resets it
        while True:
            try:
                ws = await self._connect()
            except InvalidStatus as error:
                status = error.response.status_code
                if status < 500:
                    raise _refused(status, error.response.body) from error
                reason = f"HTTP {status}"
            except (OSError, TimeoutError, InvalidHandshake) as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                self._ws, resume_now = ws, False
                try:
                    async with aclosing(self._receive(ws)) as frames:
                        async for frame in frames:
                            if frame is _RESUME:
                                resume_now = True
                                break
                            yield frame
                finally:
                    self._ws = None
                    await ws.close()
                if resume_now:
                    continue  # the numbering restarted: replay the new one from its start
                if ws.close_code == POLICY_VIOLATION:
                    raise AuthenticationError(
                        None, f"the server closed the stream: {ws.close_reason or 'key refused'}"
                    )
                reason = f"closed with code {ws.close_code} {ws.close_reason or ''}".strip()
            self._failures += 1
            if self._max_retries is not None and self._failures > self._max_retries:
                raise ConnectionFailed(
                    f"stream {self.symbol}: gave up after {self._failures} failed "
                    f"connections in a row ({reason})"
                )
            log.info("stream %s: %s; reconnecting after seq %s", self.symbol, reason, self.last_seq)
            await asyncio.sleep(self._delay(self._failures - 1))

    async def _receive(self, ws: ClientConnection) -> AsyncIterator[Any]:
        try:
            async for message in ws:
                try:
                    frame = json.loads(message)
                except ValueError:
                    log.warning("stream %s: a frame that is not JSON, skipped", self.symbol)
                    continue
                if not isinstance(frame, dict):
                    continue
                kind = frame.get("type")
                if kind == "hello":
                    self._failures = 0
                    reset = self._hello(frame)
                    if self._control:
                        yield frame
                    if reset is not None:
                        yield reset
                        # A server that knows epochs answered a `since` of another epoch
                        # with its whole buffer; any other must be asked again from 0.
                        replayed = self._sent_epoch is not None and "epoch" in frame
                        if reset["seq"] and not replayed:
                            yield _RESUME
                            return
                    continue
                if kind == "gap":
                    end = frame.get("to")
                    if isinstance(end, int):
                        self.last_seq = max(self.last_seq or 0, end)
                    yield frame
                    continue
                seq = frame.get("seq")
                if isinstance(seq, int):
                    if self.last_seq is not None and seq <= self.last_seq:
                        self.duplicates += 1  # replayed, already delivered
                        continue
                    self.last_seq = seq
                yield frame
        except ConnectionClosed:
            return  # ws.close_code says why; the caller decides

    def _hello(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        """Note the replica; a ``reset`` frame when the numbering restarted."""
        self.connections += 1
        replica, seq, epoch = frame.get("replica"), frame.get("seq"), frame.get("epoch")
        previous, previous_epoch, last = self.replica, self._epoch, self.last_seq
        moved = previous is not None and (replica != previous or epoch != previous_epoch)
        self.replica, self._epoch = replica, epoch
        behind = isinstance(seq, int) and last is not None and seq < last
        if not (moved or behind):
            return None
        self.last_seq = 0
        return {
            "type": "reset", "symbol": self.symbol, "replica": replica, "epoch": epoch,
            "previous_replica": previous, "previous_epoch": previous_epoch, "last_seq": last,
            "seq": seq,
        }  # fmt: skip


_RESUME: Any = object()


def _refused(status: int, body: bytes | None) -> Exception:
    try:
        parsed = json.loads(body or b"")
    except ValueError:
        parsed = None
    text = (body or b"").decode("utf-8", "replace")
    if status in (401, 403):
        # A stream is refused with 403 before it opens when the key is missing or wrong.
        error = error_for_status(status, parsed, text)
        return AuthenticationError(status, f"stream refused: {error.message}", body=parsed)
    return error_for_status(status, parsed, text)
