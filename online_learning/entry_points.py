"""Entry points: a team's code named ``"package.module:attribute"``.

As uvicorn takes ``module:app`` and Prefect ``path.py:flow``, the platform takes a team's data
source, network, estimator and feature function by entry point. It is imported once; an
import that fails, or a missing attribute, is a :class:`~online_learning.errors.ConfigError`
that names the entry point and what was wrong, never a raw traceback.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

from online_learning.errors import ConfigError

__all__ = ["ENTRY_POINT", "describe_error", "import_entry_point", "is_entry_point"]

_IDENTIFIER = r"[A-Za-z_]\w*"
#: ``package.module:attribute`` (the attribute may be dotted: ``module:Class.factory``).
ENTRY_POINT = re.compile(rf"^{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}(\.{_IDENTIFIER})*$")


def is_entry_point(spec: str) -> bool:
    """Whether ``spec`` has the form ``package.module:attribute``.

    Examples
    --------
    >>> is_entry_point("team.sources:DailyBars"), is_entry_point("prices.csv")
    (True, False)
    """
    return bool(ENTRY_POINT.match(spec.strip()))


def import_entry_point(spec: str) -> Any:
    """Import the module of ``package.module:attribute`` and return the attribute.

    Raises
    ------
    ConfigError
        If the module cannot be imported (not found, or it fails while importing) or has no
        such attribute; the message names the entry point and what was wrong.

    Examples
    --------
    >>> import_entry_point("os.path:join")("a", "b")
    'a/b'
    >>> import_entry_point("os.path:no_such_thing")
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: os.path:no_such_thing: module 'os.path' has no attribute 'no_such_thing'...
    """  # noqa: E501
    spec = spec.strip()
    if not ENTRY_POINT.match(spec):
        raise ConfigError(f"{spec!r} is not an entry point 'package.module:attribute'")
    module_name, _, attribute = spec.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise ConfigError(
                f"{spec}: cannot import {module_name!r}: no module named {exc.name!r} (is its "
                "package installed, or its folder on PYTHONPATH?)"
            ) from None
        raise ConfigError(
            f"{spec}: importing {module_name!r} failed: {describe_error(exc)}"
        ) from exc
    except Exception as exc:  # the team's module failed while importing: say where
        raise ConfigError(
            f"{spec}: importing {module_name!r} failed: {describe_error(exc)}"
        ) from exc
    path = module_name
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(
                f"{spec}: {_kind(target)} {path!r} has no attribute {part!r} "
                f"(it has: {_public_names(target)})"
            )
        target, path = getattr(target, part), f"{path}.{part}"
    return target


def _public_names(target: Any, limit: int = 12) -> str:
    """What ``target`` offers, without the modules and ``__future__`` flags it imported."""
    names = []
    for name in sorted(dir(target)):
        value = getattr(target, name, None)
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if type(value).__module__ == "__future__":  # "from __future__ import annotations"
            continue
        names.append(name)
    more = ", ..." if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "nothing public"


def _kind(target: Any) -> str:
    return "module" if inspect.ismodule(target) else type(target).__name__


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` on one line, for messages that quote another error."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
