"""Settings of the serving API, read when first asked for (never at import).

Each is also the key of the configuration file's ``[serving]`` table (the layered
configuration of :mod:`online_learning.settings`: flag, environment, file, default).

:class:`ServingSettings` extends the library's :class:`~online_learning.settings.Settings`
(``ONLINE_LEARNING_HOME``, ``MLFLOW_TRACKING_URI``, ``ONLINE_LEARNING_DATABASE_URL``,
``KAFKA_BOOTSTRAP_SERVERS``, topics), so one environment configures the CLI, the workers and
the API alike. Its own variables (prefix ``ONLINE_LEARNING_``):

- ``ONLINE_LEARNING_API_KEYS``: ``key:scope,scope;key2:scope`` (kept as a secret: never in a
  repr or a log line);
- ``ONLINE_LEARNING_MAX_BATCH`` (1000): most requests in one ``POST /predictions`` batch,
  and most outcomes in one ``POST /feedback/outcomes``; more answer 413;
- ``ONLINE_LEARNING_STRATEGY`` (``ensemble``): the default strategy of a prediction;
- ``ONLINE_LEARNING_REGISTRY_POLL_S`` (5): seconds between two reads of the champion aliases
  (the hot swap; with a broker the ``model-updates`` events swap at once, the poll catches an
  alias moved without an event, such as ``online-learning rollback``);
- ``ONLINE_LEARNING_SERVING_MODELS``: the models of the served ensemble, a JSON list (default:
  the configured models that read rows of the built-in features; ``[]``: no ensemble, each
  prediction names its ``model_id``);
- ``ONLINE_LEARNING_MICRO_BATCH_MS`` (see :mod:`serving.batcher`);
- ``ONLINE_LEARNING_MAX_BODY_BYTES`` (16 MiB), ``ONLINE_LEARNING_MAX_HEADER_COUNT`` (100) and
  ``ONLINE_LEARNING_MAX_HEADER_BYTES`` (32 KiB): larger requests answer 413 and 431;
- ``ONLINE_LEARNING_STREAM_*``: the WebSocket streams' queue, replay, send timeout, lag limit and
  symbol bound (the ``predictions`` topic is the library's ``ONLINE_LEARNING_PREDICTIONS_TOPIC``);
- ``ONLINE_LEARNING_HOST`` / ``ONLINE_LEARNING_PORT`` (127.0.0.1:8000): ``online-learning serve``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr

from online_learning.settings import Settings
from serving.auth import ApiKeys

#: Every HTTP route lives under this prefix.
API_PREFIX = "/api/v1"
Strategy = Literal["ensemble", "champion_challenger"]


class ServingSettings(Settings):
    """Settings of one API replica (see the module docstring)."""

    api_keys: SecretStr | None = None
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    #: Largest request body accepted, in bytes (a full batch of bars requests fits).
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    #: Most request header fields, and header bytes (names and values), accepted (431 above).
    max_header_count: int = Field(default=100, ge=10, le=10_000)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=16 * 1024 * 1024)
    strategy: Strategy = "ensemble"
    registry_poll_s: float = Field(default=5.0, gt=0, le=3600)
    #: None: the configuration's ensemble (:attr:`Configuration.ensemble`).
    serving_models: tuple[str, ...] | None = None
    #: Window in which concurrent single predictions are collected into one batched forward
    #: (0: only those that arrive in the same event-loop turn; negative: no micro-batching).
    micro_batch_ms: float = Field(default=0.0, le=50)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: Name of this replica in stream frames and in its ``model-updates`` consumer group
    #: (default: host, process id and a random suffix).
    replica: str | None = None
    #: WebSocket streams (see :mod:`serving.streaming`): frames queued per subscriber, frames
    #: kept per symbol for a reconnecting ``since``, seconds a send may take, seconds a
    #: subscriber may stay behind before it is closed (4008), symbols with a replay buffer.
    stream_queue_size: int = Field(default=256, ge=1, le=100_000)
    stream_replay_size: int = Field(default=1024, ge=0, le=1_000_000)
    stream_send_timeout_s: float = Field(default=5.0, gt=0, le=300)
    stream_max_behind_s: float = Field(default=10.0, gt=0, le=3600)
    stream_max_symbols: int = Field(default=2000, ge=1, le=1_000_000)

    @classmethod
    def sections(cls) -> dict[str, tuple[str, ...]]:
        """The library's tables and ``[serving]``: the settings of this class alone."""
        own = tuple(n for n in cls.model_fields if n not in Settings.model_fields)
        return {**super().sections(), "serving": own}

    def keys(self) -> ApiKeys:
        """The configured API keys (:class:`~online_learning.errors.ConfigError` if malformed)."""
        text = self.api_keys.get_secret_value() if self.api_keys is not None else None
        return ApiKeys.parse(text)


@lru_cache(maxsize=1)
def get_settings() -> ServingSettings:
    """Settings built once per process from the environment."""
    return ServingSettings()
