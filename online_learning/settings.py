"""Process-wide settings, read when first asked for (never at import).

One layered configuration: each setting is taken from, in this order, a command-line flag
(the command line passes its flags as environment variables to the processes it starts), the
environment (``ONLINE_LEARNING_<NAME>``, or the variable a setting names, such as
``MLFLOW_TRACKING_URI``), the configuration file, else its default. The file is the one of
the models' configuration (``--config``, ``$ONLINE_LEARNING_CONFIG``, else
``./online-learning.toml`` when present) with tables beside ``[models.<id>]``::

    [platform]                      # the library, the command line, the flows
    home = "/srv/online-learning"
    mlflow_tracking_uri = "http://mlflow:5000"
    database_url = "postgresql://ol@db/metrics"
    kafka_bootstrap_servers = "kafka:9092"

    [feedback]                      # the feedback workers
    feedback_commit_interval_s = 2.0

    [serving]                       # the API replicas (serving.settings)
    max_batch = 500

A key no table knows, or a value its setting refuses, is a
:class:`~online_learning.errors.ConfigError` naming the file, the line and the setting.
``online-learning config`` prints every effective setting and where it came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from online_learning.errors import ConfigError

CONFIG_ENV = "ONLINE_LEARNING_CONFIG"
DEFAULT_FILE = "online-learning.toml"
#: Tables of the configuration file that are not settings.
NOT_SETTINGS = frozenset({"models"})


def settings_file() -> Path | None:
    """The configuration file settings are read from: ``$ONLINE_LEARNING_CONFIG``, else
    ``./online-learning.toml`` when present, else none (the command line's ``--config`` sets
    the variable)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    local = Path.cwd() / DEFAULT_FILE
    return local if local.is_file() else None


def line_of(text: str, key: str, *, after: str | None = None) -> int | None:
    """The 1-based line of ``key = ...`` (or of a table header ``[key``), after the line
    ``after`` (a table header) when given."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        header = re.compile(rf"^\s*{re.escape(after)}\s*(#.*)?$")
        start = next((i for i, line in enumerate(lines) if header.match(line)), 0)
    pattern = re.compile(rf"^\s*(\[\s*)?{re.escape(key)}\b")
    for number in range(start, len(lines)):
        if pattern.match(lines[number]):
            return number + 1
    return None


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and the document of a configuration file, or a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def field_key(name: str, field: FieldInfo) -> str:
    """The key a settings source gives a field's value under (its alias, if it has one)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return first if isinstance(first, str) else name
    return alias if isinstance(alias, str) else name


class FileSettings(PydanticBaseSettingsSource):
    """The settings tables of the configuration file (see the module doc), checked key by key:
    an unknown key or a refused value names the file, the line and the setting. Tables of
    settings another class owns (``[serving]`` for the library's :class:`Settings`) are left
    to it."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path
        #: ``{field name: (value, line)}`` of what the file sets.
        self.found: dict[str, tuple[Any, int | None]] = {}
        if path is not None:
            self._read(path)

    def _read(self, path: Path) -> None:
        text, document = read_toml(path)
        sections = self.settings_cls.sections()  # type: ignore[attr-defined]
        known = set(sections) | set(NOT_SETTINGS) | set(ALL_SECTIONS)
        for table, values in document.items():
            if table not in known:
                line = line_of(text, f"[{table}") or line_of(text, table)
                raise ConfigError(
                    f"{path}: line {line}: unknown table or key {table!r}; expected "
                    f"{', '.join(f'[{t}]' for t in sorted(known - NOT_SETTINGS))} or "
                    "[models.<id>] tables"
                )
            if table not in sections:
                continue  # a table of another class's settings, or the models
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: {table} must be a table: [{table}]")
            self._table(path, text, table, values, sections[table])

    def _table(self, path: Path, text: str, table: str, values: dict, names: tuple[str, ...]):
        fields = self.settings_cls.model_fields
        for key, value in values.items():
            line = line_of(text, key, after=f"[{table}]")
            where = f"{path}: line {line}: [{table}] {key}"
            if key not in names:
                raise ConfigError(
                    f"{where}: unknown setting; [{table}] takes {', '.join(sorted(names))}"
                )
            field = fields[key]
            kind = field.annotation
            if field.metadata:
                kind = Annotated[(kind, *field.metadata)]  # type: ignore[valid-type]
            try:
                TypeAdapter(kind).validate_python(value)
            except ValidationError as exc:
                error = exc.errors(include_url=False)[0]
                raise ConfigError(f"{where}: {error['msg']}, got {value!r}") from None
            self.found[key] = (value, line)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value = self.found.get(field_name)
        return (None if value is None else value[0]), field_name, False

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {field_key(name, fields[name]): value for name, (value, _) in self.found.items()}


#: Every settings table of the file, whichever class owns it (the library's, the API's).
ALL_SECTIONS = ("platform", "feedback", "serving")


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
    #: Settings of the feedback workers: the file's ``[feedback]`` table. The rest of this
    #: class's are its ``[platform]`` table.
    FEEDBACK: ClassVar[tuple[str, ...]] = (
        "feedback_group",
        "feedback_commit_interval_s",
        "drift_cooldown_s",
        "adaptive_interval_s",
    )

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
    #: Interface the ``/metrics`` of ``feedback-worker``, ``relay --follow`` and ``up`` listen
    #: on (``0.0.0.0``: reachable by a Prometheus on another machine).
    metrics_host: str = "127.0.0.1"

    @classmethod
    def sections(cls) -> dict[str, tuple[str, ...]]:
        """``{table of the configuration file: the settings it holds}``."""
        platform = tuple(n for n in Settings.model_fields if n not in cls.FEEDBACK)
        return {"platform": platform, "feedback": cls.FEEDBACK}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments (the command line's), then the environment, then the file, then the
        defaults."""
        return (init_settings, env_settings, FileSettings(settings_cls, settings_file()))

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
