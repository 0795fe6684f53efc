"""``/metrics/summary``: the integration's five success metrics, per model and symbol."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from online_learning.success.summary import SuccessSummary
from serving.deps import PredictScope, Success
from serving.schemas import ERRORS
from serving.settings import API_PREFIX
from serving.success import DEFAULT_WINDOW_DAYS

router = APIRouter(prefix=f"{API_PREFIX}/metrics", tags=["metrics"])


@router.get("/summary", response_model=SuccessSummary, responses=ERRORS)
def metrics_summary(
    _: PredictScope,
    success: Success,
    window_days: Annotated[
        float,
        Query(
            gt=0,
            le=366,
            description="The trades, drifts and updates of the last this many "
            "days (freshness is always now's).",
        ),
    ] = DEFAULT_WINDOW_DAYS,
) -> SuccessSummary:
    """Model freshness, adaptation speed, online vs batch accuracy, learning efficiency and
    business impact (definitions: ``docs/success-metrics.md``), computed from the trade
    ledger, the drift and update histories and the champions this replica serves; recomputed
    at most every 10 s per window."""
    return success.summary(window_days)
