"""Request and response schemas of the HTTP API (what the OpenAPI document shows).

Requests are validated here (types, ranges, finite numbers, no unknown fields); responses are
built from library objects' ``to_dict()`` and never echo an internal object. A prediction is
declared once, in the library (:class:`online_learning.prediction.records.Prediction`): the
schema of ``POST /predictions`` is that declaration, as is the JSON it answers.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import date as Date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    create_model,
)

from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.trade_outcome import (
    CONTROL_CHARACTERS,
    MAX_ID_LENGTH,
    MAX_MAGNITUDE,
    MODEL_ID_PATTERN,
    SCHEMA_VERSION,
    SYMBOL_PATTERN,
)
from online_learning.metrics_store.ledger_records import MAX_COMPONENTS
from online_learning.models.definition import ModelDefinition
from online_learning.prediction.records import Prediction, Strategy
from online_learning.update.config import UpdateSettings, optional, public_name
from online_learning.update_result import UpdateResult

Symbol = Annotated[
    str,
    StringConstraints(pattern=f"^{SYMBOL_PATTERN}$"),
    Field(description="Any ticker: 1-64 letters, digits or ._^=/:- (no spaces).", examples=["AAA"]),
]
ModelId = Annotated[
    str,
    StringConstraints(pattern=f"^{MODEL_ID_PATTERN}$"),
    Field(description="A registered model, e.g. bull_specialist."),
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _unique(names: list[str]) -> list[str]:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"feature names must not repeat; repeated: {repeated[:10]}")
    return names


UniqueNames = Annotated[
    list[FeatureName], AfterValidator(_unique), Field(json_schema_extra={"uniqueItems": True})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- predictions --------------------------------------------------------------------------
class FeaturesRequest(_Strict):
    """One row of the platform's features (``GET /models`` names them; exactly those)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"symbol": "AAA", "features": dict.fromkeys(FEATURE_COLUMNS, 0.01)}]
        }
    )

    symbol: Symbol
    features: dict[FeatureName, FiniteFloat] = Field(min_length=1, max_length=1000)
    strategy: Strategy | None = Field(default=None, description="Default: the server's.")
    model_id: ModelId | None = Field(
        default=None,
        description="Ask this registered model alone (its own features, exactly). Default: "
        "the served ensemble.",
    )


class Bar(_Strict):
    """One daily bar: prices > 0, volume >= 0 (a close of 0 has no return)."""

    date: Date
    open: FiniteFloat | None = Field(default=None, gt=0)
    high: FiniteFloat | None = Field(default=None, gt=0)
    low: FiniteFloat | None = Field(default=None, gt=0)
    close: FiniteFloat = Field(gt=0)
    volume: FiniteFloat | None = Field(default=None, ge=0)


class BarsRequest(_Strict):
    """The symbol's recent daily bars, oldest first: the server computes the features with
    the code the models were trained with (422 says how many bars are needed)."""

    symbol: Symbol
    bars: list[Bar] = Field(min_length=1, max_length=2000)
    strategy: Strategy | None = None
    model_id: ModelId | None = Field(
        default=None,
        description="Ask this registered model alone: the server computes its own features "
        "and sequence from the bars (422 says how many it needs). Default: the served ensemble.",
    )


def _single_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "BarsRequest" if "bars" in value else "FeaturesRequest"
    return type(value).__name__


#: Which request a body is: by its ``bars`` key (the tags are stripped from 422 locations).
SingleRequest = Annotated[
    Annotated[FeaturesRequest, Tag("FeaturesRequest")] | Annotated[BarsRequest, Tag("BarsRequest")],
    Discriminator(_single_kind),
]
UNION_TAGS = frozenset({"FeaturesRequest", "BarsRequest", "BatchRequest"})


class BatchRequest(_Strict):
    """Several predictions in one call (at most ``ONLINE_LEARNING_MAX_BATCH``, else 413)."""

    requests: list[SingleRequest] = Field(min_length=1)


def _request_kind(value: Any) -> str:
    if (isinstance(value, dict) and "requests" in value) or isinstance(value, BatchRequest):
        return "BatchRequest"
    return _single_kind(value)


PredictionRequest = Annotated[
    Annotated[FeaturesRequest, Tag("FeaturesRequest")]
    | Annotated[BarsRequest, Tag("BarsRequest")]
    | Annotated[BatchRequest, Tag("BatchRequest")],
    Discriminator(_request_kind),
]


class PredictionBatchPublic(BaseModel):
    """The answer to a batch request: one prediction per request, in their order."""

    predictions: list[Prediction]


# -- models and jobs ------------------------------------------------------------------------
class LastUpdate(BaseModel):
    decision: str
    version: str | None
    at: str


def _definition_public() -> type[BaseModel]:
    hints = typing.get_type_hints(ModelDefinition)
    fields = {
        f.name: (list[str] if f.name in ("feature_names",) else
                 list[str] | None if f.name == "symbols" else hints[f.name], ...)
        for f in dataclasses.fields(ModelDefinition)
    }  # fmt: skip
    return create_model("DefinitionPublic", **fields)


