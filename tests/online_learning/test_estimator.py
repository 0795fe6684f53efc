"""The estimator contract: p_up from each kind of estimator, and warm starts that continue the
champion without changing it."""

from __future__ import annotations

import numpy as np
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from scipy.special import ndtr
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import SGDClassifier

from online_learning.models.estimator import ContractEstimator

NAMES = ("a", "b", "c")


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    returns = 0.01 * x[:, 0] + 0.01 * rng.normal(size=600)
    return x, (returns > 0).astype(int), returns


def test_p_up_is_the_probability_of_class_1_or_the_scaled_return(rows):
    x, up, returns = rows
    lgbm = ContractEstimator(LGBMClassifier(n_estimators=20, verbose=-1), feature_names=NAMES)
    lgbm.fit(x, up)
    # The booster's fast path answers what the scikit-learn wrapper does.
    assert np.array_equal(lgbm.predict_proba(x), lgbm.estimator.predict_proba(x)[:, 1])
    regressor = ContractEstimator(
        LGBMRegressor(n_estimators=20, verbose=-1), feature_names=NAMES, target="return"
    ).fit(x, returns)
    assert regressor.target_scale == pytest.approx(returns.std(ddof=1))
    expected = ndtr(regressor.estimator.predict(x) / regressor.target_scale)
    assert np.allclose(regressor.predict_proba(x), expected, atol=1e-12)
    trees = ContractEstimator(HistGradientBoostingClassifier(max_iter=10), feature_names=NAMES)
    p = trees.fit(x, up).predict_proba(x)
    assert p.shape == (600,) and np.corrcoef(p, x[:, 0])[0, 1] > 0.5  # it learned the signal
    with pytest.raises(ValueError, match=r"expected rows \(n, 3\)"):
        trees.predict_proba(np.zeros((2, 4)))


@pytest.mark.parametrize(
    ("make", "grown"),
    [
        (lambda: LGBMClassifier(n_estimators=15, verbose=-1),
         lambda e: e.booster_.num_trees()),
        (lambda: HistGradientBoostingClassifier(max_iter=10), lambda e: e.n_iter_),
        (lambda: SGDClassifier(loss="log_loss", random_state=0), lambda e: e.t_),
    ],
)  # fmt: skip
def test_a_warm_start_continues_the_champion_and_leaves_it_as_it_was(rows, make, grown):
    x, up, _ = rows
    champion = ContractEstimator(make(), feature_names=NAMES).fit(x[:300], up[:300])
    before, p_before = grown(champion.estimator), champion.predict_proba(x)
    candidate = champion.continued(x[300:], up[300:], fresh=make())
    assert grown(candidate.estimator) > before
    assert np.array_equal(champion.predict_proba(x), p_before)  # the champion is untouched
    assert not np.array_equal(candidate.predict_proba(x), p_before)
