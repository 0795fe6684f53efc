"""Process-wide settings, read from the environment when first asked for (never at import)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of the library and its command line.

    ``ONLINE_LEARNING_HOME`` is the data directory under which every embedded default writes:
    the MLflow SQLite store (``mlflow.db``) and its artifacts (``mlartifacts/``).
    ``MLFLOW_TRACKING_URI`` points at an MLflow server instead.
    """

    model_config = SettingsConfigDict(env_prefix="ONLINE_LEARNING_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".online-learning")
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI")
    )
    experiment_name: str = "online-learning"

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
