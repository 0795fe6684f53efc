"""Online sessions on real River models: they learn, score themselves, and restore exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from online_learning.errors import ConfigError
from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.session_config import MODEL_TYPES, SessionConfig
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.sessions import InvalidFeatures, OnlineSession
from online_learning.feedback.trade_outcome import parse_trade_outcome
from online_learning.metrics_store import MetricsStore
from tests.utils.trade_outcomes import outcome_stream

PARAMS = {
    "logistic_regression": {"learning_rate": 0.05},
    "hoeffding_tree": {"grace_period": 50},
    "adaptive_random_forest": {"n_models": 3, "seed": 7},
}


def _outcomes(n: int, **kwargs):
    return [
        parse_trade_outcome(item, feature_names=FEATURE_COLUMNS, known_model_ids=None)
        for item in outcome_stream(n, **kwargs)
    ]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_each_model_type_learns_the_direction_and_its_metrics_move(model_type) -> None:
    session = OnlineSession("AAA", SessionConfig(model_type, PARAMS[model_type]))
    assert session.predict_proba_one(_outcomes(1)[0].features) == 0.5  # nothing learned
    before = session.metrics()
    assert (before.samples_seen, before.rolling_accuracy, before.rolling_sharpe) == (0, None, None)

    outcomes = _outcomes(1200, seed=1)
    for outcome in outcomes:
        session.learn(outcome)

    after = session.metrics()
    assert after.samples_seen == 1200
    assert after.realized_pnl == pytest.approx(sum(o.pnl for o in outcomes))
    # The direction follows z_ret_1 80 % of the time: a learner beats a coin by far.
    assert after.rolling_accuracy > 0.7
    assert after.rolling_log_loss < 0.69
    assert after.updated_at >= after.created_at
    up = {name: 0.0 for name in FEATURE_COLUMNS} | {"z_ret_1": 2.0}
    down = up | {"z_ret_1": -2.0}
    assert session.predict_proba_one(up) > 0.6 > 0.4 > session.predict_proba_one(down)


def test_rolling_sharpe_and_accuracy_follow_a_hand_computation() -> None:
    config = SessionConfig(feature_names=("x",), metrics_window=10)
    session = OnlineSession("AAA", config)
    pnl = np.random.default_rng(3).normal(0.001, 0.01, 25)
    for i, value in enumerate(pnl):
        item = {"trade_id": f"t{i}", "symbol": "AAA", "timestamp": "2025-01-02T21:00:00Z",
                "features": {"x": 1.0}, "realized_return": 0.01, "pnl": float(value)}  # fmt: skip
        session.learn(parse_trade_outcome(item, feature_names=("x",), known_model_ids=None))
    last = pnl[-10:]
    expected = last.mean() / last.std(ddof=1) * np.sqrt(252)
    metrics = session.metrics()
    assert metrics.rolling_sharpe == pytest.approx(expected, rel=1e-9)
    assert metrics.realized_pnl == pytest.approx(pnl.sum(), rel=1e-12)


def test_configs_are_validated_per_model_type() -> None:
    with pytest.raises(ConfigError, match="unknown parameters for hoeffding_tree: n_models"):
        SessionConfig("hoeffding_tree", {"n_models": 3})
    with pytest.raises(ConfigError, match="model_type must be one of"):
        SessionConfig("lstm")
    with pytest.raises(ConfigError, match="n_models must be an integer from 1 to 100"):
        SessionConfig.from_dict({"model_type": "adaptive_random_forest", "params": {"n_models": 0}})
    with pytest.raises(ConfigError, match="unknown session config fields: colour"):
        SessionConfig.from_dict({"colour": "red"})
    with pytest.raises(ConfigError, match="feature_names must not repeat"):
        SessionConfig(feature_names=("a", "a"))
    config = SessionConfig.from_dict({"model_type": "hoeffding_tree", "feature_names": ["a"]})
    assert SessionConfig.from_dict(config.to_dict()) == config


def test_features_other_than_the_sessions_are_refused() -> None:
    session = OnlineSession("AAA", SessionConfig(feature_names=("a", "b")))
    with pytest.raises(InvalidFeatures) as refused:
        session.predict_proba_one({"a": 1.0})
    assert refused.value.reason == "wrong_features"
    with pytest.raises(InvalidFeatures) as refused:
        session.predict_proba_one({"a": 1.0, "b": float("nan")})
    assert refused.value.reason == "non_finite"


_RESTORE = """
import json, sys
from online_learning.feedback.sessions import OnlineSession
from online_learning.metrics_store import MetricsStore
from online_learning.feedback.session_store import SessionStore
store = MetricsStore(sys.argv[1])
checkpoint = SessionStore(store).latest(sys.argv[2])
session = OnlineSession.from_checkpoint(checkpoint)
rows = json.loads(sys.stdin.read())
print(json.dumps({"p_up": [session.predict_proba_one(r) for r in rows],
                  "metrics": session.metrics().to_dict(),
                  "positions": checkpoint.input_positions}))
"""


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_checkpoint_then_restore_in_a_new_process_gives_identical_predictions(
    model_type, tmp_path
) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = MetricsStore(url)
    store.migrate()
    sessions = SessionStore(store)
    session = OnlineSession("AAA", SessionConfig(model_type, PARAMS[model_type]))
    sessions.create_session(session.session_id, "AAA", session.config, session.created_at)
    for outcome in _outcomes(400, seed=2):
        session.learn(outcome)
    sessions.save(session.checkpoint({"trade-outcomes/3": 400}))
    rows = [o.features for o in _outcomes(50, seed=99)]
    expected = [session.predict_proba_one(r) for r in rows]

    result = subprocess.run(
        [sys.executable, "-c", _RESTORE, url, "AAA"],
        input=json.dumps(rows), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    restored = json.loads(result.stdout)
    assert restored["p_up"] == expected  # bit for bit
    assert len(set(expected)) > 1  # and the model is not constant
    assert restored["positions"] == {"trade-outcomes/3": 400}
    metrics = session.metrics().to_dict()
    for name in ("samples_seen", "rolling_accuracy", "rolling_log_loss", "realized_pnl"):
        assert restored["metrics"][name] == metrics[name]
    # Learning goes on identically after a restore.
    twin = OnlineSession.from_checkpoint(sessions.latest("AAA"))
    for outcome in _outcomes(100, seed=5):
        session.learn(outcome)
        twin.learn(outcome)
    assert [twin.predict_proba_one(r) for r in rows] == [session.predict_proba_one(r) for r in rows]
    store.dispose()


def test_a_copy_does_not_follow_the_writer() -> None:
    session = OnlineSession("AAA")
    outcomes = _outcomes(200, seed=4)
    for outcome in outcomes[:100]:
        session.learn(outcome)
    copy = session.copy()
    row = outcomes[0].features
    frozen = copy.predict_proba_one(row)
    for outcome in outcomes[100:]:
        session.learn(outcome)
    assert copy.predict_proba_one(row) == frozen != session.predict_proba_one(row)
    assert copy.samples_seen == 100 and session.samples_seen == 200
    assert copy.created_at == session.created_at <= datetime.now(UTC)
