"""Shared fixtures: a real MLflow store (SQLite) per test, seeded synthetic markets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def pytest_configure(config: pytest.Config) -> None:
    import torch

    # As in the CLI: small models train fastest on one thread, above all on a busy machine.
    torch.set_num_threads(1)


#: What the command line's global options write into the environment of its process.
_CLI_ENVIRONMENT = (
    "ONLINE_LEARNING_HOME",
    "ONLINE_LEARNING_CONFIG",
    "MLFLOW_TRACKING_URI",
    "ONLINE_LEARNING_DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
)


@pytest.fixture(autouse=True)
def _cli_environment():
    """Each test ends with the environment it started with: a command run in process
    (``--config``, ``--home``, ...) sets variables that would otherwise reach later tests."""
    before = {name: os.environ.get(name) for name in _CLI_ENVIRONMENT}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its schema migrated, created once per session.

    Creating the schema takes seconds; each test gets a copy of this file instead.
    """
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def home(tmp_path: Path, _migrated_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory with a migrated, empty MLflow store, as ONLINE_LEARNING_HOME."""
    from online_learning.settings import get_settings

    data_dir = tmp_path / "home"
    data_dir.mkdir()
    shutil.copy(_migrated_mlflow_db, data_dir / "mlflow.db")
    monkeypatch.setenv("ONLINE_LEARNING_HOME", str(data_dir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


@pytest.fixture
def registry(home: Path):
    """An :class:`MlflowRegistry` on the test's own SQLite store and artifact folder."""
    from online_learning.registry import MlflowRegistry
    from online_learning.settings import get_settings

    return MlflowRegistry.from_settings(get_settings())


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """One real Prefect server (``prefect server start``, SQLite) for the whole session.

    Shared by the flow, feedback and serving tests: starting one takes ~20 s.
    """
    from prefect.logging.handlers import APILogWorker

    from flows.serve import local_server

    with local_server(tmp_path_factory.mktemp("prefect-server"), ui=False) as server:
        yield server
        APILogWorker.drain_all(timeout=10)  # deliver the logs while the server is up


@pytest.fixture
def prefect_api(prefect_server):
    """This process talks to the session's server (flows run in process use it)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        yield prefect_server.api_url
