"""The API's answers, and the trade outcome it takes, as typed frozen objects.

GENERATED: do not edit.

Written by ``python -m serving.client_models`` from the platform's OpenAPI document
(``GET /api/v1/openapi.json``). Each model keeps the fields the server adds later
(``extra="allow"``: read them with ``model_extra``); the server's own JSON is
``model.model_dump(mode="json")``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from online_learning_client import _behaviour


class ApiModel(BaseModel):
    """What every answer type shares: frozen, unknown fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


__all__ = [
    "AdaptationEpisode",
    "BusinessImpact",
    "ChampionAge",
    "Component",
    "ComponentScore",
    "Definition",
    "DriftRecord",
    "DriftStatus",
    "Freshness",
    "Headline",
    "Health",
    "Job",
    "JobAccepted",
    "LastUpdate",
    "Me",
    "Model",
    "OutcomeResult",
    "OutcomeResults",
    "Performance",
    "PerformanceDay",
    "PerformanceSummary",
    "PnlPoint",
    "Prediction",
    "PredictionBatch",
    "Ready",
    "Session",
    "SessionAge",
    "SessionInfo",
    "SessionPrediction",
    "SuccessSummary",
    "TradeOutcome",
    "TradedComponent",
    "TradedPrediction",
    "UpdateRecord",
]


class DriftRecord(ApiModel):
    """The API's ``DriftRecordPublic``."""

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


class DriftStatus(ApiModel):
    """The API's ``DriftStatusPublic``."""

    model_id: str
    symbol: str
    detectors: dict[str, dict[str, Any]]
    n_outcomes: int
    last_detection_at: str | None
    last_reason: str | None
    outcomes_since_detection: int
    adaptation_running: bool
    adaptation_status: str | None


class Health(ApiModel):
    """The API's ``Health``."""

    status: Literal["ok"]


class JobAccepted(ApiModel):
    """The API's ``JobAccepted``."""

    job_id: str
    status: Literal["queued"]
    estimated_duration_minutes: float
    status_url: str


class Job(_behaviour.JobBehaviour, ApiModel):
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
    decision: Literal["promoted", "rolled_back", "failed", "deferred"] | None = Field(default=None)
    reason: str | None = Field(default=None)
    version: str | None = Field(default=None)
    previous_version: str | None = Field(default=None)
    sharpe_pre: float | None = Field(default=None)
    sharpe_post: float | None = Field(default=None)
    degradation_pct: float | None = Field(default=None)
    duration_s: float | None = Field(default=None)
    window_start: str | None = Field(default=None)
    window_end: str | None = Field(default=None)
    judged_start: str | None = Field(default=None)
    judged_end: str | None = Field(default=None)
    challenger_version: str | None = Field(default=None)
    challenger_days: int | None = Field(default=None)
    challenger_low: float | None = Field(default=None)
    challenger_high: float | None = Field(default=None)


class Me(ApiModel):
    """The API's ``Me``."""

    fingerprint: str
    scopes: list[str]


class Definition(ApiModel):
    """The API's ``DefinitionPublic``."""

    model_id: str
    kind: Literal["network", "estimator"]
    entry: str
    params: dict[str, Any]
    features: str
    feature_names: list[str]
    sequence_length: int | None
    target: Literal["direction", "return"]
    horizon_days: int
    data: str | None
    symbols: list[str] | None
    regime: str | None
    policy: str
    definition_version: int


class LastUpdate(ApiModel):
    """The API's ``LastUpdate``."""

    decision: str
    version: str | None
    at: str


class Model(ApiModel):
    """The API's ``ModelPublic``."""

    model_id: str
    champion_version: str | None
    regime: str | None
    feature_names: list[str]
    last_update: LastUpdate | None
    definition: Definition | None = Field(
        description=(
            "The champion's network, features, sequence length, target, horizon, data "
            "source (password masked), symbols, regime and policy; null for a version "
            "registered before definitions were recorded."
        )
    )
    challenger_version: str | None = Field(
        default=None, description="The version in its challenger period, if any (docs/updates.md)."
    )


class OutcomeResult(_behaviour.OutcomeResultBehaviour, ApiModel):
    """The API's ``OutcomeResult``."""

    trade_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None
    detail: str | None


class OutcomeResults(ApiModel):
    """The API's ``OutcomeResults``."""

    results: list[OutcomeResult]


