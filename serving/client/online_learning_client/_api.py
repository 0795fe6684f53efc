"""The API's calls, written once for the blocking and the async client.

Each method builds its request(s) with :mod:`online_learning_client._calls` and hands them to
``_one`` (one call) or ``_all`` (the calls of a split batch, results concatenated in order).
:class:`~online_learning_client.Client` sends them and returns the result;
:class:`~online_learning_client.AsyncClient` returns an awaitable of the same result. Arguments are
validated when the method is called, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter

from online_learning_client import _calls as calls
from online_learning_client._base import ClientBase
from online_learning_client.models import (
    DriftRecord,
    DriftStatus,
    Health,
    Job,
    JobAccepted,
    Me,
    Model,
    OutcomeResult,
    Performance,
    Prediction,
    Ready,
    Session,
    SessionPrediction,
    SuccessSummary,
    UpdateRecord,
)

#: The API's operations (their ``operationId``) and the methods that call them. An operation
#: the client leaves to others says why; a test fails on an operation missing here.
OPERATIONS: dict[str, tuple[str, ...] | str] = {
    "predict": ("predict", "predict_many"),
    "post_outcomes": ("post_outcomes",),
    "list_models": ("models",),
    "history": ("model_history",),
    "model_performance": ("model_performance",),
    "online_update": ("start_update",),
    "get_job": ("job", "wait_for_job"),
    "start_session": ("start_session",),
    "list_sessions": ("sessions",),
    "session_metrics": ("session_metrics",),
    "session_predict": ("session_predict",),
    "drift_status": ("drift_status",),
    "drift_history": ("drift_history",),
    "metrics_summary": ("metrics_summary",),
    "health": ("health",),
    "ready": ("ready",),
    "me": ("me",),
    "metrics": "Prometheus text for a scraper, not for an agent",
}


def _reader(kind: Any) -> Callable[[Any], Any]:
    return TypeAdapter(kind).validate_python


_models = _reader(list[Model])
_history = _reader(list[UpdateRecord])
_sessions = _reader(list[Session])
_drift_status = _reader(list[DriftStatus])
_drift_history = _reader(list[DriftRecord])


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
    def models(self) -> list[Model]:
        """Every maintained model: its champion, definition and last update."""
        return self._one(calls.get("/models", parse=_models))

    def model_history(self, model_id: str, *, limit: int = 50) -> list[UpdateRecord]:
        """The model's update attempts, newest first."""
        path = f"/models/{calls.segment(model_id, 'model_id')}/history"
        return self._one(calls.get(path, {"limit": limit}, parse=_history))

    def model_performance(self, model_id: str, *, days: int = 90) -> Performance:
        """The model's realised daily returns over the last ``days`` and their summary."""
        path = f"/models/{calls.segment(model_id, 'model_id')}/performance"
        return self._one(calls.get(path, {"days": days}, parse=Performance.model_validate))

    def start_update(self, model_id: str, **options: Any) -> JobAccepted:
        """Queue an incremental update; options ``data_window=(start, end)`` or
        ``data_window_days``, ``learning_rate``, ``ewc_lambda``, ``stability_check``,
        ``epochs``. :class:`Conflict` while an update of the model is queued or running."""
        return self._one(calls.start_update(model_id, **options))

    trigger_update = start_update

    def job(self, job_id: str) -> Job:
        """The update job's state; its result once it is final (:attr:`Job.finished`)."""
        return self._one(calls.job(job_id))

    # -- sessions and drift -------------------------------------------------------------------
    def start_session(self, symbol: str, **options: Any) -> Session:
        """Start an online session (``model_type``, ``hyperparameters``, ``feature_names``)."""
        return self._one(calls.start_session(symbol, **options))

    def sessions(self) -> list[Session]:
        """Every online session and its rolling metrics."""
        return self._one(calls.get("/sessions", parse=_sessions))

    def session_metrics(self, session_id: str) -> Session:
        path = f"/sessions/{calls.segment(session_id, 'session_id')}/metrics"
        return self._one(calls.get(path, parse=Session.model_validate))

    def session_predict(self, session_id: str, features: Mapping[str, float]) -> SessionPrediction:
        return self._one(calls.session_predict(session_id, features))

    def drift_status(self) -> list[DriftStatus]:
        """Each (model, symbol)'s drift detectors and adaptation state."""
        return self._one(calls.get("/drift/status", parse=_drift_status))

    def drift_history(
        self, *, model_id: str | None = None, symbol: str | None = None, limit: int | None = None
    ) -> list[DriftRecord]:
        """Detected drifts, newest first (filtered by model and symbol)."""
        params = {"model_id": model_id, "symbol": symbol, "limit": limit}
        return self._one(calls.get("/drift/history", params, parse=_drift_history))

    def metrics_summary(self, *, window_days: float | None = None) -> SuccessSummary:
        """The five success metrics over the last ``window_days`` (default 30): freshness,
        adaptation speed, online vs batch, learning efficiency, business impact."""
        params = {"window_days": window_days}
        return self._one(calls.get("/metrics/summary", params, parse=SuccessSummary.model_validate))

    # -- service ----------------------------------------------------------------------------
    def health(self) -> Health:
        return self._one(calls.get("/health", parse=Health.model_validate))

    def ready(self) -> Ready:
        """The served champions; :class:`ServerError` (503) while not ready."""
        return self._one(calls.get("/ready", parse=Ready.model_validate))

    def me(self) -> Me:
        """The key's fingerprint and scopes."""
        return self._one(calls.get("/auth/me", parse=Me.model_validate))
