"""A realised trade outcome (schema version 1): what a trade earned, and on which features.

One JSON object is the Kafka message value on ``trade-outcomes`` and the REST body alike::

    {"schema_version": 1, "trade_id": "t-000123", "symbol": "AAA",
     "timestamp": "2026-01-05T21:00:00Z", "model_id": "bull_specialist",
     "prediction_id": "optional", "features": {"ret_1": 0.0123, ...},
     "prediction": {"p_up": 0.61}, "position": 0.22, "realized_return": -0.004,
     "pnl": -0.00088}

``trade_id``, ``symbol``, ``timestamp``, ``features`` and ``realized_return`` are required;
``pnl`` defaults to ``position * realized_return`` (0 without a position). Fields this version
does not know are kept in :attr:`TradeOutcome.extra` and written back by
:meth:`TradeOutcome.to_dict`.

What a store can hold is checked here, so that a message every store would refuse is a bad
message (rejected, dead-lettered) and never a bad day for the worker: every text is printable
Unicode that UTF-8 can encode (no control character, NUL included, which PostgreSQL refuses;
no lone surrogate, which no UTF-8 encoder writes) and no longer than its column
(``trade_id`` and ``prediction_id`` 200 characters, ``symbol`` 64, ``model_id`` 100); every
number is finite and at most :data:`MAX_MAGNITUDE` in size, so that the sums and squares of
the session metrics and detectors stay finite (a JSON document cannot hold NaN or infinity);
``prediction`` and unknown fields must be writable back as JSON.

(*Update* outcomes, what an incremental update decided, are
:mod:`online_learning.update.outcomes`; nothing here is called just "Outcome".)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from online_learning.errors import InvalidTradeOutcome
from online_learning.metrics_store.ledger_records import prediction_problem

__all__ = [
    "CONTROL_CHARACTERS",
    "INVALID_REASONS",
    "MAX_ID_LENGTH",
    "MAX_MAGNITUDE",
    "MODEL_ID_PATTERN",
    "REFUSED_BY_STORE",
    "SCHEMA_VERSION",
    "SYMBOL_PATTERN",
    "TradeOutcome",
    "parse_trade_outcome",
    "unstorable_reason",
]

SCHEMA_VERSION = 1
INVALID_REASONS: tuple[str, ...] = (
    "malformed_json",
    "not_an_object",
    "unsupported_schema_version",
    "missing_field",
    "invalid_field",
    "non_finite",
    "wrong_features",
    "future_timestamp",
    "unknown_model",
)
#: The reason of an outcome the schema accepted but the metrics store refused (a value it
#: cannot hold that the schema does not know of, e.g. a character outside a PostgreSQL
#: database's own encoding): dead-lettered like an invalid one, so that it cannot stop a
#: partition. Not one of :data:`INVALID_REASONS`: no outcome is refused for it here.
REFUSED_BY_STORE = "refused_by_store"
REQUIRED_FIELDS: tuple[str, ...] = (
    "trade_id",
    "symbol",
    "timestamp",
    "features",
    "realized_return",
)
_OPTIONAL_FIELDS = ("schema_version", "model_id", "prediction_id", "prediction", "position", "pnl")
_KNOWN_FIELDS = frozenset((*REQUIRED_FIELDS, *_OPTIONAL_FIELDS))
#: Timestamps up to this far ahead of the receiver's clock are clock skew, not the future.
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
#: Longest ``trade_id`` and ``prediction_id`` (their columns'; a symbol and a model id are
#: bounded by their patterns).
MAX_ID_LENGTH = 200
_MAX_ID = MAX_ID_LENGTH
#: Largest absolute value of any number of an outcome: no price, return, position, P&L or
#: feature comes near it, and sums and squares of values below it stay finite.
MAX_MAGNITUDE = 1e15
# Characters no store should be given: control characters (C0, DEL, C1; PostgreSQL refuses
# NUL in any text) and lone surrogates (not encodable as UTF-8).
#: Control characters (a JSON Schema pattern of printable text is ``^[^<these>]*$``; lone
#: surrogates are refused too, but no JSON document can carry one).
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f"
_UNSTORABLE = re.compile(rf"[{CONTROL_CHARACTERS}\ud800-\udfff]")
#: A symbol: tickers such as BRK.B, ^GSPC, ES=F, BTC-USD or EUR/USD; no whitespace (Kafka
#: keys, URLs). The API's path and body parameters use the same pattern.
SYMBOL_PATTERN = r"[A-Za-z0-9^][A-Za-z0-9._^=/:-]{0,63}"
#: A model id.
MODEL_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"
_SYMBOL = re.compile(SYMBOL_PATTERN)
_MODEL_ID = re.compile(MODEL_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    """One realised trade, validated (build it with :func:`parse_trade_outcome`).

    ``timestamp`` is timezone-aware UTC; ``features`` are finite floats; ``pnl`` is set
    (the default applied). ``extra`` holds the fields schema version 1 does not define.
    """

    trade_id: str
    symbol: str
    timestamp: datetime
    features: Mapping[str, float]
    realized_return: float
    position: float | None = None
    pnl: float = 0.0
    model_id: str | None = None
    prediction_id: str | None = None
    prediction: Mapping[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> bool:
        """What a session learns: did the price go up (``realized_return > 0``)?"""
        return self.realized_return > 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this outcome, unknown fields included.

        Examples
        --------
        >>> o = parse_trade_outcome({"trade_id": "t-1", "symbol": "AAA",
        ...     "timestamp": "2026-01-05T21:00:00Z", "features": {"ret_1": 0.01},
        ...     "realized_return": -0.004, "position": 0.5, "venue": "XNAS"}, feature_names=None,
        ...     known_model_ids=None)
        >>> d = o.to_dict()
        >>> d["timestamp"], d["pnl"], d["venue"]
        ('2026-01-05T21:00:00Z', -0.002, 'XNAS')
        """
        data: dict[str, Any] = dict(self.extra)
        data.update(
            schema_version=self.schema_version,
            trade_id=self.trade_id,
            symbol=self.symbol,
            timestamp=self.timestamp.isoformat().replace("+00:00", "Z"),
            model_id=self.model_id,
            prediction_id=self.prediction_id,
            features=dict(self.features),
            prediction=None if self.prediction is None else dict(self.prediction),
            position=self.position,
            realized_return=self.realized_return,
            pnl=self.pnl,
        )
        return data

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact UTF-8 JSON (the Kafka message value)."""
        return orjson.dumps(self.to_dict())


# parse_trade_outcome builds the (frozen) outcome through the slots' descriptors: the frozen
# __init__ sets each field through object.__setattr__, 1.7 us an outcome against 0.7 us here,
# a tenth of the feedback worker's work per outcome besides River itself.
_FIELDS = (
    "trade_id", "symbol", "timestamp", "features", "realized_return", "position", "pnl",
    "model_id", "prediction_id", "prediction", "schema_version", "extra",
)  # fmt: skip
_SETTERS = tuple(TradeOutcome.__dict__[name].__set__ for name in _FIELDS)
assert set(_FIELDS) == {f.name for f in fields(TradeOutcome)}


def _validated(*values: Any) -> TradeOutcome:
    outcome = object.__new__(TradeOutcome)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(outcome, value)
    return outcome


def _loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses the NaN and Infinity literals Python's json module writes; parse them so
    # that such a value is rejected as non-finite, which says what is wrong.
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidTradeOutcome("malformed_json", f"not valid JSON: {exc}") from None


def _number(name: str, value: Any) -> float:
    # The common case first: a finite float in range. This path runs about a dozen times per
    # outcome on the worker's hot path.
    if type(value) is float and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTradeOutcome(
            "invalid_field", f"{name} must be a number, got {type(value).__name__}"
        )
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    if math.isnan(number) or (type(value) is float and not math.isfinite(number)):
        raise InvalidTradeOutcome("non_finite", f"{name} must be finite, got {value!r}")
    return _in_range(name, number)


def _in_range(name: str, number: float) -> float:
    if not -MAX_MAGNITUDE <= number <= MAX_MAGNITUDE:
        raise InvalidTradeOutcome(
            "invalid_field", f"{name} must be at most {MAX_MAGNITUDE:g} in size, got {number:g}"
        )
    return number


# Symbols and model ids repeat across outcomes: remember the ones already checked.
_VALID_NAMES: set[str] = set()
_MAX_REMEMBERED = 100_000


def _name(name: str, value: Any, pattern: re.Pattern[str]) -> str:
    if type(value) is str and value in _VALID_NAMES:
        return value
    checked = _text(name, value, pattern)
    if len(_VALID_NAMES) < _MAX_REMEMBERED:
        _VALID_NAMES.add(checked)
    return checked


def _text(name: str, value: Any, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise InvalidTradeOutcome(
            "invalid_field", f"{name} must be a non-empty string of at most {_MAX_ID} characters"
        )
    if pattern is not None:
        if not pattern.fullmatch(value):
            raise InvalidTradeOutcome("invalid_field", f"{name} {value!r} has invalid characters")
        return value
    unstorable = unstorable_reason(value)
    if unstorable is not None:
        raise InvalidTradeOutcome("invalid_field", f"{name} {unstorable}")
    return value


def unstorable_reason(text: str) -> str | None:
    """Why no store can hold ``text`` (a control character or a lone surrogate), else None.

    Examples
    --------
    >>> unstorable_reason("t-nul\\x00x")
    'holds the control character U+0000 at position 5: only printable text can be stored'
    >>> unstorable_reason("t-000123") is None
    True
    """
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "the control character"
    return f"holds {kind} U+{code:04X} at position {bad.start()}: only printable text can be stored"


def _json_writable(name: str, value: Any) -> None:
    # Written back by to_json (to Kafka, to the DLQ): orjson refuses what JSON cannot carry
    # (lone surrogates, integers beyond 64 bits, keys that are not strings).
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidTradeOutcome(
            "invalid_field", f"{name} cannot be written back as JSON: {exc}"
        ) from None


def _timestamp(value: Any, now: datetime, skew: timedelta) -> datetime:
    if type(value) is not str:
        raise InvalidTradeOutcome("invalid_field", "timestamp must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTradeOutcome(
            "invalid_field", f"timestamp {value[:60]!r} is not ISO 8601"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidTradeOutcome(
            "invalid_field", f"timestamp {value!r} has no time zone (use e.g. a final 'Z')"
        )
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidTradeOutcome(
            "invalid_field", f"timestamp {value!r} is outside the years 1-9999 in UTC"
        ) from None
    if parsed > now + skew:
        raise InvalidTradeOutcome(
            "future_timestamp", f"timestamp {value} is after the receiver's clock ({now:%FT%TZ})"
        )
    return parsed


def _features(value: Any, names: frozenset[str] | None, *, owned: bool) -> dict[str, float]:
    if (type(value) is not dict and not isinstance(value, Mapping)) or not value:
        raise InvalidTradeOutcome("invalid_field", "features must be a non-empty JSON object")
    if names is not None and value.keys() != names:
        missing = sorted(names - value.keys())
        unexpected = sorted(str(k) for k in value.keys() - names)
        raise InvalidTradeOutcome(
            "wrong_features", f"features missing {missing}, unexpected {unexpected[:20]}"
        )
    if owned and type(value) is dict:
        # Parsed here from JSON, so nobody else holds it: when every value is a float in range
        # (NaN fails every comparison) it is the features dict as it is.
        for raw in value.values():
            if type(raw) is not float or not -MAX_MAGNITUDE <= raw <= MAX_MAGNITUDE:
                break
        else:
            return value
    features = {}
    for key, raw in value.items():
        if not isinstance(key, str):
            raise InvalidTradeOutcome("invalid_field", "feature names must be strings")
        features[key] = _number(f"feature {key!r}", raw)
    return features


def parse_trade_outcome(
    data: bytes | str | Mapping[str, Any],
    *,
    feature_names: Sequence[str] | frozenset[str] | None,
    known_model_ids: Container[str] | None,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> TradeOutcome:
    """Validate one trade outcome (JSON bytes or text, or a parsed object).

    Parameters
    ----------
    data : bytes, str or Mapping
        The Kafka message value or the REST body.
    feature_names : sequence of str or None
        The exact feature names expected (in any order); None accepts any non-empty set.
    known_model_ids : container of str or None
        Model ids that exist; an outcome naming another is ``unknown_model``. None accepts
        any well-formed id.
    now : datetime, optional
        The receiver's clock (aware), default the current UTC time.
    clock_skew : timedelta
        How far ahead of ``now`` a timestamp may be before it is ``future_timestamp``.

    Raises
    ------
    InvalidTradeOutcome
        With ``reason`` one of :data:`INVALID_REASONS` and a ``detail``.

    Examples
    --------
    >>> outcome = parse_trade_outcome(
    ...     b'{"trade_id": "t-1", "symbol": "AAA", "timestamp": "2026-01-05T21:00:00Z",'
    ...     b' "features": {"ret_1": 0.01, "vol_21": 0.02}, "position": 0.5,'
    ...     b' "realized_return": 0.004}', feature_names=["ret_1", "vol_21"],
    ...     known_model_ids=None)
    >>> outcome.pnl, outcome.direction, outcome.timestamp.tzname()
    (0.002, True, 'UTC')
    >>> try:
    ...     parse_trade_outcome(b'{"trade_id": "t-2"}', feature_names=None, known_model_ids=None)
    ... except InvalidTradeOutcome as exc:
    ...     print(exc.reason, "-", exc.detail)
    missing_field - symbol is required
    """
    # type() before isinstance(): an ABC check costs more than the rest of a field's checks.
    # Only text is parsed; anything else that is not a mapping (None, a number, a list from a
    # JSON array of outcomes) is refused below as not an object.
    raw = _loads(data) if type(data) in (bytes, bytearray, str) else data
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise InvalidTradeOutcome(
            "not_an_object", f"a trade outcome is a JSON object, got {type(raw).__name__}"
        )
    version = raw.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidTradeOutcome(
            "unsupported_schema_version",
            f"schema_version {version!r} is not supported (this receiver reads {SCHEMA_VERSION})",
        )
    for name in REQUIRED_FIELDS:
        if raw.get(name) is None:
            raise InvalidTradeOutcome("missing_field", f"{name} is required")
    trade_id = _text("trade_id", raw["trade_id"])
    symbol = _name("symbol", raw["symbol"], _SYMBOL)
    timestamp = _timestamp(raw["timestamp"], now or datetime.now(UTC), clock_skew)
    names = None if feature_names is None else frozenset(feature_names)
    features = _features(raw["features"], names, owned=raw is not data)
    realized = _number("realized_return", raw["realized_return"])
    position = raw.get("position")
    position = None if position is None else _number("position", position)
    pnl = raw.get("pnl")
    if pnl is not None:
        pnl = _number("pnl", pnl)
    elif position is not None:
        pnl = _in_range("pnl (position * realized_return)", position * realized)
    else:
        pnl = 0.0
    model_id = raw.get("model_id")
    if model_id is not None:
        model_id = _name("model_id", model_id, _MODEL_ID)
        if known_model_ids is not None and model_id not in known_model_ids:
            raise InvalidTradeOutcome("unknown_model", f"no model {model_id!r} exists")
    prediction_id = raw.get("prediction_id")
    if prediction_id is not None:
        prediction_id = _text("prediction_id", prediction_id)
    prediction = raw.get("prediction")
    if prediction is not None:
        if not isinstance(prediction, Mapping):
            raise InvalidTradeOutcome("invalid_field", "prediction must be a JSON object")
        for key, value in prediction.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidTradeOutcome("non_finite", f"prediction {key!r} must be finite")
        prediction = dict(prediction)
        _json_writable("prediction", prediction)
        problem = prediction_problem(prediction, max_magnitude=MAX_MAGNITUDE)
        if problem is not None:
            raise InvalidTradeOutcome("invalid_field", problem)
    unknown = raw.keys() - _KNOWN_FIELDS
    extra = {k: raw[k] for k in raw if k in unknown} if unknown else {}
    if extra:
        _json_writable(f"unknown field(s) {sorted(map(repr, extra))[:5]}", extra)
    return _validated(trade_id, symbol, timestamp, features, realized, position, pnl, model_id,
                      prediction_id, prediction, SCHEMA_VERSION, extra)  # fmt: skip
