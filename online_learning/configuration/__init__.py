"""The configuration of the maintained models: which models, of what kind, on which data.

:func:`load_configuration` reads the TOML file (``--config``, ``$ONLINE_LEARNING_CONFIG``,
``./online-learning.toml``, else the built-in three specialists) into a
:class:`Configuration` of :class:`ModelConfig` tables.
"""

from __future__ import annotations

from online_learning.configuration.loading import (
    BUILTIN_CONFIGURATION,
    CONFIG_ENV,
    DEFAULT_FILE,
    Configuration,
    load_configuration,
)
from online_learning.configuration.models import BUILTIN, POLICIES, ModelConfig

__all__ = [
    "BUILTIN",
    "BUILTIN_CONFIGURATION",
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "POLICIES",
    "Configuration",
    "ModelConfig",
    "load_configuration",
]