def _public(name: str, declaration: type, *, exclude: tuple[str, ...] = (), optional: bool = False):
    """A response model with the fields of a library dataclass (its types; each None-able and
    None by default when ``optional``), so the HTTP schema follows the declaration."""
    hints = typing.get_type_hints(declaration)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(declaration):
        if f.name not in exclude:
            kind = hints[f.name]
            fields[f.name] = (kind | None, None) if optional else (kind, ...)
    return create_model(name, **fields)


#: What the champion is (``online_learning.models.definition.ModelDefinition``).
DefinitionPublic = _definition_public()


class ModelPublic(BaseModel):
    model_id: str
    champion_version: str | None
    challenger_version: str | None = Field(
        None, description="The version in its challenger period, if any (docs/updates.md)."
    )
    regime: str | None
    feature_names: list[str]
    last_update: LastUpdate | None
    definition: DefinitionPublic | None = Field(  # type: ignore[valid-type]
        description="The champion's network, features, sequence length, target, horizon, "
        "data source (password masked), symbols, regime and policy; null for a version "
        "registered before definitions were recorded."
    )


#: The fields of an update's result (``online_learning.update_result.UpdateResult``).
UpdateResultPublic = _public("UpdateResultPublic", UpdateResult, exclude=("model_id",))
_JobResult = _public("_JobResult", UpdateResult, exclude=("model_id",), optional=True)


class UpdateHistoryPublic(UpdateResultPublic):
    job_id: str
    duration_s: float
    recorded_at: str


class PerformanceDay(BaseModel):
    date: str
    strategy_return: float
    rolling_sharpe_30d: float | None


class PerformanceSummary(BaseModel):
    sharpe: float | None
    hit_rate: float | None
    max_drawdown: float | None
    n_days: int


class PerformancePublic(BaseModel):
    model_id: str
    days: list[PerformanceDay]
    summary: PerformanceSummary


class DataWindow(_Strict):
    """The window's trading days (weekdays) from ``start`` to ``end``, both included: 30 to 90
    of them; ``end`` is the last day the update may use."""

    start: Date
    end: Date


class _UpdateRequest(_Strict):
    """``data_window`` or ``data_window_days``, not both: the schema states it (``not``), the
    route answers it (422, ``give data_window or data_window_days, not both``)."""

    model_config = ConfigDict(
        json_schema_extra={"not": {"required": ["data_window", "data_window_days"]}}
    )

    model_id: ModelId
    data_window: DataWindow | None = Field(
        default=None,
        description="The window's first and last day (give it or data_window_days, not "
        "both). Default: the data_window_days up to the latest data.",
    )


#: ``POST /models/online-update``: the model, its window as dates, and every update setting
#: (by its public name, e.g. ``data_window_days``) as an optional override, built from
#: ``online_learning.update.config.UpdateSettings``; types are checked here, the setting's
#: rules when the job is built (422 with the setting named).
OnlineUpdateRequest = create_model(
    "OnlineUpdateRequest",
    __base__=_UpdateRequest,
    **{
        public_name(name): (
            optional(field),
            Field(None, description=f"{field.description} Default: {field.default!r}."),
        )
        for name, field in UpdateSettings.model_fields.items()
    },
)


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"]
    estimated_duration_minutes: float
    status_url: str


class JobPublic(_JobResult):
    """An update job; the result's fields are set once it is final."""

    job_id: str
    model_id: str
    status: Literal["queued", "running", "promoted", "rolled_back", "deferred", "failed"]
    state: str
    message: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None


# -- sessions -----------------------------------------------------------------------------
class SessionStartRequest(_Strict):
    symbol: Symbol
    model_type: Literal["logistic_regression", "hoeffding_tree", "adaptive_random_forest"] = (
        "logistic_regression"
    )
    hyperparameters: dict[str, Any] | None = Field(
        default=None, description="Of the model type (see SessionConfig); others answer 422."
    )
    feature_names: UniqueNames | None = Field(default=None, min_length=1, max_length=1000)
    metrics_window: int | None = Field(default=None, ge=10, le=100_000)


class SessionMetricsPublic(BaseModel):
    session_id: str
    symbol: str
    model_type: str
    samples_seen: int
    rolling_accuracy: float | None
    rolling_log_loss: float | None
    realized_pnl: float
    rolling_sharpe: float | None
    last_drift_at: str | None
    model_age_s: float
    created_at: str
    updated_at: str
    checkpoint_age_s: float | None = None


class SessionPredictRequest(_Strict):
    features: dict[FeatureName, FiniteFloat] = Field(min_length=1, max_length=1000)


class SessionPredictionPublic(BaseModel):
    p_up: float
    direction: Literal["up", "down"]
    position: float
    session_id: str
    symbol: str
    model_type: str
    samples_seen: int
    checkpoint_age_s: float
    served_at: str


