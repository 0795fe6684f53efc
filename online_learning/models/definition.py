"""What a registered version is: its definition, which travels with it.

A :class:`ModelDefinition` says what the model is (its network and parameters), what it sees
(its feature function and the feature names it produced, its sequence length), what it
predicts (target and horizon), on which data (the source, its symbols, its regime) and how it
is maintained (its policy). It is written beside every registered version, so a version can be
used, updated and reproduced from the registry alone; an update whose configuration disagrees
with its champion's definition is refused (:meth:`ModelDefinition.mismatch`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS
from online_learning.specialists import SPECIALISTS
from online_learning.urls import redact

__all__ = ["BUILTIN", "DEFINITION_VERSION", "IDENTITY", "ModelDefinition"]

#: The platform's own network and features.
BUILTIN = "builtin"

DEFINITION_VERSION = 1
#: The fields an update may not change: what the model is, sees, predicts, and on which data.
IDENTITY: tuple[str, ...] = (
    "kind",
    "entry",
    "params",
    "features",
    "sequence_length",
    "target",
    "horizon_days",
    "data",
    "symbols",
    "regime",
)


@dataclass(frozen=True)
class ModelDefinition:
    """A model as registered (see the module doc).

    ``kind`` is ``network`` or ``estimator``; ``entry`` its entry point (``builtin`` for the
    platform's network) and ``params`` the keyword arguments it is called with; ``features``
    the feature function (``builtin`` or an entry point) and ``feature_names`` the columns it
    produced when the model was first trained; ``data`` the source, with any password masked.

    Examples
    --------
    >>> d = ModelDefinition.builtin("bear_specialist")
    >>> d.regime, d.target, d.feature_names[:2]
    ('bear', 'direction', ('ret_1', 'ret_5'))
    >>> ModelDefinition.from_json(d.to_json()) == d
    True
    """

    model_id: str
    kind: Literal["network", "estimator"] = "network"
    entry: str = BUILTIN
    params: dict[str, Any] = field(default_factory=dict)
    features: str = BUILTIN
    feature_names: tuple[str, ...] = FEATURE_COLUMNS
    sequence_length: int | None = None
    target: Literal["direction", "return"] = "direction"
    horizon_days: int = 1
    data: str | None = "synthetic"
    symbols: tuple[str, ...] | None = None
    regime: str | None = None
    policy: str = "ewc"
    definition_version: int = DEFINITION_VERSION

    @classmethod
    def builtin(cls, model_id: str, *, data: str = "synthetic") -> ModelDefinition:
        """The platform's own network on its ten features (a specialist's regime, if any):
        what a version registered without a definition is taken to be."""
        return cls(model_id=model_id, data=redact(data), regime=SPECIALISTS.get(model_id))

    @classmethod
    def legacy(cls, model_id: str) -> ModelDefinition:
        """A version registered before definitions were recorded: the platform's network on
        its ten features; its data is not known (None), so no update is refused for it."""
        return replace(cls.builtin(model_id), data=None)

    def with_features(self, names: tuple[str, ...]) -> ModelDefinition:
        return replace(self, feature_names=tuple(names))

    @property
    def lookback_rows(self) -> int:
        """Rows of a symbol's features an input needs: the sequence, or the row itself."""
        return self.sequence_length or 1

    def identity(self) -> dict[str, Any]:
        """The fields that make the model what it is (see :data:`IDENTITY`)."""
        data = self.to_dict()
        return {name: data[name] for name in IDENTITY}

    def mismatch(self, other: ModelDefinition) -> str | None:
        """How ``other`` (what an update was told) differs from this (the champion's), as a
        sentence, or None when it does not.

        Examples
        --------
        >>> champion = ModelDefinition.builtin("m", data="sp500")
        >>> champion.mismatch(ModelDefinition.builtin("m", data="synthetic"))
        "data: the champion's is 'sp500', this update's 'synthetic'"
        """
        mine, theirs = self.identity(), other.identity()
        for name in IDENTITY:
            if name == "data" and mine[name] is None:  # a legacy version: not recorded
                continue
            if mine[name] != theirs[name]:
                return f"{name}: the champion's is {mine[name]!r}, this update's {theirs[name]!r}"
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["feature_names"] = list(self.feature_names)
        data["symbols"] = None if self.symbols is None else list(self.symbols)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelDefinition:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("definition_version", 1) > DEFINITION_VERSION:
            raise ConfigError(
                f"model {data.get('model_id')!r}: its definition is of version "
                f"{known['definition_version']}, newer than this platform reads "
                f"({DEFINITION_VERSION}); upgrade online-learning"
            )
        known["feature_names"] = tuple(known.get("feature_names") or ())
        symbols = known.get("symbols")
        known["symbols"] = None if symbols is None else tuple(symbols)
        return cls(**known)

    @classmethod
    def from_json(cls, text: str) -> ModelDefinition:
        return cls.from_dict(json.loads(text))
