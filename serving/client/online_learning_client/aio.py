"""The async client (httpx + websockets): the API's calls, and live streams that reconnect."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from online_learning_client._api import Endpoints
from online_learning_client._base import DEFAULT_URL, read
from online_learning_client._calls import MAX_BATCH, Call
from online_learning_client._retry import RetryPolicy, connection_failed
from online_learning_client.errors import JobTimeout
from online_learning_client.models import Job
from online_learning_client.stream import Stream

__all__ = ["AsyncClient"]


class AsyncClient(Endpoints):
    """The async twin of :class:`online_learning_client.Client`: the same calls and parameters, each
    returning an awaitable of the same result; plus :meth:`stream`.

    Examples
    --------
    ::

        async with AsyncClient("http://127.0.0.1:8000", key) as client:
            prediction = await client.predict("AAA", bars=recent_bars)
            async for frame in client.stream("AAA"):
                print(frame["type"], frame.get("seq"))
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_batch: int = MAX_BATCH,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retry=retry, max_batch=max_batch)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json, params=call.params,
                    headers=self.headers,
                )  # fmt: skip
            except httpx.TransportError as error:
                delay = self.retry.after_error(error, idempotent=call.idempotent, attempt=attempt)
                if delay is None:
                    raise connection_failed(error, call.method, call.path) from error
            else:
                delay = self.retry.after_response(
                    response, idempotent=call.idempotent, attempt=attempt
                )
                if delay is None:
                    return read(response, call)
            await asyncio.sleep(delay)
            attempt += 1

    _one = _send

    async def _all(self, batch: list[Call]) -> list[Any]:
        out: list[Any] = []
        for call in batch:  # in order: a batch's predictions keep the order asked
            out += await self._send(call)
        return out

    async def wait_for_job(
        self, job_id: str, timeout: float = 600.0, *, poll_s: float = 1.0
    ) -> Job:
        """Poll the job until it is final (promoted, rolled_back, deferred, failed);
        :class:`JobTimeout` (with the last state) after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            current = await self.job(job_id)
            if current.finished:
                return current
            left = deadline - time.monotonic()
            if left <= 0:
                raise JobTimeout(current, timeout)
            await asyncio.sleep(min(poll_s, left))

    def stream(
        self,
        symbol: str,
        *,
        since: int | None = None,
        max_retries: int | None = None,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        auth: str = "header",
        control: bool = False,
    ) -> Stream:
        """Live frames of ``symbol``: an async iterator that reconnects by itself.

        See :class:`online_learning_client.stream.Stream`: it resumes after the last sequence number
        it delivered, drops replayed duplicates, yields ``gap`` frames (and ``reset`` when the
        server's numbering restarted). It raises :class:`AuthenticationError` when the key is
        refused, and :class:`ConnectionFailed` after ``max_retries`` reconnections in a row that
        failed (default: it never gives up). ``control=True`` also yields the ``hello`` frames.
        """
        return Stream(
            self.base_url, symbol, api_key=self._api_key, since=since,
            max_retries=max_retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s,
            auth=auth, open_timeout=self.timeout, control=control,
        )  # fmt: skip
