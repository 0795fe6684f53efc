"""A team's scikit-learn-API estimator under the model contract, and how it is maintained.

An estimator entry point (``lightgbm:LGBMClassifier``,
``sklearn.ensemble:HistGradientBoostingClassifier``, a team's own class) is called as
``callable(**estimator_params)`` and returns an object with ``fit(x, y)`` and:

* for ``target = "direction"``: ``predict_proba(x)``, one column per class of the labels
  ``0`` (down) and ``1`` (up); ``p_up`` is the column of class ``1``;
* for ``target = "return"``: ``predict(x)``, the log return over ``horizon_days``;
  ``p_up = Phi(prediction / s)`` with ``s`` the standard deviation of the training targets.

It is given rows ``(n, n_features)`` of the model's features as they are (trees need no
scaling; a team that wants scaling puts a pipeline behind its entry point). The position is
``2 * p_up - 1``, priced by the one rule of :mod:`online_learning.execution`, as a network's.
When the estimator takes ``random_state`` and its parameters do not set it, the training seed
is passed.

Two maintenance policies:

* ``retrain``: a fresh estimator fitted on the update's sliding window;
* ``warm_start``: the champion continued on the window: ``partial_fit`` where the estimator
  has it; LightGBM's ``init_model`` (the window's trees are added to the champion's); or
  scikit-learn's ``warm_start`` parameter (the champion's iterations kept, as many again
  grown on the window). An estimator with none of them is refused at training time.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr

from online_learning.entry_points import describe_error, import_entry_point
from online_learning.errors import ConfigError
from online_learning.models.definition import ModelDefinition

__all__ = ["ContractEstimator", "build_estimator", "flavor_of", "warm_start_method"]

#: Parameters of scikit-learn estimators that count their iterations (trees, epochs).
_ITERATIONS = ("max_iter", "n_estimators")


class ContractEstimator:
    """A team's estimator with its feature names, target and output scale.

    It answers ``predict_proba(x)`` with ``p_up`` per row, as every model of the platform
    does, so the gate, the backtest and the serving API use it as they use a network.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> model = ContractEstimator(LogisticRegression(), feature_names=("a",)).fit(x, y)
    >>> p = model.predict_proba(x)
    >>> p.shape, bool(p[3] > 0.5 > p[0])
    ((4,), True)
    """

    sequence_length = None

    def __init__(
        self,
        estimator: Any,
        *,
        feature_names: Sequence[str],
        target: str = "direction",
        target_scale: float = 1.0,
    ) -> None:
        self.estimator = estimator
        self.feature_names = tuple(feature_names)
        self.target = target
        self.target_scale = float(target_scale)

    # The platform switches networks between training and evaluation; an estimator has no
    # such mode.
    def eval(self) -> ContractEstimator:
        return self

    def train(self, mode: bool = True) -> ContractEstimator:
        return self

    def fit(self, x: np.ndarray, y: np.ndarray) -> ContractEstimator:
        """Fit the estimator on rows and labels (the ``return`` target's scale too)."""
        labels = _labels(y, self.target)
        if self.target == "return":
            self.target_scale = _scale(labels)
        self.estimator.fit(_rows(x, self.feature_names), labels)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``p_up`` per row (float64)."""
        rows = _rows(x, self.feature_names)
        booster = _lightgbm_booster(self.estimator, self.target)
        if booster is not None:
            # What LightGBM's scikit-learn wrapper answers, without its input checks: 22 us
            # for a row instead of 515 us here, the most of a served prediction.
            output = np.asarray(booster.predict(rows), dtype=np.float64).reshape(-1)
            return output if self.target == "direction" else ndtr(output / self.target_scale)
        if self.target == "return":
            z = np.asarray(self.estimator.predict(rows), dtype=np.float64).reshape(-1)
            return ndtr(z / self.target_scale)
        proba = np.asarray(self.estimator.predict_proba(rows), dtype=np.float64)
        classes = list(getattr(self.estimator, "classes_", [0, 1]))
        if 1 not in classes:  # trained on days that all went down
            return np.zeros(len(rows))
        return proba[:, classes.index(1)]

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Log loss (``direction``) or squared error (``return``) on rows and labels."""
        if self.target == "return":
            prediction = np.asarray(self.estimator.predict(_rows(x, self.feature_names)))
            return float(np.mean((prediction.reshape(-1) - np.asarray(y, dtype=float)) ** 2))
        p = np.clip(self.predict_proba(x), 1e-7, 1 - 1e-7)
        y = np.asarray(y, dtype=np.float64)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def continued(self, x: np.ndarray, y: np.ndarray, *, fresh: Any) -> ContractEstimator:
        """A copy of this (fitted) model continued on rows and labels (``warm_start``); this
        one is left as it was. ``fresh`` is an unfitted estimator of the model's definition:
        its parameters, and how many iterations one fit grows."""
        method = warm_start_method(self.estimator)
        if method is None:
            raise ConfigError(_no_warm_start(self.estimator))
        rows, labels = _rows(x, self.feature_names), _labels(y, self.target)
        if method == "init_model":
            estimator = copy.deepcopy(fresh)
            estimator.fit(rows, labels, init_model=self.estimator.booster_)
        elif method == "partial_fit":
            estimator = copy.deepcopy(self.estimator)
            if self.target == "return":
                estimator.partial_fit(rows, labels)
            else:
                estimator.partial_fit(rows, labels, classes=np.array([0, 1]))
        else:
            estimator = copy.deepcopy(self.estimator)
            params = estimator.get_params()
            name = next(n for n in _ITERATIONS if n in params)
            grown = int(params[name]) + int(fresh.get_params()[name])
            estimator.set_params(warm_start=True, **{name: grown})
            estimator.fit(rows, labels)
        # The output scale stays the champion's: the model's p_up keeps its meaning.
        return ContractEstimator(
            estimator,
            feature_names=self.feature_names,
            target=self.target,
            target_scale=self.target_scale,
        )

    def __repr__(self) -> str:
        return f"ContractEstimator({self.estimator!r}, target={self.target!r})"


def warm_start_method(estimator: Any) -> str | None:
    """How ``estimator`` continues from itself: ``init_model`` (LightGBM), ``partial_fit``,
    ``warm_start`` (scikit-learn's parameter, with an iteration count), or None.

    Examples
    --------
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> [warm_start_method(e()) for e in (HistGradientBoostingClassifier, SGDClassifier)]
    ['warm_start', 'partial_fit']
    >>> warm_start_method(KNeighborsClassifier()) is None
    True
    """
    if _is_lightgbm(estimator):
        return "init_model"
    if callable(getattr(estimator, "partial_fit", None)):
        return "partial_fit"
    get_params = getattr(estimator, "get_params", None)
    params = get_params() if callable(get_params) else {}
    if "warm_start" in params and any(name in params for name in _ITERATIONS):
        return "warm_start"
    return None


def _lightgbm_booster(estimator: Any, target: str) -> Any:
    """The fitted booster of a LightGBM estimator whose wrapper only passes its output on (a
    binary classifier of the labels 0 and 1, or a regressor, with a built-in objective)."""
    if not _is_lightgbm(estimator):
        return None
    booster = getattr(estimator, "_Booster", None)  # None until fitted
    if booster is None or callable(getattr(estimator, "objective_", None)):
        return None
    if target == "return":
        return None if hasattr(estimator, "classes_") else booster
    binary = getattr(estimator, "objective_", None) == "binary"
    return booster if binary and list(getattr(estimator, "classes_", [])) == [0, 1] else None


def flavor_of(estimator: Any) -> str:
    """The MLflow flavour a fitted estimator is logged with: ``lightgbm`` or ``sklearn``."""
    return "lightgbm" if _is_lightgbm(estimator) else "sklearn"


def build_estimator(
    definition: ModelDefinition, *, seed: int = 0, where: str = ""
) -> ContractEstimator:
    """A fresh, unfitted estimator of ``definition``, checked against the contract.

    Raises
    ------
    ConfigError
        The entry point does not import or fails when called, the object lacks ``fit`` or
        the method its target needs, or the policy is ``warm_start`` and the estimator has no
        way to continue; the message names ``where`` and what was wrong.
    """
    where = where or f"model {definition.model_id!r} estimator {definition.entry!r}"
    try:
        factory = import_entry_point(definition.entry)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        estimator = factory(**definition.params)
    except Exception as exc:
        raise ConfigError(
            f"{where}: {definition.entry}(**{definition.params}) raised {describe_error(exc)}"
        ) from exc
    needed = "predict_proba" if definition.target == "direction" else "predict"
    for method in ("fit", needed):
        if not callable(getattr(estimator, method, None)):
            raise ConfigError(
                f"{where}: a {type(estimator).__name__} has no {method}(); an estimator for "
                f"target {definition.target!r} needs fit() and {needed}()"
            )
    if definition.policy == "warm_start" and warm_start_method(estimator) is None:
        raise ConfigError(f"{where}: {_no_warm_start(estimator)}")
    get_params = getattr(estimator, "get_params", None)
    if (
        callable(get_params)
        and "random_state" in get_params()
        and "random_state" not in definition.params
    ):
        estimator.set_params(random_state=seed)
    return ContractEstimator(
        estimator, feature_names=definition.feature_names, target=definition.target
    )


def _no_warm_start(estimator: Any) -> str:
    return (
        f"policy 'warm_start' needs an estimator that can continue from itself (partial_fit, "
        f"LightGBM's init_model, or a warm_start parameter with max_iter or n_estimators); "
        f"a {type(estimator).__name__} has none: use policy 'retrain'"
    )


def _is_lightgbm(estimator: Any) -> bool:
    return type(estimator).__module__.split(".", 1)[0] == "lightgbm"


def _labels(y: np.ndarray, target: str) -> np.ndarray:
    """Labels as the estimator is fitted on them: class ids, or log returns."""
    return np.asarray(y).astype(np.float64 if target == "return" else np.int64)


def _rows(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    rows = np.asarray(x, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(names):
        raise ValueError(f"expected rows (n, {len(names)}), got {tuple(rows.shape)}")
    return rows


def _scale(y: np.ndarray) -> float:
    values = np.asarray(y, dtype=np.float64)
    scale = float(values.std(ddof=1)) if values.size > 1 else 1.0
    return max(scale, 1e-6) if math.isfinite(scale) else 1.0