class PerformanceDay(ApiModel):
    """The API's ``PerformanceDay``."""

    date: str
    strategy_return: float
    rolling_sharpe_30d: float | None


class PerformanceSummary(ApiModel):
    """The API's ``PerformanceSummary``."""

    sharpe: float | None
    hit_rate: float | None
    max_drawdown: float | None
    n_days: int


class Performance(ApiModel):
    """The API's ``PerformancePublic``."""

    model_id: str
    days: list[PerformanceDay]
    summary: PerformanceSummary


class Component(ApiModel):
    """One model's contribution: its ``p_up`` and its weight in the served ``p_up``.

    ``kind`` is ``batch`` (a specialist's champion; ``version`` is its registry version) or
    ``online`` (the symbol's session; ``version`` is the session id). A component scored in
    shadow by ``champion_challenger`` has weight 0.
    """

    name: str
    kind: Literal["batch", "online"]
    version: str
    weight: float
    p_up: float


class SessionInfo(ApiModel):
    """The online session a prediction used and how old the state it predicted with was."""

    session_id: str
    samples_seen: int
    checkpoint_age_s: float


class Prediction(_behaviour.PredictionBehaviour, ApiModel):
    """One served prediction and where it came from.

    ``direction`` is ``up`` when ``p_up > 0.5``; ``confidence`` is the probability of that
    direction, ``max(p_up, 1 - p_up)``; ``position`` is ``2 * p_up - 1`` (the rule of
    ``online_learning.execution.position_from_p_up``).
    """

    prediction_id: str
    symbol: str
    p_up: float
    position: float
    strategy: Literal["ensemble", "champion_challenger"]
    regime: str | None
    components: list[Component]
    session: SessionInfo | None
    served_at: str
    features: dict[str, float] = Field(
        description=(
            "The features the prediction was computed from (for a bars request: the "
            "server's); a trade outcome of this prediction carries them."
        )
    )
    direction: Literal["up", "down"]
    confidence: float


class PredictionBatch(ApiModel):
    """The answer to a batch request: one prediction per request, in their order."""

    predictions: list[Prediction]


class Ready(ApiModel):
    """The API's ``Ready``."""

    status: Literal["ready"]
    champions: dict[str, str]


class Session(ApiModel):
    """The API's ``SessionMetricsPublic``."""

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
    checkpoint_age_s: float | None = Field(default=None)


class SessionPrediction(ApiModel):
    """The API's ``SessionPredictionPublic``."""

    p_up: float
    direction: Literal["up", "down"]
    position: float
    session_id: str
    symbol: str
    model_type: str
    samples_seen: int
    checkpoint_age_s: float
    served_at: str


class AdaptationEpisode(ApiModel):
    """One drift of a model on a symbol that requested an adaptation, and what followed.

    Times: the regime's change (known only where trades carry the true regime), the
    detection, the first promotion of the model after it, this replica serving that version.
    Delays in seconds, except ``detection_delay_outcomes`` (the model's trades on the symbol
    from the change to the detecting one). ``pre_drift_level`` is the model's mean P&L per
    trade before the change; ``outcomes_to_recover`` and ``days_to_recover`` count the trades
    and trading days from the detection to the first point after the promotion where its
    rolling mean is back at that level (None: not yet).
    """

    drift_id: str
    model_id: str
    symbol: str
    status: Literal["detected", "adapted", "serving", "recovered"]
    change_at: str | None
    detected_at: str
    promoted_at: str | None
    serving_at: str | None
    adapted_version: str | None
    detection_delay_outcomes: int | None
    detection_delay_s: float | None
    adaptation_delay_s: float | None
    serving_delay_s: float | None
    pre_drift_level: float | None
    outcomes_to_recover: int | None
    days_to_recover: int | None


class BusinessImpact(ApiModel):
    """Blended against rules-only P&L on the ``n_trades`` trades of ``symbol`` that recorded
    a rule-only position; ``ml_added_low``/``high`` bound ``ml_added_pnl`` at ``confidence``
    (None with fewer than two trades).
    """

    symbol: str
    n_trades: int
    blended_pnl: float
    rules_pnl: float
    ml_added_pnl: float
    ml_added_low: float | None
    ml_added_high: float | None
    confidence: float


