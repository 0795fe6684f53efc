"""The update settings as command-line options, built from their one declaration.

Each setting of :class:`~online_learning.update.config.UpdateSettings` becomes an option of
``update`` and ``backtest`` under its public name, spelt with underscores and with dashes
(``--data_window_days``, ``--data-window-days``; booleans as ``--x/--no-x``), its description
as the help and its default shown there. Options not given stay None: the preset, the model's
configuration or the declaration's default applies.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args, get_origin

import typer
from pydantic.fields import FieldInfo

from online_learning.update.config import with_setting_parameters

__all__ = ["with_update_settings"]

#: Spellings kept from the command line's earlier options.
_ALIASES: dict[str, tuple[str, ...]] = {"data_window_days": ("--data-window", "--data_window")}


def _flags(name: str, boolean: bool) -> list[str]:
    spellings = list(dict.fromkeys((name, name.replace("_", "-"))))
    if boolean:
        return [f"--{s}/--no{'_' if '_' in s else '-'}{s}" for s in spellings]
    return [f"--{s}" for s in (*spellings, *(a.lstrip("-") for a in _ALIASES.get(name, ())))]


def _parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    kind = field.annotation
    choices = get_args(kind) if get_origin(kind) is Literal else ()
    if choices:
        kind = str
    option = typer.Option(
        *_flags(name, kind is bool),
        help=f"{field.description} Default: {field.default}.",
        show_default=False,
    )
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[kind | None, option],
    )


def with_update_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the update settings to ``command``'s options; it receives them in ``overrides``
    (see :func:`~online_learning.update.config.with_setting_parameters`). Apply it under
    ``@app.command()``."""
    return with_setting_parameters(command, _parameter)
