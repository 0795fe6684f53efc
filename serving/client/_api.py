"""The API's calls, written once for the blocking and the async client.

Each method builds its request(s) with :mod:`serving.client._calls` and hands them to
``_one`` (one call) or ``_all`` (the calls of a split batch, results concatenated in order).
:class:`~serving.client.Client` sends them and returns the result;
:class:`~serving.client.AsyncClient` returns an awaitable of the same result. Arguments are
validated when the method is called, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from serving.client import _calls as calls
from serving.client._base import ClientBase
from serving.client.types import Job, JobAccepted, OutcomeResult, Prediction


class Endpoints(ClientBase):
    """Every call of ``/api/v1`` (the return types are the blocking client's)."""

    def _one(self, call: calls.Call) -> Any:
        raise NotImplementedError

    def _all(self, batch: list[calls.Call]) -> Any:
        raise NotImplementedError

    # -- predictions ------------------------------------------------------------------------
    def predict(
        self,
        symbol: str,
        *,
        features: Mapping[str, float] | None = None,
        bars: Any = None,
        strategy: str | None = None,
        model_id: str | None = None,
    ) -> Prediction:
        """One prediction from ``features`` (the model's feature names) or daily ``bars``
        (``[{date, close, open?, high?, low?, volume?}, ...]`` or a DataFrame, oldest first);
        with ``model_id``, that registered model answers alone (on its own features)."""
        call = calls.predict(
            symbol, features=features, bars=bars, strategy=strategy, model_id=model_id
        )
        return self._one(call)

    def predict_many(
        self, requests: Sequence[Any], *, strategy: str | None = None
    ) -> list[Prediction]:
        """Predictions for ``(symbol, features)`` pairs or ``{symbol, features|bars}`` objects,
        in order, ``max_batch`` rows per request (one batched forward per model on the server)."""
        return self._all(calls.predict_many(requests, strategy=strategy, max_batch=self.max_batch))

    # -- feedback ---------------------------------------------------------------------------
    def post_outcomes(self, outcomes: Any) -> list[OutcomeResult]:
        """Post one trade outcome (schema v1) or a list; one result per outcome, in order."""
        return self._all(calls.post_outcomes(outcomes, max_batch=self.max_batch))

    # -- models, updates and jobs -------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return self._one(calls.get("/models"))

    def model_history(self, model_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        path = f"/models/{calls.segment(model_id, 'model_id')}/history"
        return self._one(calls.get(path, {"limit": limit}))

    def model_performance(self, model_id: str, *, days: int = 90) -> dict[str, Any]:
        path = f"/models/{calls.segment(model_id, 'model_id')}/performance"
        return self._one(calls.get(path, {"days": days}))

    def start_update(self, model_id: str, **options: Any) -> JobAccepted:
        """Queue an incremental update; options ``data_window=(start, end)`` or
        ``data_window_days``, ``learning_rate``, ``ewc_lambda``, ``stability_check``,
        ``epochs``. :class:`Conflict` while an update of the model is queued or running."""
        return self._one(calls.start_update(model_id, **options))

    trigger_update = start_update

    def job(self, job_id: str) -> Job:
        return self._one(calls.job(job_id))

    # -- sessions and drift -------------------------------------------------------------------
    def start_session(self, symbol: str, **options: Any) -> dict[str, Any]:
        """Start an online session (``model_type``, ``hyperparameters``, ``feature_names``)."""
        return self._one(calls.start_session(symbol, **options))

    def sessions(self) -> list[dict[str, Any]]:
        return self._one(calls.get("/sessions"))

    def session_metrics(self, session_id: str) -> dict[str, Any]:
        return self._one(calls.get(f"/sessions/{calls.segment(session_id, 'session_id')}/metrics"))

    def session_predict(self, session_id: str, features: Mapping[str, float]) -> dict[str, Any]:
        return self._one(calls.session_predict(session_id, features))

    def drift_status(self) -> list[dict[str, Any]]:
        return self._one(calls.get("/drift/status"))

    def drift_history(
        self, *, model_id: str | None = None, symbol: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = {"model_id": model_id, "symbol": symbol, "limit": limit}
        return self._one(calls.get("/drift/history", params))

    # -- service ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._one(calls.get("/health"))

    def ready(self) -> dict[str, Any]:
        """``{"status": "ready", "champions": {...}}``; :class:`ServerError` (503) if not."""
        return self._one(calls.get("/ready"))

    def me(self) -> dict[str, Any]:
        """The key's fingerprint and scopes."""
        return self._one(calls.get("/auth/me"))