class ComponentScore(ApiModel):
    """How a view did on ``n_trades`` trades of ``symbol`` that had both a batch and an online
    component: ``kind`` ``batch``, ``online`` or ``served``; ``component`` ``"*"`` for the
    kind's whole view, else one batch component's name (scored on those of the trades that
    list it).
    """

    symbol: str
    kind: str
    component: str
    n_trades: int
    hit_rate: float
    log_loss: float
    pnl: float


class ChampionAge(ApiModel):
    """A serving champion's ages in days, and the seconds from its promotion to this replica
    serving it (None where the version does not say).
    """

    model_id: str
    version: str
    trained_through: str | None
    promoted_at: str | None
    loaded_at: str
    data_age_days: float | None
    promotion_age_days: float | None
    serving_lag_s: float | None


class SessionAge(ApiModel):
    """A symbol's online session: outcomes learned and the age of its newest checkpoint."""

    symbol: str
    session_id: str
    samples_seen: int
    checkpointed_at: str | None
    checkpoint_age_s: float | None


class Freshness(ApiModel):
    """The champions' and sessions' ages, and their means (None when there is nothing)."""

    champions: list[ChampionAge]
    sessions: list[SessionAge]
    mean_data_age_days: float | None
    mean_promotion_age_days: float | None
    max_checkpoint_age_s: float | None


class Headline(ApiModel):
    """The five metrics as single numbers (None where nothing measured them yet)."""

    mean_data_age_days: float | None = Field(
        description=(
            "Freshness: mean over the serving champions of the days since the last "
            "day of data each trained on."
        )
    )
    mean_promotion_age_days: float | None = Field(
        description="Freshness: mean days since each serving champion was promoted."
    )
    max_checkpoint_age_s: float | None = Field(
        description="Freshness: age of the oldest active online session's newest checkpoint."
    )
    detection_delay_outcomes: int | None = Field(
        description=(
            "Adaptation speed (newest episode with a known change): the model's "
            "trades on the symbol from the change to the one that detected the drift, "
            "inclusive."
        )
    )
    detection_delay_s: float | None = Field(
        description=(
            "Adaptation speed: seconds from the change's trade to the detecting trade "
            "(the trades' own timestamps)."
        )
    )
    adaptation_delay_s: float | None = Field(
        description=(
            "Adaptation speed (newest adapted episode): seconds from the detection to "
            "the adapted version's promotion."
        )
    )
    serving_delay_s: float | None = Field(
        description=(
            "Adaptation speed: seconds from that promotion to this replica serving it "
            "(on every replica: the Prometheus recording rule)."
        )
    )
    compared_trades: int = Field(
        description=(
            "Online vs batch: trades whose prediction had both an online and a batch "
            "component (over all symbols)."
        )
    )
    online_hit_rate: float | None = Field(
        description="Online vs batch: the online sessions' hit rate."
    )
    batch_hit_rate: float | None = Field(
        description="Online vs batch: the batch champions' hit rate."
    )
    online_log_loss: float | None = Field(
        description="Online vs batch: the online sessions' log-loss."
    )
    batch_log_loss: float | None = Field(
        description="Online vs batch: the batch champions' log-loss."
    )
    outcomes_to_recover: int | None = Field(
        description=(
            "Learning efficiency (newest recovered episode): the model's trades from "
            "the detection to its return to the pre-drift level."
        )
    )
    days_to_recover: int | None = Field(
        description="Learning efficiency: the distinct trading days of those trades."
    )
    impact_trades: int = Field(
        description="Business impact: trades whose agent recorded its rule-only position."
    )
    ml_added_pnl: float | None = Field(
        description=(
            "Business impact: blended minus rules-only P&L on those trades (the sum "
            "of position times return, in units of the book)."
        )
    )
    ml_added_low: float | None = Field(
        description="Business impact: lower bound of the 95 % block-bootstrap interval."
    )
    ml_added_high: float | None = Field(
        description="Business impact: upper bound of that interval."
    )


class PnlPoint(ApiModel):
    """The blended and the rules-only P&L summed over every symbol's trades up to
    ``traded_at`` (``trades`` of them), for a chart of the two curves.
    """

    traded_at: str
    trades: int
    blended_pnl: float
    rules_pnl: float


class SuccessSummary(ApiModel):
    """The success metrics over the trades since ``since`` (see the module docstring)."""

    generated_at: str
    since: str | None
    trades: int
    headline: Headline
    freshness: Freshness
    episodes: list[AdaptationEpisode]
    accuracy: list[ComponentScore]
    impact: list[BusinessImpact]
    impact_curve: list[PnlPoint]


