"""Signals from predictions (the combination's rules) and the outcomes built from them."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from online_learning.execution import position_from_p_up
from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.service import FeedbackService
from online_learning.feedback.trade_outcome import parse_trade_outcome
from online_learning.metrics_store import MetricsStore
from online_learning_client.signals import SignalCombiner, build_outcome


def test_confident_prediction_blends_rule_and_ml_60_40(make_prediction):
    prediction = make_prediction(0.70)
    signal = SignalCombiner().combine(prediction, rule_signal=-0.5)
    ml = position_from_p_up(0.70)
    assert signal.ml_position == pytest.approx(ml)
    assert signal.position == pytest.approx(0.6 * -0.5 + 0.4 * ml)
    assert signal.ml_contribution == pytest.approx(0.4)
    assert signal.uses_ml
    # The outcome credits the batch component with the largest weight.
    assert signal.model_id == "bull_specialist"


def test_below_the_threshold_the_rule_trades_alone_and_no_model_is_credited(make_prediction):
    signal = SignalCombiner(min_confidence=0.6).combine(make_prediction(0.58), rule_signal=0.3)
    assert signal.position == pytest.approx(0.3)
    assert signal.ml_contribution == 0.0
    assert signal.model_id is None  # the rule's PnL must not feed the model's drift watch
    # Just at the threshold the ML view counts (confidence >= min_confidence), on either side.
    for p_up in (0.6, 0.4):
        at = SignalCombiner(min_confidence=0.6).combine(make_prediction(p_up), rule_signal=0.3)
        assert at.uses_ml
        assert at.position == pytest.approx(0.6 * 0.3 + 0.4 * (2 * p_up - 1))


def test_without_a_rule_the_ml_position_is_the_platforms_rule_or_flat(make_prediction):
    combiner = SignalCombiner()  # default threshold 0.55
    confident = combiner.combine(make_prediction(0.20))
    assert confident.position == pytest.approx(position_from_p_up(0.20))
    assert confident.ml_contribution == 1.0
    flat = combiner.combine(make_prediction(0.52))
    assert flat.position == 0.0
    assert flat.model_id is None


def test_weights_are_normalised_and_the_position_capped(make_prediction):
    signal = SignalCombiner(rule_weight=3, ml_weight=1, max_position=0.25).combine(
        make_prediction(0.95), rule_signal=1.0
    )
    assert signal.ml_contribution == pytest.approx(0.25)
    assert signal.position == pytest.approx(0.25)  # 0.75 * 1 + 0.25 * 0.9 = 0.975, capped
    short = SignalCombiner(max_position=0.5).combine(make_prediction(0.01))
    assert short.position == pytest.approx(-0.5)


def test_a_stream_frame_is_a_prediction_too(make_prediction):
    prediction = make_prediction(0.8)
    frame = {"type": "prediction", "seq": 7, **prediction.model_dump(mode="json")}
    signal = SignalCombiner().combine(frame, features=prediction.features)
    assert signal.prediction.prediction_id == prediction.prediction_id
    assert signal.features == prediction.features


@pytest.mark.parametrize(
    "options",
    [
        {"rule_weight": -0.1},
        {"ml_weight": math.nan},
        {"rule_weight": 0, "ml_weight": 0},
        {"min_confidence": 0.4},
        {"min_confidence": 1.1},
        {"max_position": 0},
        {"max_position": math.inf},
    ],
)
def test_invalid_hyperparameters_are_refused(options):
    with pytest.raises(ValueError):
        SignalCombiner(**options)


def test_an_out_of_range_rule_signal_is_refused(make_prediction):
    for bad in (1.5, -2.0, math.nan):
        with pytest.raises(ValueError, match="rule_signal"):
            SignalCombiner().combine(make_prediction(0.7), rule_signal=bad)


def test_outcome_carries_provenance_and_passes_the_platforms_parser(make_prediction):
    prediction = make_prediction(0.75, online=0.2)
    signal = SignalCombiner().combine(prediction, rule_signal=0.5)
    settled = datetime(2026, 1, 6, 21, tzinfo=UTC)
    outcome = build_outcome(signal, realized_return=-0.004, timestamp=settled)
    parsed = parse_trade_outcome(
        outcome, feature_names=FEATURE_COLUMNS, known_model_ids={"bull_specialist"}, now=settled
    )
    assert parsed.trade_id == f"t-{prediction.prediction_id}"
    assert parsed.prediction_id == prediction.prediction_id
    assert parsed.model_id == "bull_specialist"
    assert dict(parsed.features) == prediction.features
    assert parsed.position == pytest.approx(signal.position)
    assert parsed.pnl == pytest.approx(signal.position * -0.004)
    assert parsed.prediction["ml_contribution"] == pytest.approx(0.4)
    assert parsed.prediction["p_up"] == 0.75
    assert parsed.prediction["versions"] == {
        "bull_specialist": "1", "sideways_specialist": "1", "online": "s-1"
    }  # fmt: skip
    assert parsed.timestamp == settled


def test_outcome_overrides_and_refusals(make_prediction):
    prediction = make_prediction(0.3)
    outcome = build_outcome(
        prediction, realized_return=0.01, position=-0.2, pnl=-0.0025, trade_id="desk-1",
        model_id=None, extra={"venue": "XNAS"},
    )  # fmt: skip
    assert (outcome["trade_id"], outcome["position"], outcome["pnl"]) == ("desk-1", -0.2, -0.0025)
    assert outcome["model_id"] is None and outcome["venue"] == "XNAS"
    # A bare prediction is traded at its own position, credited to its main specialist.
    plain = build_outcome(prediction, realized_return=0.01)
    assert plain["position"] == pytest.approx(-0.4) and plain["model_id"] == "bull_specialist"
    with pytest.raises(ValueError, match="realized_return"):
        build_outcome(prediction, realized_return=math.nan)
    with pytest.raises(ValueError, match="timezone"):
        build_outcome(prediction, realized_return=0.01, timestamp=datetime(2026, 1, 6))
    with pytest.raises(ValueError, match=r"invalid_field|trade_id"):
        build_outcome(prediction, realized_return=0.01, trade_id="x" * 500)
    no_features = SignalCombiner().combine(prediction, features={})
    with pytest.raises(ValueError, match="features"):
        build_outcome(no_features, realized_return=0.01)


def test_the_feedback_service_learns_a_built_outcome_once(make_prediction, tmp_path):
    """The outcome of a signal goes through the platform's in-process feedback path: accepted
    and learned by the symbol's session, and a second post of the same trade is a duplicate."""
    store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.migrate()
    try:
        service = FeedbackService(store=store, known_model_ids={"bull_specialist"})
        signal = SignalCombiner().combine(make_prediction(0.8), rule_signal=0.2)
        outcome = signal.outcome(0.006)
        first, again = service.submit([outcome]), service.submit([dict(outcome)])
        assert [r.status for r in first] == ["accepted"]
        assert [r.status for r in again] == ["duplicate"]
        [session] = service.list_sessions()
        assert (session.symbol, session.samples_seen) == ("SIM0", 1)
        assert session.realized_pnl == pytest.approx(signal.position * 0.006)
    finally:
        store.dispose()
