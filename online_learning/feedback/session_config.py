"""What an online session learns with: the River model type, its hyperparameters, features."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from river import compose, forest, linear_model, optim, preprocessing, tree

from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS

__all__ = ["MODEL_TYPES", "ModelType", "SessionConfig"]

ModelType = Literal["logistic_regression", "hoeffding_tree", "adaptive_random_forest"]
MODEL_TYPES: tuple[str, ...] = get_args(ModelType)


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _non_negative_float(name: str, value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value == 0:
        return 0.0
    return _positive_float(name, value)


def _probability(name: str, value: Any) -> float:
    number = _positive_float(name, value)
    if number >= 1:
        raise ConfigError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return number


def _int_between(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        return value

    return check


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda name, value: None if value is None else check(name, value)


def _choice(*options: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(f"{name} must be one of {', '.join(options)}; got {value!r}")
        return value

    return check


# Per model type: parameter -> (validator, default). The defaults are River's, except the
# logistic regression's step (River's 0.01 is fine for scaled features) and the forest's
# size (10 trees learn one outcome in about a millisecond here).
_PARAMS: dict[str, dict[str, tuple[Callable[[str, Any], Any], Any]]] = {
    "logistic_regression": {
        "learning_rate": (_positive_float, 0.01),
        "l2": (_non_negative_float, 0.0),
    },
    "hoeffding_tree": {
        "grace_period": (_int_between(1, 100_000), 200),
        "delta": (_probability, 1e-7),
        "max_depth": (_optional(_int_between(1, 1000)), None),
        "leaf_prediction": (_choice("mc", "nb", "nba"), "nba"),
    },
    "adaptive_random_forest": {
        "n_models": (_int_between(1, 100), 10),
        "grace_period": (_int_between(1, 100_000), 50),
        "lambda_value": (_int_between(1, 100), 6),
        "seed": (_optional(_int_between(0, 2**31 - 1)), 0),
    },
}


def _build(model_type: str, params: Mapping[str, Any]):
    if model_type == "logistic_regression":
        return compose.Pipeline(
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(
                optimizer=optim.SGD(params["learning_rate"]), l2=params["l2"]
            ),
        )
    if model_type == "hoeffding_tree":
        return tree.HoeffdingTreeClassifier(**params)
    return forest.ARFClassifier(**params)


@dataclass(frozen=True)
class SessionConfig:
    """The River model of an online session and the features it reads.

    Parameters
    ----------
    model_type : {"logistic_regression", "hoeffding_tree", "adaptive_random_forest"}
        ``logistic_regression`` standardises the features online (``StandardScaler``) before
        a logistic regression; the trees read them as they are.
    params : Mapping
        Hyperparameters of the type (others raise :class:`ConfigError`), missing ones take
        their defaults: ``learning_rate`` (0.01), ``l2`` (0) for the logistic regression;
        ``grace_period`` (200), ``delta`` (1e-7), ``max_depth`` (None), ``leaf_prediction``
        (``"nba"``) for the Hoeffding tree; ``n_models`` (10), ``grace_period`` (50),
        ``lambda_value`` (6), ``seed`` (0) for the adaptive random forest.
    feature_names : tuple of str
        The features every outcome of the session must carry, exactly; the platform's
        ``FEATURE_COLUMNS`` by default.
    metrics_window : int
        Outcomes the rolling accuracy, log-loss and Sharpe ratio look back on (10 to 100000).

    Examples
    --------
    >>> config = SessionConfig.from_dict({"model_type": "hoeffding_tree",
    ...                                   "params": {"grace_period": 50}})
    >>> dict(config.params)["grace_period"], dict(config.params)["delta"]
    (50, 1e-07)
    >>> SessionConfig(params={"learning_rate": -1})
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: learning_rate must be a finite number > 0, got -1
    """

    model_type: ModelType = "logistic_regression"
    params: Mapping[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] = FEATURE_COLUMNS
    metrics_window: int = 200

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(
                f"model_type must be one of {', '.join(MODEL_TYPES)}; got {self.model_type!r}"
            )
        if not isinstance(self.params, Mapping):
            raise ConfigError(f"params must be an object, got {type(self.params).__name__}")
        known = _PARAMS[self.model_type]
        unknown = sorted(set(self.params) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown parameters for {self.model_type}: {', '.join(map(str, unknown))}; "
                f"known: {', '.join(known)}"
            )
        checked = {
            name: check(name, self.params[name]) if name in self.params else default
            for name, (check, default) in known.items()
        }
        names = self.feature_names
        if isinstance(names, str) or not all(isinstance(n, str) and n for n in names or ()):
            raise ConfigError("feature_names must be a non-empty list of non-empty strings")
        if len(set(names)) != len(names):
            raise ConfigError("feature_names must not repeat a name")
        window = self.metrics_window
        if isinstance(window, bool) or not isinstance(window, int) or not 10 <= window <= 100_000:
            raise ConfigError(
                f"metrics_window must be an integer from 10 to 100000, got {window!r}"
            )
        object.__setattr__(self, "params", MappingProxyType(checked))
        object.__setattr__(self, "feature_names", tuple(names))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionConfig:
        """Validate a JSON object (``model_type``, ``params``, ``feature_names``,
        ``metrics_window``, all optional); anything else raises :class:`ConfigError`."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a session config is an object, got {type(data).__name__}")
        fields = ("model_type", "params", "feature_names", "metrics_window")
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(
                f"unknown session config fields: {', '.join(map(str, unknown))}; "
                f"known: {', '.join(fields)}"
            )
        values = {k: data[k] for k in fields if data.get(k) is not None}
        if "feature_names" in values:
            names = values["feature_names"]
            if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
                raise ConfigError("feature_names must be a non-empty list of strings")
            values["feature_names"] = tuple(names)
        return cls(**values)

    def __reduce__(self):
        # The read-only params view does not pickle; the JSON form rebuilds the same config.
        return (SessionConfig.from_dict, (self.to_dict(),))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object :meth:`from_dict` reads back."""
        return {
            "model_type": self.model_type,
            "params": dict(self.params),
            "feature_names": list(self.feature_names),
            "metrics_window": self.metrics_window,
        }

    def build_model(self):
        """A fresh, untrained River classifier of this configuration."""
        return _build(self.model_type, self.params)
