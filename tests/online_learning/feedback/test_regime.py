"""The regime classifier: causal, one row at a time, agreeing with the market's true regime."""

from __future__ import annotations

import numpy as np
import pytest

from online_learning.data import SyntheticMarket
from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS, build_features
from online_learning.feedback.regime import RegimeClassifier


@pytest.fixture(scope="module")
def features():
    return build_features(SyntheticMarket(seed=301, n_symbols=4).fetch())


def test_it_tells_the_true_regime_better_than_chance_and_weights_sum_to_one(features) -> None:
    classifier = RegimeClassifier()
    rows = features[list(FEATURE_COLUMNS)].to_dict("records")
    views = [classifier.classify(row) for row in rows]
    labels = np.array([v.regime for v in views])
    agreement = (labels == features["true_regime"].to_numpy()).mean()
    assert agreement > 0.4  # three regimes: chance is about a third
    for view in views[:200]:
        assert sum(view.weights.values()) == pytest.approx(1.0)
        assert max(view.weights, key=view.weights.get) == view.specialist
        assert view.specialist == f"{view.regime}_specialist"


def test_it_reads_only_the_row_it_is_given(features) -> None:
    classifier = RegimeClassifier()
    row = features[list(FEATURE_COLUMNS)].iloc[500].to_dict()
    alone = classifier.classify(row)
    for other in features[list(FEATURE_COLUMNS)].iloc[:50].to_dict("records"):
        classifier.classify(other)
    assert classifier.classify(row) == alone  # no hidden state between calls


def test_thresholds_set_the_regimes_and_bad_input_is_refused() -> None:
    classifier = RegimeClassifier(threshold=1.0, short_weight=0.0)
    assert classifier.classify({"trend_63": 1.5, "ret_21": -1.0, "vol_21": 0.01}).regime == "bull"
    assert classifier.classify({"trend_63": -1.5, "ret_21": 1.0, "vol_21": 0.01}).regime == "bear"
    assert classifier.classify({"trend_63": 0.9, "ret_21": 0.0, "vol_21": 0.01}).regime == (
        "sideways"
    )
    with pytest.raises(ConfigError, match="needs the feature 'vol_21'"):
        classifier.classify({"trend_63": 1.0, "ret_21": 0.0})
    with pytest.raises(ConfigError, match="must be finite"):
        classifier.classify({"trend_63": float("nan"), "ret_21": 0.0, "vol_21": 0.01})
    with pytest.raises(ConfigError, match="short_weight"):
        RegimeClassifier(short_weight=2.0)
    with pytest.raises(ConfigError, match="specialists must name"):
        RegimeClassifier(specialists={"bull": "b"})
    custom = RegimeClassifier(specialists={"bull": "up", "bear": "down", "sideways": "flat"})
    assert set(custom.classify({"trend_63": 2, "ret_21": 0.1, "vol_21": 0.01}).weights) == {
        "up", "down", "flat"
    }  # fmt: skip
