"""Trade outcomes, schema version 1: every kind of bad input is refused with its reason."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from online_learning.errors import InvalidTradeOutcome
from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.trade_outcome import (
    INVALID_REASONS,
    TradeOutcome,
    parse_trade_outcome,
)

NOW = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
FEATURES = {name: 0.01 * i for i, name in enumerate(FEATURE_COLUMNS)}


def _valid(**changes) -> dict:
    item = {
        "schema_version": 1,
        "trade_id": "t-000123",
        "symbol": "AAA",
        "timestamp": "2026-01-05T21:00:00Z",
        "model_id": "bull_specialist",
        "prediction_id": "p-1",
        "features": dict(FEATURES),
        "prediction": {"p_up": 0.61, "ml_contribution": 0.4},
        "position": 0.22,
        "realized_return": -0.004,
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


def _parse(data, **kwargs) -> TradeOutcome:
    options = {
        "feature_names": FEATURE_COLUMNS,
        "known_model_ids": {"bull_specialist", "bear_specialist"},
        "now": NOW,
    }
    options.update(kwargs)
    return parse_trade_outcome(data, **options)


def test_a_valid_outcome_from_bytes_text_or_object_parses_the_same() -> None:
    item = _valid()
    parsed = [_parse(json.dumps(item).encode()), _parse(json.dumps(item)), _parse(item)]
    assert parsed[0] == parsed[1] == parsed[2]
    outcome = parsed[0]
    assert outcome.timestamp == datetime(2026, 1, 5, 21, 0, tzinfo=UTC)
    assert outcome.pnl == pytest.approx(0.22 * -0.004)  # the default
    assert outcome.direction is False
    assert outcome.model_id == "bull_specialist" and outcome.prediction["p_up"] == 0.61


def test_pnl_given_wins_and_no_position_means_no_pnl() -> None:
    assert _parse(_valid(pnl=-0.001)).pnl == -0.001
    assert _parse(_valid(position=...)).pnl == 0.0


def test_unknown_fields_are_kept_and_written_back() -> None:
    outcome = _parse(_valid(venue="XNAS", fees={"bps": 0.3}))
    assert outcome.extra == {"venue": "XNAS", "fees": {"bps": 0.3}}
    data = json.loads(outcome.to_json())
    assert data["venue"] == "XNAS" and data["fees"] == {"bps": 0.3}
    assert _parse(data) == outcome  # round trip


def test_an_offset_timestamp_is_converted_to_utc() -> None:
    outcome = _parse(_valid(timestamp="2026-01-05T16:00:00-05:00"))
    assert outcome.timestamp == datetime(2026, 1, 5, 21, 0, tzinfo=UTC)


BAD = [
    (b'{"trade_id": "t-1", ', "malformed_json"),
    (b"\xff\xfe not utf-8", "malformed_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    # Items of a REST body that are already parsed but are not objects.
    (None, "not_an_object"),
    (1.5, "not_an_object"),
    ([{"trade_id": "t-1"}], "not_an_object"),
    (_valid(schema_version=2), "unsupported_schema_version"),
    (_valid(schema_version=True), "unsupported_schema_version"),
    (_valid(trade_id=...), "missing_field"),
    (_valid(symbol=None), "missing_field"),
    (_valid(timestamp=...), "missing_field"),
    (_valid(features=...), "missing_field"),
    (_valid(realized_return=...), "missing_field"),
    (_valid(trade_id=123), "invalid_field"),
    (_valid(trade_id=""), "invalid_field"),
    (_valid(symbol="AA A"), "invalid_field"),
    (_valid(timestamp="yesterday"), "invalid_field"),
    (_valid(timestamp="2026-01-05T21:00:00"), "invalid_field"),  # no time zone
    (_valid(realized_return="0.01"), "invalid_field"),
    (_valid(realized_return=True), "invalid_field"),
    (_valid(position=[1]), "invalid_field"),
    (_valid(features=[1, 2]), "invalid_field"),
    (_valid(features={**FEATURES, "ret_1": "high"}), "invalid_field"),
    (_valid(prediction="0.6"), "invalid_field"),
    (_valid(model_id="bad id!"), "invalid_field"),
    (_valid(realized_return=math.nan), "non_finite"),
    (_valid(pnl=math.inf), "non_finite"),
    (_valid(features={**FEATURES, "vol_21": -math.inf}), "non_finite"),
    (_valid(prediction={"p_up": math.nan}), "non_finite"),
    (_valid(features={k: v for k, v in FEATURES.items() if k != "trend_63"}), "wrong_features"),
    (_valid(features={**FEATURES, "extra_feature": 1.0}), "wrong_features"),
    (_valid(timestamp=(NOW + timedelta(hours=1)).isoformat()), "future_timestamp"),
    (_valid(model_id="ghost_specialist"), "unknown_model"),
]


@pytest.mark.parametrize(("data", "reason"), BAD, ids=[f"{r}-{i}" for i, (_, r) in enumerate(BAD)])
def test_each_kind_of_bad_outcome_is_refused_with_its_reason(data, reason) -> None:
    assert reason in INVALID_REASONS
    with pytest.raises(InvalidTradeOutcome) as refused:
        _parse(data if isinstance(data, bytes) else json.dumps(data).encode())
    assert refused.value.reason == reason, refused.value.detail
    assert refused.value.detail


def test_every_reason_is_exercised() -> None:
    assert {reason for _, reason in BAD} == set(INVALID_REASONS)


def test_nan_written_by_pythons_json_module_is_non_finite_not_malformed() -> None:
    text = json.dumps(_valid(realized_return=float("nan")))  # the literal NaN
    assert "NaN" in text
    with pytest.raises(InvalidTradeOutcome) as refused:
        _parse(text)
    assert refused.value.reason == "non_finite"


def test_small_clock_skew_is_tolerated_and_checks_can_be_relaxed() -> None:
    ahead = (NOW + timedelta(minutes=2)).isoformat()
    assert _parse(_valid(timestamp=ahead)).timestamp > NOW
    any_features = _parse(_valid(features={"x": 1.0}, model_id="anything"), feature_names=None,
                          known_model_ids=None)  # fmt: skip
    assert any_features.features == {"x": 1.0}
