"""The API's calls as data (method, path, body, idempotency, parser), shared by both clients.

Building a request and reading its answer is the same for the sync and the async client; only
sending differs. Each function here validates its arguments and returns a :class:`Call`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from online_learning_client.errors import ValidationError
from online_learning_client.models import (
    Job,
    JobAccepted,
    OutcomeResults,
    Prediction,
    PredictionBatch,
    Session,
    SessionPrediction,
)

API = "/api/v1"
#: Largest batch the server takes in one request (more answers 413): larger ones are split.
MAX_BATCH = 1000
_BAR_FIELDS = ("date", "open", "high", "low", "close", "volume")


def _identity(body: Any) -> Any:
    return body


@dataclass(frozen=True)
class Call:
    """One HTTP request and how to read its answer.

    ``idempotent`` calls may be sent again after the request reached the server (a timeout, a
    reset, a 5xx); any call is sent again when the connection failed before it was sent.
    """

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    idempotent: bool = False
    parse: Callable[[Any], Any] = _identity


def _invalid(message: str) -> ValidationError:
    """Raised before sending: the server would refuse the input (it has no status)."""
    return ValidationError(None, message)


def _symbol(symbol: Any) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise _invalid(f"symbol must be a non-empty string, got {symbol!r}")
    return symbol


def _finite(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{where} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _invalid(f"{where} must be finite, got {number!r}")
    return number


def features_body(features: Mapping[str, Any], where: str = "features") -> dict[str, float]:
    if not isinstance(features, Mapping) or not features:
        raise _invalid(f"{where} must be a non-empty mapping of feature name to number")
    return {str(k): _finite(v, f"{where}[{k!r}]") for k, v in features.items()}


def _date(value: Any, where: str) -> str:
    if isinstance(value, datetime):  # pandas.Timestamp is one
        if value.tzinfo is None and value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    raise _invalid(f"{where} must be a date or an ISO 8601 string, got {value!r}")


def bars_body(bars: Any) -> list[dict[str, Any]]:
    """Daily bars as the API takes them: ``date`` and ``close`` required, ``open``, ``high``,
    ``low``, ``volume`` optional; a pandas DataFrame of those columns works too."""
    if hasattr(bars, "to_dict") and not isinstance(bars, Mapping):
        bars = bars.to_dict("records")
    if isinstance(bars, (str, bytes, Mapping)) or not isinstance(bars, Sequence) or not bars:
        raise _invalid("bars must be a non-empty list of {date, close, ...} objects")
    out = []
    for i, bar in enumerate(bars):
        if not isinstance(bar, Mapping):
            raise _invalid(f"bars[{i}] must be an object, got {type(bar).__name__}")
        if "date" not in bar or "close" not in bar:
            raise _invalid(f"bars[{i}] needs 'date' and 'close'")
        item: dict[str, Any] = {"date": _date(bar["date"], f"bars[{i}].date")}
        for name in _BAR_FIELDS[1:]:
            value = bar.get(name)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                item[name] = _finite(value, f"bars[{i}].{name}")
            elif name == "close":
                raise _invalid(f"bars[{i}].close is missing")
        out.append(item)
    return out


def prediction_body(
    symbol: str,
    *,
    features: Mapping[str, Any] | None = None,
    bars: Any = None,
    strategy: str | None = None,
    model_id: str | None = None,
) -> dict[str, Any]:
    if (features is None) == (bars is None):
        raise _invalid("pass exactly one of features= or bars=")
    body: dict[str, Any] = {"symbol": _symbol(symbol)}
    if features is not None:
        body["features"] = features_body(features)
    else:
        body["bars"] = bars_body(bars)
    if strategy is not None:
        body["strategy"] = strategy
    if model_id is not None:
        if not isinstance(model_id, str) or not model_id:
            raise _invalid(f"model_id must be a non-empty string, got {model_id!r}")
        body["model_id"] = model_id
    return body


def predict(
    symbol: str,
    *,
    features: Mapping[str, Any] | None = None,
    bars: Any = None,
    strategy: str | None = None,
    model_id: str | None = None,
) -> Call:
    sent = prediction_body(
        symbol, features=features, bars=bars, strategy=strategy, model_id=model_id
    )
    # Not idempotent: a prediction served twice is recorded and streamed twice.
    return Call("POST", f"{API}/predictions", json=sent, parse=Prediction.model_validate)


def _item(item: Any, strategy: str | None) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return prediction_body(
            item.get("symbol"),
            features=item.get("features"),
            bars=item.get("bars"),
            strategy=item.get("strategy", strategy),
            model_id=item.get("model_id"),
        )
    if isinstance(item, tuple) and len(item) == 2:
        return prediction_body(item[0], features=item[1], strategy=strategy)
    raise _invalid(
        "each request is a (symbol, features) pair or a {symbol, features | bars, model_id?} "
        "object, "
        f"got {type(item).__name__}"
    )


def predict_many(
    items: Sequence[Any], *, strategy: str | None = None, max_batch: int = MAX_BATCH
) -> list[Call]:
    """One ``{"requests": [...]}`` call per ``max_batch`` items, in order."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    bodies = [_item(item, strategy) for item in items]
    calls = []
    for start in range(0, len(bodies), max_batch):
        chunk = bodies[start : start + max_batch]

        def parse(body: Any, asked: int = len(chunk)) -> list[Prediction]:
            served = PredictionBatch.model_validate(body).predictions
            if len(served) != asked:
                raise ValueError(f"asked for {asked} predictions, got {len(served)}")
            return served

        calls.append(Call("POST", f"{API}/predictions", json={"requests": chunk}, parse=parse))
    return calls


