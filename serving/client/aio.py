"""The async client (httpx + websockets): the API's calls, and live streams that reconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from serving.client import _calls as calls
from serving.client._base import ClientBase, read
from serving.client._retry import connection_failed
from serving.client.errors import JobTimeout
from serving.client.stream import Stream
from serving.client.types import Job, JobAccepted, OutcomeResult, Prediction

__all__ = ["AsyncClient"]


class AsyncClient(ClientBase):
    """The async twin of :class:`serving.client.Client` (same calls, awaited), plus
    :meth:`stream`.

    Examples
    --------
    ::

        async with AsyncClient("http://127.0.0.1:8000", key) as client:
            prediction = await client.predict("AAA", bars=recent_bars)
            async for frame in client.stream("AAA"):
                print(frame["type"], frame.get("seq"))
    """

    def __init__(self, *args: Any, http: httpx.AsyncClient | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: calls.Call) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json, params=call.params,
                    headers=self.headers,
                )  # fmt: skip
            except httpx.TransportError as error:
                if not self.retry.retry_error(error, idempotent=call.idempotent, attempt=attempt):
                    raise connection_failed(error, call.method, call.path) from error
                await asyncio.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            if self.retry.retry_status(status, idempotent=call.idempotent, attempt=attempt):
                await asyncio.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue
            return read(response, call)

    # -- streams ----------------------------------------------------------------------------
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

        See :class:`serving.client.stream.Stream`: it resumes after the last sequence number
        it delivered, drops replayed duplicates, yields ``gap`` frames (and ``reset`` when the
        server's numbering restarted). It raises :class:`AuthenticationError` when the key is
        refused, and :class:`ConnectionFailed` after ``max_retries`` reconnections in a row that
        failed (default: it never gives up).
        """
        return Stream(
            self.base_url, symbol, api_key=self._api_key, since=since,
            max_retries=max_retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s,
            auth=auth, open_timeout=self.timeout, control=control,
        )  # fmt: skip

    # -- predictions ------------------------------------------------------------------------
    async def predict(
        self,
        symbol: str,
        *,
        features: Mapping[str, float] | None = None,
        bars: Any = None,
        strategy: str | None = None,
    ) -> Prediction:
        """One prediction from ``features`` (the model's feature names) or daily ``bars``
        (``[{date, close, open?, high?, low?, volume?}, ...]`` or a DataFrame, oldest first)."""
        return await self._send(
            calls.predict(symbol, features=features, bars=bars, strategy=strategy)
        )

    async def predict_many(
        self, requests: Sequence[Any], *, strategy: str | None = None
    ) -> list[Prediction]:
        """Predictions for ``(symbol, features)`` pairs or ``{symbol, features|bars}`` objects,
        in order, ``max_batch`` rows per request (one batched forward per model on the server)."""
        out: list[Prediction] = []
        for call in calls.predict_many(requests, strategy=strategy, max_batch=self.max_batch):
            out += await self._send(call)
        return out

    # -- feedback ---------------------------------------------------------------------------
    async def post_outcomes(self, outcomes: Any) -> list[OutcomeResult]:
        """Post one trade outcome (schema v1) or a list; one result per outcome, in order."""
        out: list[OutcomeResult] = []
        for call in calls.post_outcomes(outcomes, max_batch=self.max_batch):
            out += await self._send(call)
        return out

    # -- models, updates and jobs -------------------------------------------------------------
    async def models(self) -> list[dict[str, Any]]:
        return await self._send(calls.get("/models"))

    async def model_history(self, model_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        path = f"/models/{calls.segment(model_id, 'model_id')}/history"
        return await self._send(calls.get(path, {"limit": limit}))

    async def model_performance(self, model_id: str, *, days: int = 90) -> dict[str, Any]:
        path = f"/models/{calls.segment(model_id, 'model_id')}/performance"
        return await self._send(calls.get(path, {"days": days}))

    async def start_update(self, model_id: str, **options: Any) -> JobAccepted:
        """Queue an incremental update; options ``data_window=(start, end)`` or
        ``data_window_days``, ``learning_rate``, ``ewc_lambda``, ``stability_check``,
        ``epochs``. :class:`Conflict` while an update of the model is queued or running."""
        return await self._send(calls.start_update(model_id, **options))

    trigger_update = start_update

    async def job(self, job_id: str) -> Job:
        return await self._send(calls.job(job_id))

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

    # -- sessions and drift -------------------------------------------------------------------
    async def start_session(self, symbol: str, **options: Any) -> dict[str, Any]:
        """Start an online session (``model_type``, ``hyperparameters``, ``feature_names``)."""
        return await self._send(calls.start_session(symbol, **options))

    async def sessions(self) -> list[dict[str, Any]]:
        return await self._send(calls.get("/sessions"))

    async def session_metrics(self, session_id: str) -> dict[str, Any]:
        return await self._send(
            calls.get(f"/sessions/{calls.segment(session_id, 'session_id')}/metrics")
        )

    async def session_predict(
        self, session_id: str, features: Mapping[str, float]
    ) -> dict[str, Any]:
        return await self._send(calls.session_predict(session_id, features))

    async def drift_status(self) -> list[dict[str, Any]]:
        return await self._send(calls.get("/drift/status"))

    async def drift_history(
        self, *, model_id: str | None = None, symbol: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = {"model_id": model_id, "symbol": symbol, "limit": limit}
        return await self._send(calls.get("/drift/history", params))

    # -- service ----------------------------------------------------------------------------
    async def health(self) -> dict[str, Any]:
        return await self._send(calls.get("/health"))

    async def ready(self) -> dict[str, Any]:
        """``{"status": "ready", "champions": {...}}``; :class:`ServerError` (503) if not."""
        return await self._send(calls.get("/ready"))

    async def me(self) -> dict[str, Any]:
        """The key's fingerprint and scopes."""
        return await self._send(calls.get("/auth/me"))