# -- feedback and drift -----------------------------------------------------------------------
Printable = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_ID_LENGTH, pattern=f"^[^{CONTROL_CHARACTERS}]*$"
    ),
]
Magnitude = Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class TradedComponent(BaseModel):
    """What one model of the traded prediction said (the success metrics score each)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["batch", "online"]
    p_up: Probability
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class TradedPrediction(BaseModel):
    """What the agent knew of the prediction it traded. Every part is optional and kept as
    given; the parts below, when present, are checked and feed the success metrics
    (``GET /api/v1/metrics/summary``): the client SDK's ``build_outcome`` writes them all."""

    model_config = ConfigDict(extra="allow")

    p_up: Probability | None = Field(default=None, description="The served p_up.")
    components: list[TradedComponent] | None = Field(
        default=None, max_length=MAX_COMPONENTS,
        description="Each component's p_up: the online vs batch scores read them.",
    )  # fmt: skip
    rule_position: Magnitude | None = Field(
        default=None,
        description="The position the agent's own rule alone would have traded: the "
        "counterfactual of the business-impact metric.",
    )
    ml_contribution: Probability | None = Field(
        default=None, description="The ML view's weight in the traded position."
    )


class TradeOutcome(BaseModel):
    """A realised trade outcome, schema version 1: what a trade earned, on which features.

    The worker's parser (``online_learning.feedback.trade_outcome.parse_trade_outcome``) is
    the authority, and checks beyond this schema: ``features`` must be exactly the feature
    names of the model (or session) it credits, ``model_id`` a model that exists, and
    ``timestamp`` not after the receiver's clock (5 minutes of skew allowed). ``pnl``
    defaults to ``position * realized_return`` (0 without a position). Fields this version
    does not define are kept and written back. Posted alone, an invalid outcome answers 422
    naming the field; in a list, each is answered on its own (``rejected`` with its reason).
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "schema_version": 1,
                    "trade_id": "t-000123",
                    "symbol": "AAA",
                    "timestamp": "2026-01-05T21:00:00Z",
                    "model_id": "bull_specialist",
                    "features": {"ret_1": 0.0123},
                    "position": 0.22,
                    "realized_return": -0.004,
                }
            ]
        },
    )

    schema_version: Literal[1] = SCHEMA_VERSION
    trade_id: Printable = Field(description="One trade, once: a repeat is a `duplicate`.")
    symbol: Symbol
    timestamp: str = Field(
        json_schema_extra={"format": "date-time"},
        description="When the trade settled: ISO 8601 with a time zone (e.g. a final `Z`).",
    )
    model_id: ModelId | None = Field(default=None, description="The model it credits.")
    prediction_id: Printable | None = Field(
        default=None, description="The served prediction it traded (settles its shadow row)."
    )
    features: dict[FeatureName, Magnitude] = Field(
        min_length=1, description="The features the prediction was made from."
    )
    prediction: TradedPrediction | None = Field(
        default=None, description="What the agent knew of the prediction (kept as given)."
    )
    position: Magnitude | None = None
    realized_return: Magnitude = Field(description="The return the position earned; its sign "
                                       "is what the online session learns.")  # fmt: skip
    pnl: Magnitude | None = None


#: Schemas the document declares beside those of the routes' parameters and answers.
DOCUMENTED = (TradeOutcome,)


def add_schemas(document: dict[str, Any], models: tuple[type[BaseModel], ...]) -> None:
    """Declare ``models`` in the document's components (their parts included)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema


class OutcomeResult(BaseModel):
    trade_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None
    detail: str | None


class OutcomeResults(BaseModel):
    results: list[OutcomeResult]


class DriftStatusPublic(BaseModel):
    model_id: str
    symbol: str
    detectors: dict[str, dict[str, Any]]
    n_outcomes: int
    last_detection_at: str | None
    last_reason: str | None
    outcomes_since_detection: int
    adaptation_running: bool
    adaptation_status: str | None


class DriftRecordPublic(BaseModel):
    drift_id: str
    model_id: str
    symbol: str
    reason: str
    detectors: list[str]
    statistics: dict[str, Any]
    n_outcomes: int
    detected_at: str
    adaptation_requested: bool | None
    prefect_status: str | None


# -- the rest -----------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    champions: dict[str, str]


class Me(BaseModel):
    fingerprint: str
    scopes: list[str]


class ErrorBody(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[ValidationIssue]


#: ``responses=`` of the routes: the error bodies the OpenAPI document declares.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A body that cannot be parsed (not UTF-8 JSON)"},
    401: {"model": ErrorBody, "description": "No API key, or a wrong one"},
    403: {"model": ErrorBody, "description": "The key lacks the scope"},
    422: {"model": ValidationErrorBody | ErrorBody, "description": "Invalid input"},
    503: {"model": ErrorBody, "description": "A part the request needs is unavailable"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The declared error responses ``codes`` plus 401/403/422/503."""
    described = {
        404: {"model": ErrorBody, "description": "Not found"},
        409: {"model": ErrorBody, "description": "Conflict"},
        413: {"model": ErrorBody, "description": "Too many items"},
    }
    return {**ERRORS, **{code: described[code] for code in codes}}


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
