"""The blocking client (httpx): every call of the API, with retries for idempotent ones."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from serving.client import _calls as calls
from serving.client._base import ClientBase, read
from serving.client._retry import connection_failed
from serving.client.errors import JobTimeout
from serving.client.types import Job, JobAccepted, OutcomeResult, Prediction

__all__ = ["Client"]


class Client(ClientBase):
    """A blocking client of the serving API.

    Parameters
    ----------
    base_url : str
        The server, e.g. ``http://127.0.0.1:8000`` (``/api/v1`` is added).
    api_key : str, optional
        Bearer key; default :func:`serving.client.api_key_from_env`.
    timeout : float
        Seconds per request (connect, read, write).
    retry : RetryPolicy, optional
        When to send a failed call again (default: 3 retries, idempotent calls only).
    max_batch : int
        Rows per batch request; longer lists are split (the server takes at most 1000).

    Examples
    --------
    ::

        with Client("http://127.0.0.1:8000", "agent-key-0123456789") as client:
            p = client.predict("AAA", bars=recent_bars)
            print(p.p_up, p.position, p.versions())
    """

    def __init__(self, *args: Any, http: httpx.Client | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=self.base_url, timeout=self.timeout)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: calls.Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, json=call.json, params=call.params,
                    headers=self.headers,
                )  # fmt: skip
            except httpx.TransportError as error:
                if not self.retry.retry_error(error, idempotent=call.idempotent, attempt=attempt):
                    raise connection_failed(error, call.method, call.path) from error
                time.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            if self.retry.retry_status(status, idempotent=call.idempotent, attempt=attempt):
                time.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue
            return read(response, call)

    # -- predictions ------------------------------------------------------------------------
    def predict(
        self,
        symbol: str,
        *,
        features: Mapping[str, float] | None = None,
        bars: Any = None,
        strategy: str | None = None,
    ) -> Prediction:
        """One prediction from ``features`` (the model's feature names) or daily ``bars``
        (``[{date, close, open?, high?, low?, volume?}, ...]`` or a DataFrame, oldest first)."""
        return self._send(calls.predict(symbol, features=features, bars=bars, strategy=strategy))

    def predict_many(
        self, requests: Sequence[Any], *, strategy: str | None = None
    ) -> list[Prediction]:
        """Predictions for ``(symbol, features)`` pairs or ``{symbol, features|bars}`` objects,
        in order, ``max_batch`` rows per request (one batched forward per model on the server)."""
        out: list[Prediction] = []
        for call in calls.predict_many(requests, strategy=strategy, max_batch=self.max_batch):
            out += self._send(call)
        return out

    # -- feedback ---------------------------------------------------------------------------
    def post_outcomes(self, outcomes: Any) -> list[OutcomeResult]:
        """Post one trade outcome (schema v1) or a list; one result per outcome, in order."""
        out: list[OutcomeResult] = []
        for call in calls.post_outcomes(outcomes, max_batch=self.max_batch):
            out += self._send(call)
        return out

    # -- models, updates and jobs -------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return self._send(calls.get("/models"))

    def model_history(self, model_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        path = f"/models/{calls.segment(model_id, 'model_id')}/history"
        return self._send(calls.get(path, {"limit": limit}))

    def model_performance(self, model_id: str, *, days: int = 90) -> dict[str, Any]:
        path = f"/models/{calls.segment(model_id, 'model_id')}/performance"
        return self._send(calls.get(path, {"days": days}))

    def start_update(self, model_id: str, **options: Any) -> JobAccepted:
        """Queue an incremental update; options ``data_window=(start, end)`` or
        ``data_window_days``, ``learning_rate``, ``ewc_lambda``, ``stability_check``,
        ``epochs``. :class:`Conflict` while an update of the model is queued or running."""
        return self._send(calls.start_update(model_id, **options))

    trigger_update = start_update

    def job(self, job_id: str) -> Job:
        return self._send(calls.job(job_id))

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

    # -- sessions and drift -------------------------------------------------------------------
    def start_session(self, symbol: str, **options: Any) -> dict[str, Any]:
        """Start an online session (``model_type``, ``hyperparameters``, ``feature_names``)."""
        return self._send(calls.start_session(symbol, **options))

    def sessions(self) -> list[dict[str, Any]]:
        return self._send(calls.get("/sessions"))

    def session_metrics(self, session_id: str) -> dict[str, Any]:
        return self._send(calls.get(f"/sessions/{calls.segment(session_id, 'session_id')}/metrics"))

    def session_predict(self, session_id: str, features: Mapping[str, float]) -> dict[str, Any]:
        return self._send(calls.session_predict(session_id, features))

    def drift_status(self) -> list[dict[str, Any]]:
        return self._send(calls.get("/drift/status"))

    def drift_history(
        self, *, model_id: str | None = None, symbol: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = {"model_id": model_id, "symbol": symbol, "limit": limit}
        return self._send(calls.get("/drift/history", params))

    # -- service ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._send(calls.get("/health"))

    def ready(self) -> dict[str, Any]:
        """``{"status": "ready", "champions": {...}}``; :class:`ServerError` (503) if not."""
        return self._send(calls.get("/ready"))

    def me(self) -> dict[str, Any]:
        """The key's fingerprint and scopes."""
        return self._send(calls.get("/auth/me"))
