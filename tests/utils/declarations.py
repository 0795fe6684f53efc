"""Instances of a declared dataclass (``online_learning/prediction/records.py``) with every field
filled from its type, so that a test building one keeps working when a field is added."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["example"]


def example(cls: type, *, null: bool = False, **values: Any) -> Any:
    """An instance of the dataclass ``cls``: ``values`` where given, elsewhere a distinct value
    of each field's type (None in every nullable field when ``null``; nested dataclasses
    filled alike).

    >>> from online_learning.prediction.records import Prediction
    >>> p = example(Prediction, symbol="AAA", p_up=0.7)
    >>> p.symbol, p.direction, p.components[0].kind, type(p.features).__name__
    ('AAA', 'up', 'online', 'dict')
    >>> example(Prediction, null=True).session is None
    True
    """
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    for i, field in enumerate(fields):
        if field.name not in values:
            values[field.name] = _value(hints[field.name], i, null=null)
    return cls(**values)


def _value(hint: Any, i: int, *, null: bool) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return None if null else _value(next(a for a in args if a is not type(None)), i, null=null)
    if origin is typing.Literal:
        return args[-1]
    if origin in (tuple, list):
        return origin([_value(args[0], i, null=null)])
    if origin in (dict, Mapping):
        return {f"feature_{i}": 0.5 + i}
    if dataclasses.is_dataclass(hint):
        return example(hint, null=null)
    if hint is datetime:
        return datetime(2026, 1, 5, 21, 0, 0, 1000 + i, tzinfo=UTC)
    return {str: f"value-{i}", float: 0.125 * (i + 1), int: 7 + i, bool: i % 2 == 0}[hint]
