"""Where the configuration of the maintained models comes from, and how it is read.

The file is TOML with one ``[models.<id>]`` table per model (see
:class:`~online_learning.configuration.models.ModelConfig`), and optionally the platform's
settings (``[platform]``, ``[feedback]``, ``[serving]``: :mod:`online_learning.settings`).
It is, in this order: the path given (the command line's ``--config``),
``$ONLINE_LEARNING_CONFIG``, ``./online-learning.toml`` when present, else the built-in
default (the three regime specialists on the synthetic market: ``specialists.toml`` beside
this module, also shipped as ``examples/online-learning.toml``). Every problem is a
:class:`~online_learning.errors.ConfigError` naming the file, the model and the key, with the
line where the file has one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from online_learning.configuration.models import ModelConfig
from online_learning.errors import ConfigError
from online_learning.settings import ALL_SECTIONS, CONFIG_ENV, DEFAULT_FILE, line_of, read_toml
from online_learning.update.config import validate_model_id

__all__ = [
    "BUILTIN_CONFIGURATION",
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "Configuration",
    "load_configuration",
]

BUILTIN_CONFIGURATION = Path(__file__).with_name("specialists.toml")


@dataclass(frozen=True)
class Configuration:
    """The maintained models, by id, and the file they were read from."""

    models: Mapping[str, ModelConfig]
    path: Path

    @property
    def builtin(self) -> bool:
        """Whether this is the built-in default (no file of the team's was found)."""
        return self.path == BUILTIN_CONFIGURATION

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.models)

    @property
    def ensemble(self) -> tuple[str, ...]:
        """The models the served ensemble is made of by default: the networks and estimators
        that read rows of the built-in features (the specialists in one batched forward, the
        regime weighting). A model on its own features or sequences is asked for by its id.

        Examples
        --------
        >>> load_configuration(BUILTIN_CONFIGURATION).ensemble
        ('bull_specialist', 'bear_specialist', 'sideways_specialist')
        """
        return tuple(
            model_id
            for model_id, table in self.models.items()
            if table.features == "builtin" and table.sequence_length is None
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.models

    def model(self, model_id: str) -> ModelConfig:
        """The table of ``model_id``; a :class:`ConfigError` names the file when it has none."""
        try:
            return self.models[model_id]
        except KeyError:
            raise ConfigError(
                f"{self.path}: no [models.{model_id}] table; configured models: "
                f"{', '.join(self.models) or 'none'}"
            ) from None


def configuration_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The file the configuration is read from (see the module doc for the order)."""
    if path is not None and str(path):
        return Path(path).expanduser()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    local = Path.cwd() / DEFAULT_FILE
    return local if local.is_file() else BUILTIN_CONFIGURATION


def load_configuration(path: str | os.PathLike[str] | None = None) -> Configuration:
    """Read and check the configuration (see the module doc for where it is found).

    Examples
    --------
    >>> configuration = load_configuration(BUILTIN_CONFIGURATION)
    >>> configuration.ids
    ('bull_specialist', 'bear_specialist', 'sideways_specialist')
    >>> configuration.model("bear_specialist").regime
    'bear'
    """
    file = configuration_path(path)
    text, document = read_toml(file)
    unknown = sorted(set(document) - {"models", *ALL_SECTIONS})
    if unknown:
        raise ConfigError(
            f"{file}: line {line_of(text, f'[{unknown[0]}') or line_of(text, unknown[0])}: "
            f"unknown table or key {unknown[0]!r}; expected [models.<id>] tables and "
            f"{', '.join(f'[{t}]' for t in ALL_SECTIONS)}"
        )
    tables = document.get("models", {})
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{file}: no [models.<id>] table")
    models = {}
    for model_id, table in tables.items():
        where = f"{file}: [models.{model_id}]"
        try:
            validate_model_id(model_id)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table of keys")
        models[model_id] = _model(text, where, model_id, table)
    return Configuration(models=models, path=file)


def _model(text: str, where: str, model_id: str, table: dict[str, Any]) -> ModelConfig:
    try:
        config = ModelConfig(**table)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            line = line_of(text, key, after=f"[models.{model_id}]")
            expected = ", ".join(sorted(ModelConfig.model_fields))
            raise ConfigError(
                f"{where} line {line}: unknown key {key!r}; expected one of {expected}"
            ) from None
        if "error" in error.get("ctx", {}):
            message = str(error["ctx"]["error"])
        else:
            message = f"{error['msg']}, got {error.get('input')!r}"
        if key:
            line = line_of(text, key, after=f"[models.{model_id}]")
            raise ConfigError(f"{where} line {line}: {key}: {message}") from None
        raise ConfigError(f"{where}: {message}") from None
    try:
        config.update_settings()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    config._origin = where
    return config
