"""The update settings as flow parameters, built from their one declaration.

Each setting of :class:`~online_learning.update.config.UpdateSettings` becomes a keyword
parameter of a flow (by its public name, e.g. ``data_window_days``), default None ("the
configured or default value"), with the setting's description in the flow's parameter schema
(what the Prefect UI and ``prefect deployment run -p`` show).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo

from online_learning.update.config import optional, with_setting_parameters

__all__ = ["with_update_settings"]


def _parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=Field(None, description=f"{field.description} Default: {field.default!r}."),
        annotation=optional(field),
    )


def with_update_settings(flow_function: Callable[..., Any]) -> Callable[..., Any]:
    """Add the update settings to ``flow_function``'s parameters; it receives them in
    ``overrides`` (see :func:`~online_learning.update.config.with_setting_parameters`).
    Apply it under ``@flow``."""
    return with_setting_parameters(flow_function, _parameter)