class TradedComponent(ApiModel):
    """What one model of the traded prediction said (the success metrics score each)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["batch", "online"]
    p_up: Annotated[float, Field(ge=0, le=1)]
    weight: Annotated[float, Field(ge=0)] | None = Field(default=None)


class TradedPrediction(ApiModel):
    """What the agent knew of the prediction it traded. Every part is optional and kept as
    given; the parts below, when present, are checked and feed the success metrics
    (``GET /api/v1/metrics/summary``): the client SDK's ``build_outcome`` writes them all.
    """

    p_up: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="The served p_up."
    )
    components: Annotated[list[TradedComponent], Field(max_length=32)] | None = Field(
        default=None, description="Each component's p_up: the online vs batch scores read them."
    )
    rule_position: Annotated[float, Field(ge=-1000000000000000.0, le=1000000000000000.0)] | None = (
        Field(
            default=None,
            description=(
                "The position the agent's own rule alone would have traded: the "
                "counterfactual of the business-impact metric."
            ),
        )
    )
    ml_contribution: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="The ML view's weight in the traded position."
    )


class TradeOutcome(ApiModel):
    """A realised trade outcome, schema version 1: what a trade earned, on which features.

    The worker's parser (``online_learning.feedback.trade_outcome.parse_trade_outcome``) is
    the authority, and checks beyond this schema: ``features`` must be exactly the feature
    names of the model (or session) it credits, ``model_id`` a model that exists, and
    ``timestamp`` not after the receiver's clock (5 minutes of skew allowed). ``pnl``
    defaults to ``position * realized_return`` (0 without a position). Fields this version
    does not define are kept and written back. Posted alone, an invalid outcome answers 422
    naming the field; in a list, each is answered on its own (``rejected`` with its reason).
    """

    trade_id: Annotated[
        str, Field(pattern="^[^\\x00-\\x1f\\x7f-\\x9f]*$", min_length=1, max_length=200)
    ] = Field(description="One trade, once: a repeat is a `duplicate`.")
    symbol: Annotated[str, Field(pattern="^[A-Za-z0-9^][A-Za-z0-9._^=/:-]{0,63}$")] = Field(
        description="Any ticker: 1-64 letters, digits or ._^=/:- (no spaces)."
    )
    timestamp: str = Field(
        description="When the trade settled: ISO 8601 with a time zone (e.g. a final `Z`)."
    )
    features: Annotated[
        dict[str, Annotated[float, Field(ge=-1000000000000000.0, le=1000000000000000.0)]],
        Field(min_length=1),
    ] = Field(description="The features the prediction was made from.")
    realized_return: Annotated[float, Field(ge=-1000000000000000.0, le=1000000000000000.0)] = Field(
        description=("The return the position earned; its sign is what the online session learns.")
    )
    schema_version: Literal[1] = Field(default=1)
    model_id: Annotated[str, Field(pattern="^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")] | None = Field(
        default=None, description="The model it credits."
    )
    prediction_id: (
        Annotated[str, Field(pattern="^[^\\x00-\\x1f\\x7f-\\x9f]*$", min_length=1, max_length=200)]
        | None
    ) = Field(default=None, description="The served prediction it traded (settles its shadow row).")
    prediction: TradedPrediction | None = Field(
        default=None, description="What the agent knew of the prediction (kept as given)."
    )
    position: Annotated[float, Field(ge=-1000000000000000.0, le=1000000000000000.0)] | None = Field(
        default=None
    )
    pnl: Annotated[float, Field(ge=-1000000000000000.0, le=1000000000000000.0)] | None = Field(
        default=None
    )


class UpdateRecord(ApiModel):
    """The API's ``UpdateHistoryPublic``."""

    decision: Literal["promoted", "rolled_back", "failed", "deferred"]
    reason: str
    version: str | None
    previous_version: str | None
    sharpe_pre: float | None
    sharpe_post: float | None
    degradation_pct: float | None
    duration_s: float
    window_start: str | None
    window_end: str | None
    judged_start: str | None
    judged_end: str | None
    challenger_version: str | None
    challenger_days: int | None
    challenger_low: float | None
    challenger_high: float | None
    job_id: str
    recorded_at: str
