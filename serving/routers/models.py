"""``/models``: the registered models, their champions, update history and performance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from online_learning.metrics_store import performance
from online_learning.stats import sharpe_ratio
from serving.deps import Known, PredictScope, Store
from serving.schemas import (
    ModelId,
    ModelPublic,
    PerformancePublic,
    UpdateHistoryPublic,
    errors,
    finite,
)
from serving.settings import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/models", tags=["models"])

#: Trailing window of ``rolling_sharpe_30d`` and the fewest days it is reported for.
ROLLING_DAYS = 30
ROLLING_MIN_DAYS = 10


def _feature_names(request: Request) -> list[str]:
    holder = getattr(request.app.state, "holder", None)
    if holder is None or not getattr(request.app.state, "ready", False):
        return []
    return list(holder.current.feature_names)


def registered_model(model_id: Annotated[ModelId, Path()], known: Known) -> str:
    """The path's model id; 404 unless the registry has it (a plain ``def``: the registry
    call runs in the threadpool)."""
    if not known.exists(model_id):
        raise HTTPException(404, f"no model {model_id!r} in the registry")
    return model_id


RegisteredModel = Annotated[str, Depends(registered_model)]


def _definition(request: Request, model_id: str, version: str | None) -> dict | None:
    """The champion's definition, read once per version (a version's never changes)."""
    if version is None:
        return None
    cache: dict = request.app.state.definitions  # (model, version) -> definition; idempotent
    key = (model_id, version)
    if key not in cache:
        found = request.app.state.registry.champion_definition(model_id)
        cache[key] = None if found is None else found.to_dict()
    return cache[key]


@router.get("", response_model=list[ModelPublic], responses=errors())
def list_models(request: Request, _: PredictScope, known: Known, store: Store) -> list[dict]:
    """Every registered model: its champion version, its challenger's (a candidate in its
    challenger period, else null), regime tag, the features a prediction
    needs, its definition (network, features, sequence length, target, horizon, data source,
    policy) and its last update (decision, the version serving after it, when it finished)."""
    served = _feature_names(request)
    rows = []
    for row in known.rows(fresh=True):
        champion = None if row["champion"] is None else str(row["champion"])
        definition = _definition(request, row["model_id"], champion)
        names = list(definition["feature_names"]) if definition else served
        history = store.update_history(model_id=row["model_id"], limit=1)
        last = history[0] if history else None
        rows.append(
            {
                "model_id": row["model_id"],
                "champion_version": champion,
                "challenger_version": row.get("challenger"),
                "regime": row["regime"],
                "feature_names": names,
                "definition": definition,
                "last_update": None
                if last is None
                else {
                    "decision": last.decision,
                    "version": last.version,
                    "at": last.finished_at.isoformat(),
                },
            }
        )
    return rows


@router.get("/{model_id}/history", response_model=list[UpdateHistoryPublic], responses=errors(404))
def history(
    _: PredictScope,
    store: Store,
    model_id: RegisteredModel,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict]:
    """The model's update attempts, newest first (promoted, rolled back, deferred, failed)."""
    return [
        {
            **r.result_fields(),
            "job_id": r.job_id,
            "duration_s": r.duration_s,
            "recorded_at": r.finished_at.isoformat(),
        }
        for r in store.update_history(model_id=model_id, limit=limit)
    ]


@router.get("/{model_id}/performance", response_model=PerformancePublic, responses=errors(404))
def model_performance(
    _: PredictScope,
    store: Store,
    model_id: RegisteredModel,
    days: Annotated[int, Query(ge=1, le=2000)] = 90,
) -> dict:
    """Realised daily strategy return of the champions (the mean over the symbols traded that
    day) for the last ``days`` trading days, the annualised Sharpe ratio over the trailing 30
    trading days (null until 10 are known), and the summary of the period (Sharpe, hit rate,
    max drawdown; null when there are too few days)."""
    frame = store.recent_performance(model_id, days=days + ROLLING_DAYS - 1)
    daily = performance.daily_returns(frame)
    values = daily.to_numpy()
    rows = []
    first = max(len(daily) - days, 0)
    for i in range(first, len(daily)):
        window = values[max(0, i - ROLLING_DAYS + 1) : i + 1]
        sharpe = sharpe_ratio(window) if len(window) >= ROLLING_MIN_DAYS else None
        rows.append(
            {
                "date": daily.index[i].isoformat(),
                "strategy_return": float(values[i]),
                "rolling_sharpe_30d": sharpe,
            }
        )
    period = frame[frame["date"].isin(daily.index[first:])] if len(frame) else frame
    return finite({"model_id": model_id, "days": rows, "summary": performance.summarise(period)})
