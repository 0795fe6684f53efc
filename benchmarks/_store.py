"""A real MLflow SQLite store in a temporary ONLINE_LEARNING_HOME, and a timing registry."""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from torch import nn

from online_learning.ewc import EWCState
from online_learning.registry.base import CandidateRecord, LoadedModel, ModelRegistry, Promotion

_ENV = {
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


@contextmanager
def temporary_home() -> Iterator[str]:
    """Point ONLINE_LEARNING_HOME at a fresh folder (MLflow store inside) for the duration."""
    saved = {k: os.environ.get(k) for k in (*_ENV, "ONLINE_LEARNING_HOME", "MLFLOW_TRACKING_URI")}
    with tempfile.TemporaryDirectory(prefix="ol-bench-") as home:
        os.environ.update(_ENV)
        os.environ["ONLINE_LEARNING_HOME"] = home
        os.environ.pop("MLFLOW_TRACKING_URI", None)  # the embedded SQLite store, as `make run`
        from online_learning.settings import get_settings

        get_settings.cache_clear()
        try:
            yield home
        finally:
            get_settings.cache_clear()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class TimedRegistry:
    """Delegates to a registry and adds up the wall time spent in each of its methods."""

    def __init__(self, inner: ModelRegistry) -> None:
        self.inner = inner
        self.seconds: dict[str, float] = defaultdict(float)

    def take(self) -> dict[str, float]:
        """Seconds per method since the last call, and reset the counters."""
        seconds, self.seconds = dict(self.seconds), defaultdict(float)
        return seconds

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - begin

    def champion_version(self, model_id: str) -> str | None:
        with self._timed("champion_version"):
            return self.inner.champion_version(model_id)

    def champion_definition(self, model_id: str):
        return self.inner.champion_definition(model_id)

    def load_champion(self, model_id: str) -> LoadedModel:
        with self._timed("load_champion"):
            return self.inner.load_champion(model_id)

    def load_version(self, model_id: str, version: str) -> LoadedModel:
        with self._timed("load_version"):
            return self.inner.load_version(model_id, version)

    def log_candidate(
        self,
        *,
        model_id: str,
        model: nn.Module,
        ewc_state: EWCState | None,
        params: Mapping[str, object],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        register: bool,
        definition=None,
    ) -> CandidateRecord:
        with self._timed("log_candidate"):
            return self.inner.log_candidate(
                model_id=model_id,
                model=model,
                ewc_state=ewc_state,
                params=params,
                metrics=metrics,
                tags=tags,
                register=register,
                definition=definition,
            )

    def promote(self, *, model_id: str, version: str) -> Promotion:
        with self._timed("promote"):
            return self.inner.promote(model_id=model_id, version=version)

    def rollback(self, *, model_id: str) -> Promotion:
        with self._timed("rollback"):
            return self.inner.rollback(model_id=model_id)
