"""Dependencies of the routers, as ``Annotated`` aliases (tests swap them with
``app.dependency_overrides``).

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in the threadpool,
and a thread hop per request cut the API's throughput about 3x here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from online_learning.feedback.service import FeedbackService
from online_learning.metrics_store import MetricsStore
from online_learning.registry import MlflowRegistry
from online_learning.registry.known import KnownModels
from serving.auth import ApiKeys, Principal
from serving.errors import ServiceUnavailable
from serving.metrics import ServingMetrics
from serving.settings import ServingSettings
from serving.success import SuccessMetrics

__all__ = [
    "Admin",
    "Authenticated",
    "Feedback",
    "FeedbackScope",
    "Hub",
    "Known",
    "Metrics",
    "PredictScope",
    "Predictor",
    "Registry",
    "Service",
    "Settings",
    "Store",
    "Success",
    "require",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from ONLINE_LEARNING_API_KEYS: `Authorization: Bearer <key>`. "
    "Each operation's security requirement names the scope its key needs (`predict`, "
    "`feedback` or `admin`); a key with `admin` may call every operation, and an operation "
    "with no scope listed needs a valid key only.",
)


def _state(request: Request, name: str) -> Any:
    value = getattr(request.app.state, name, None)
    if value is None:
        raise ServiceUnavailable(f"the API is starting: its {name} is not ready")
    return value


async def get_settings(request: Request) -> ServingSettings:
    return request.app.state.settings


async def get_api_keys(request: Request) -> ApiKeys:
    return request.app.state.api_keys


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise HTTPException(
            401,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = request.app.state.api_keys.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(
            401, "invalid API key", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    return principal


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's principal; 401 (with ``WWW-Authenticate: Bearer``) without a valid key."""
    return _principal(request, credentials)


Authenticated = Annotated[Principal, Depends(authenticated)]


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only keys with ``scope`` (or ``admin``) through: 401 without a
    valid key, 403 otherwise. One dependency, not a chain: every one costs on the hot path."""

    async def check(
        request: Request,
        # Security(..., scopes=): the OpenAPI document names the scope in the operation's
        # security requirement (``{"HTTPBearer": ["predict"]}``). A default, not Annotated:
        # the annotation is a string here and could not name ``scope``.
        credentials: HTTPAuthorizationCredentials | None = Security(_bearer, scopes=[scope]),
    ) -> Principal:
        principal = _principal(request, credentials)
        if not principal.allows(scope):
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")
        return principal

    check.__name__ = f"require_{scope}"
    return check


PredictScope = Annotated[Principal, Depends(require("predict"))]
FeedbackScope = Annotated[Principal, Depends(require("feedback"))]
Admin = Annotated[Principal, Depends(require("admin"))]


async def get_store(request: Request) -> MetricsStore:
    return _state(request, "store")


async def get_registry(request: Request) -> MlflowRegistry:
    return _state(request, "registry")


async def get_feedback(request: Request) -> FeedbackService:
    return _state(request, "feedback")


async def get_service(request: Request):
    """The :class:`~online_learning.prediction.ModelServingService`; 503 until the champions
    are loaded."""
    if not getattr(request.app.state, "ready", False):
        raise ServiceUnavailable(
            "no champions are loaded yet: bootstrap them (online-learning train) and wait for "
            "the registry poll"
        )
    return _state(request, "service")


async def get_predictor(request: Request):
    """What ``POST /predictions`` calls: the micro-batcher, or the service itself."""
    await get_service(request)
    return _state(request, "predictor")


async def get_hub(request: Request):
    return _state(request, "hub")


async def get_metrics(request: Request) -> ServingMetrics:
    return request.app.state.metrics


async def get_known(request: Request) -> KnownModels:
    return _state(request, "known_models")


async def get_success(request: Request) -> SuccessMetrics:
    return _state(request, "success")


Settings = Annotated[ServingSettings, Depends(get_settings)]
Store = Annotated[MetricsStore, Depends(get_store)]
Registry = Annotated[MlflowRegistry, Depends(get_registry)]
Feedback = Annotated[FeedbackService, Depends(get_feedback)]
Service = Annotated[Any, Depends(get_service)]
Predictor = Annotated[Any, Depends(get_predictor)]
Hub = Annotated[Any, Depends(get_hub)]
Metrics = Annotated[ServingMetrics, Depends(get_metrics)]
Known = Annotated[KnownModels, Depends(get_known)]
Success = Annotated[SuccessMetrics, Depends(get_success)]