def _outcome(item: Any) -> dict[str, Any]:
    if hasattr(item, "to_dict") and not isinstance(item, Mapping):
        item = item.to_dict()
    if not isinstance(item, Mapping):
        raise _invalid(f"an outcome must be an object, got {type(item).__name__}")
    return dict(item)


def post_outcomes(outcomes: Any, *, max_batch: int = MAX_BATCH) -> list[Call]:
    """Idempotent: the platform deduplicates outcomes on ``trade_id``, so a retry after a lost
    answer comes back ``duplicate`` instead of being learned twice."""
    items = (
        [outcomes] if isinstance(outcomes, Mapping) or hasattr(outcomes, "to_dict") else outcomes
    )
    bodies = [_outcome(o) for o in items]
    path = f"{API}/feedback/outcomes"
    parse = lambda b: OutcomeResults.model_validate(b).results  # noqa: E731
    return [
        Call("POST", path, json=bodies[i : i + max_batch], idempotent=True, parse=parse)
        for i in range(0, len(bodies), max_batch)
    ]


def get(path: str, params: Mapping[str, Any] | None = None, parse=_identity) -> Call:
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    return Call("GET", f"{API}{path}", params=clean or None, idempotent=True, parse=parse)


def segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def start_update(
    model_id: str,
    *,
    data_window: tuple[Any, Any] | Mapping[str, Any] | None = None,
    data_window_days: int | None = None,
    learning_rate: float | None = None,
    ewc_lambda: float | None = None,
    stability_check: bool | None = None,
    epochs: int | None = None,
) -> Call:
    body: dict[str, Any] = {"model_id": model_id}
    if data_window is not None and data_window_days is not None:
        raise _invalid("pass data_window or data_window_days, not both")
    if data_window is not None:
        if isinstance(data_window, Mapping):
            start, end = data_window.get("start"), data_window.get("end")
        else:
            start, end = data_window
        body["data_window"] = {"start": _date(start, "start"), "end": _date(end, "end")}
    if data_window_days is not None:
        body["data_window_days"] = int(data_window_days)
    if learning_rate is not None:
        body["learning_rate"] = _finite(learning_rate, "learning_rate")
    if ewc_lambda is not None:
        body["ewc_lambda"] = _finite(ewc_lambda, "ewc_lambda")
    if stability_check is not None:
        body["stability_check"] = bool(stability_check)
    if epochs is not None:
        body["epochs"] = int(epochs)
    # Never sent twice: a second submission after a lost answer would be a 409 or a second job.
    return Call("POST", f"{API}/models/online-update", json=body, parse=JobAccepted.model_validate)


def job(job_id: str) -> Call:
    return get(f"/jobs/{segment(job_id, 'job_id')}", parse=Job.model_validate)


def start_session(
    symbol: str,
    *,
    model_type: str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    feature_names: Sequence[str] | None = None,
) -> Call:
    body: dict[str, Any] = {"symbol": _symbol(symbol)}
    if model_type is not None:
        body["model_type"] = model_type
    if hyperparameters is not None:
        body["hyperparameters"] = dict(hyperparameters)
    if feature_names is not None:
        body["feature_names"] = list(feature_names)
    return Call("POST", f"{API}/sessions/start", json=body, parse=Session.model_validate)


def session_predict(session_id: str, features: Mapping[str, Any]) -> Call:
    path = f"{API}/sessions/{segment(session_id, 'session_id')}/predict"
    return Call(
        "POST",
        path,
        json={"features": features_body(features)},
        idempotent=True,
        parse=SessionPrediction.model_validate,
    )
