"""What the outcome schema accepts, every supported store holds (property-based, real stores).

Generated outcomes (arbitrary text with control characters, NUL and lone surrogates, numbers
of any size, big integers, odd timestamps, nested unknown fields) go through the in-process
feedback service into a real SQLite file and a real PostgreSQL database: each one is either
learned and recorded, a duplicate, or rejected with one of the schema's reasons and a detail
naming the field. None is refused by the store (``refused_by_store``), none raises.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.service import FeedbackService
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.trade_outcome import (
    INVALID_REASONS,
    MAX_MAGNITUDE,
    unstorable_reason,
)
from online_learning.metrics_store import MetricsStore
from tests.utils.postgres import temporary_database

# Every character, surrogates and control characters included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=220)
NASTY_TEXT = st.one_of(
    ANY_TEXT,
    st.builds(
        lambda a, c, b: a + c + b,
        ANY_TEXT,
        st.sampled_from(["\x00", "\ud800", "\x1f", "\x7f", "\x85", "\u2028", "€", "\U0001f600"]),
        ANY_TEXT,
    ),
    st.text(min_size=190, max_size=230),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e3, max_value=1e3),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([MAX_MAGNITUDE, -MAX_MAGNITUDE, MAX_MAGNITUDE * 1.01, 1e308, 5e-324]),
)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, NASTY_TEXT)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(NASTY_TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)
TIMESTAMPS = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2025-01-02T21:00:00Z",
            "2025-01-02T21:00:00",
        ]
    ),
    NASTY_TEXT,
)


@st.composite
def outcomes(draw) -> dict:
    """A valid outcome of which some fields are replaced by anything at all."""
    item = {
        "schema_version": 1,
        "trade_id": f"t-{uuid.uuid4().hex}",
        "symbol": "AAA",
        "timestamp": "2025-01-02T21:00:00Z",
        "features": {name: draw(st.floats(-3, 3)) for name in FEATURE_COLUMNS},
        "position": 0.5,
        "realized_return": 0.01,
    }
    replace = {
        "trade_id": NASTY_TEXT,
        "symbol": st.one_of(NASTY_TEXT, st.sampled_from(["BRK.B", "^GSPC", "EUR/USD"])),
        "timestamp": TIMESTAMPS,
        "model_id": st.one_of(NASTY_TEXT, st.just("bull_specialist")),
        "prediction_id": NASTY_TEXT,
        "prediction": st.dictionaries(NASTY_TEXT, JSON_LEAVES, max_size=3),
        "position": NUMBERS,
        "realized_return": NUMBERS,
        "pnl": NUMBERS,
        "venue": JSON_VALUES,  # an unknown field, kept and written back
    }
    for name in sorted(replace):
        if draw(st.integers(0, 7)) == 0:  # each field replaced in one outcome of eight
            item[name] = draw(replace[name])
    if draw(st.booleans()):
        name = draw(st.sampled_from(FEATURE_COLUMNS))
        item["features"][name] = draw(NUMBERS)
    return item


def _as_sent(item: dict, as_bytes: bool):
    # Kafka carries bytes (Python's json writes NaN, Infinity and \ud800 escapes); REST hands
    # over parsed objects.
    return json.dumps(item).encode() if as_bytes else item


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory) -> Iterator[FeedbackService]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('storage') / 'metrics.db'}"
        store = MetricsStore(url)
        store.migrate()
        yield FeedbackService(store=store)
        store.dispose()
        return
    with temporary_database("ol_outcome_storage") as url:
        store = MetricsStore(url.render_as_string(hide_password=False))
        store.migrate()
        yield FeedbackService(store=store)
        store.dispose()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(item=outcomes(), as_bytes=st.booleans())
def test_every_outcome_the_schema_accepts_is_stored_and_every_other_is_rejected(
    service, item, as_bytes
):
    [result] = service.submit([_as_sent(item, as_bytes)])
    event(result.status if result.status != "rejected" else f"rejected: {result.reason}")
    assert result.status in ("accepted", "duplicate", "rejected"), result
    if result.status == "rejected":
        assert result.reason in INVALID_REASONS, result  # never refused by the store
        assert result.detail
        return
    trade_id = item["trade_id"]
    assert result.trade_id == trade_id
    assert SessionStore(service.store).processed_trade_ids([trade_id]) == {trade_id}
    checkpoint = SessionStore(service.store).latest(item["symbol"])
    assert checkpoint is not None and checkpoint.samples_seen >= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trade_id", "t-nul\x00x"),
        ("trade_id", "t-\ud800"),
        ("trade_id", "t-tab\tx"),
        ("trade_id", "t-" + "x" * 199),
        ("prediction_id", "p-nul\x00x"),
        ("symbol", "A\x00"),
        ("model_id", "m\x00"),
        ("realized_return", 10**400),
        ("realized_return", 2e15),
        ("position", 1e300),
        ("features", {**dict.fromkeys(FEATURE_COLUMNS, 0.0), "ret_1": -1e16}),
        ("timestamp", "0001-01-01T00:00:00+01:00"),
        ("prediction", {"p_up": "\ud800"}),
    ],
)
def test_the_poison_fields_of_the_campaign_are_rejected_naming_the_field(service, field, value):
    item = {
        "trade_id": f"t-{uuid.uuid4().hex}", "symbol": "AAA",
        "timestamp": "2025-01-02T21:00:00Z",
        "features": dict.fromkeys(FEATURE_COLUMNS, 0.1), "realized_return": 0.01,
    }  # fmt: skip
    item[field] = value
    for sent in (item, json.dumps(item).encode()):
        [result] = service.submit([sent])
        assert (result.status, result.reason) == ("rejected", "invalid_field"), result
        named = "ret_1" if field == "features" else field
        assert named in result.detail, result.detail
        # The verdict itself can be answered and logged: its id is printable or absent.
        assert result.trade_id is None or unstorable_reason(result.trade_id) is None


def test_an_unknown_field_that_cannot_be_written_back_is_rejected(service):
    item = {
        "trade_id": f"t-{uuid.uuid4().hex}", "symbol": "AAA",
        "timestamp": "2025-01-02T21:00:00Z",
        "features": dict.fromkeys(FEATURE_COLUMNS, 0.1), "realized_return": 0.01,
        "venue": {"x": 2**70},  # a REST body may carry it; JSON to Kafka cannot
    }  # fmt: skip
    [result] = service.submit([item])
    assert (result.status, result.reason) == ("rejected", "invalid_field")
    assert "venue" in result.detail
