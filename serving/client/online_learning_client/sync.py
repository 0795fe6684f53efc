"""The blocking client (httpx): every call of the API, with retries for idempotent ones."""

from __future__ import annotations

import time
from typing import Any

import httpx

from online_learning_client._api import Endpoints
from online_learning_client._base import DEFAULT_URL, read
from online_learning_client._calls import MAX_BATCH, Call
from online_learning_client._retry import RetryPolicy, connection_failed
from online_learning_client.errors import JobTimeout
from online_learning_client.models import Job

__all__ = ["Client"]


class Client(Endpoints):
    """A blocking client of the serving API.

    Parameters
    ----------
    base_url : str
        The server, e.g. ``http://127.0.0.1:8000`` (``/api/v1`` is added).
    api_key : str, optional
        Bearer key; default :func:`online_learning_client.api_key_from_env`.
    timeout : float
        Seconds per request (connect, read, write).
    retry : RetryPolicy, optional
        When to send a failed call again (default: 3 retries, idempotent calls only).
    max_batch : int
        Rows per batch request; longer lists are split (the server takes at most 1000).
    http : httpx.Client, optional
        A client of your own (proxies, TLS, a transport); it is not closed by :meth:`close`.

    Examples
    --------
    ::

        with Client("http://127.0.0.1:8000", "agent-key-0123456789") as client:
            p = client.predict("AAA", bars=recent_bars)
            print(p.p_up, p.position, p.versions())
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_batch: int = MAX_BATCH,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retry=retry, max_batch=max_batch)
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=self.base_url, timeout=self.timeout)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(
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
            time.sleep(delay)
            attempt += 1

    _one = _send

    def _all(self, batch: list[Call]) -> list[Any]:
        return [item for call in batch for item in self._send(call)]

    def wait_for_job(self, job_id: str, timeout: float = 600.0, *, poll_s: float = 1.0) -> Job:
        """Poll the job until it is final (promoted, rolled_back, deferred, failed);
        :class:`JobTimeout` (with the last state) after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.job(job_id)
            if current.finished:
                return current
            left = deadline - time.monotonic()
            if left <= 0:
                raise JobTimeout(current, timeout)
            time.sleep(min(poll_s, left))
