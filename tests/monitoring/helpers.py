"""Paths of the Prometheus config and readers of the metrics exposition."""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "monitoring" / "prometheus" / "alerts_test.yml"
ENSURE_PROMTOOL = ROOT / "scripts" / "ensure-promtool.sh"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_exposition(text: bytes | str) -> Samples:
    """``{(sample name, labels): value}`` of a text exposition."""
    if isinstance(text, bytes):
        text = text.decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(text: bytes | str, name: str, **labels: str) -> float:
    """One sample's value; ``KeyError`` when the exposition lacks it."""
    return parse_exposition(text)[(name, frozenset(labels.items()))]


def metric_types(text: bytes | str) -> dict[str, str]:
    """``{family name: type}``; counters are named without ``_total``."""
    if isinstance(text, bytes):
        text = text.decode()
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def comparable(text: bytes | str) -> dict[tuple[str, frozenset[tuple[str, str]]], float | str]:
    """:func:`parse_exposition` with NaN as ``"NaN"``, so that two expositions compare equal."""
    return {
        key: "NaN" if math.isnan(value) else value for key, value in parse_exposition(text).items()
    }
