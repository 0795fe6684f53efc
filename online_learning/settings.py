"""Process-wide settings, read from the environment when first asked for (never at import)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of the library and its command line.

    ``ONLINE_LEARNING_HOME`` is the data directory under which every embedded default writes:
    the MLflow SQLite store (``mlflow.db``), its artifacts (``mlartifacts/``) and the metrics
    store (``metrics.db``). ``MLFLOW_TRACKING_URI`` points at an MLflow server instead, and
    ``ONLINE_LEARNING_DATABASE_URL`` the metrics store at a database server
    (``postgresql://user@host/db``). ``KAFKA_BOOTSTRAP_SERVERS`` names a Kafka cluster; without
    it, ``online-learning up`` starts an embedded broker. Topics default to ``model-updates``,
    ``trade-outcomes``, ``trade-outcomes-dlq``, ``model-drift`` and ``predictions``
    (``ONLINE_LEARNING_MODEL_UPDATES_TOPIC``, ...). Feedback workers join the consumer group
    ``ONLINE_LEARNING_FEEDBACK_GROUP`` and record every
    ``ONLINE_LEARNING_FEEDBACK_COMMIT_INTERVAL_S`` seconds; ``ONLINE_LEARNING_DRIFT_COOLDOWN_S``
    spaces the adaptation requests of one model and ``ONLINE_LEARNING_ADAPTIVE_INTERVAL_S`` the
    adaptive model manager's checks.
    Batch runs write Prometheus metrics to ``ONLINE_LEARNING_METRICS_TEXTFILE`` and/or push them
    to ``ONLINE_LEARNING_PUSHGATEWAY_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="ONLINE_LEARNING_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".online-learning")
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI")
    )
    experiment_name: str = "online-learning"
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    model_updates_topic: str = "model-updates"
    trade_outcomes_topic: str = "trade-outcomes"
    model_drift_topic: str = "model-drift"
    # The feedback path (issue 10): invalid outcomes go to the DLQ with their original bytes.
    trade_outcomes_dlq_topic: str = "trade-outcomes-dlq"
    #: Served predictions, keyed by symbol: every API replica fans out what it reads there.
    predictions_topic: str = "predictions"
    feedback_group: str = "online-learning-feedback"
    #: Seconds between two recordings (checkpoints, offset commits) of a feedback worker.
    feedback_commit_interval_s: float = Field(default=1.0, gt=0, le=300)
    #: Minimum seconds between two adaptation requests of one model (shared by all workers).
    drift_cooldown_s: float = Field(default=4 * 3600.0, ge=0)
    #: Seconds between two checks of the adaptive model manager.
    adaptive_interval_s: float = Field(default=300.0, gt=0)
    metrics_textfile: Path | None = None
    pushgateway_url: str | None = None

    @property
    def metrics_database_url(self) -> str:
        """The metrics store: ``ONLINE_LEARNING_DATABASE_URL``, else ``metrics.db`` in ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home.expanduser().resolve() / 'metrics.db'}"

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.home.expanduser().resolve() / 'mlflow.db'}"

    @property
    def artifact_location(self) -> str | None:
        """Local artifact folder for the embedded store; a server decides its own."""
        if self.mlflow_tracking_uri:
            return None
        return (self.home.expanduser().resolve() / "mlartifacts").as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings built once per process from the environment."""
    return Settings()
