"""The success metrics' recording rules: promtool accepts them, their unit tests pass and
bite, they read only series serving/success.py exports, and end to end, the gauges two
replicas export from real summaries give the ages and the lag of a known scenario."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from online_learning.metrics_store.ledger_records import Component, LedgerTrade
from online_learning.success.freshness import ServedChampion
from online_learning.success.summary import summarise
from serving.success import summary_families
from tests.monitoring.helpers import ROOT, parse_exposition

RULES = ROOT / "monitoring" / "prometheus" / "success.yml"
RULE_TESTS = ROOT / "monitoring" / "prometheus" / "success_test.yml"
METRIC = re.compile(r"\bonline_learning_[a-z_]+\b")
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def run(promtool: str, *args) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def rules() -> list[dict]:
    return [r for group in yaml.safe_load(RULES.read_text())["groups"] for r in group["rules"]]


class _Families:
    def __init__(self, families) -> None:
        self.families = families

    def collect(self):
        return self.families


def exposition(summary) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(summary_families(summary)))
    return generate_latest(registry)


def full_summary(*, loaded: datetime = T0, promoted: datetime = T0):
    """A summary with every figure present (one drift, adapted and served, one trade)."""
    from types import SimpleNamespace

    trades = [
        LedgerTrade(f"t-{i}", "SIM0", "bull", T0 + timedelta(minutes=i), 0.01, 0.005,
                    p_up=0.6, rule_position=0.2, known_regime="bull" if i < 30 else "sideways",
                    components={"bull": Component("batch", 0.6, 1.0),
                                "online_session": Component("online", 0.4, 0.0)})
        for i in range(60)
    ]  # fmt: skip
    drift = SimpleNamespace(drift_id="d", model_id="bull", symbol="SIM0",
                            detected_at=trades[40].traded_at, statistics={"trade_id": "t-40"},
                            adaptation_requested=True)  # fmt: skip
    update = SimpleNamespace(model_id="bull", decision="promoted", version="5",
                             started_at=drift.detected_at, finished_at=promoted)  # fmt: skip
    champion = ServedChampion("bull", "5", date(2026, 1, 2), promoted, loaded)
    return summarise(trades, drifts=[drift], updates=[update], champions=[champion],
                     sessions=[("SIM0", "s-1", 60, T0)], now=T0 + timedelta(hours=2))  # fmt: skip


def exported() -> dict[str, set[str]]:
    return {
        name: {label for label, _ in labels}
        for name, labels in parse_exposition(exposition(full_summary()))
    }


def test_promtool_accepts_the_rules_and_their_tests_pass(promtool: str) -> None:
    checked = run(promtool, "check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    tested = run(promtool, "test", "rules", RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "FAILED" not in tested.stdout


def test_every_recorded_series_is_tested() -> None:
    tested = RULE_TESTS.read_text()
    for rule in rules():
        assert rule["record"] in tested, rule["record"]


def test_rules_and_their_tests_read_only_what_a_replica_exports() -> None:
    names = exported()
    records = [r["record"] for r in rules()]
    for rule in rules():
        expr = rule["expr"]
        for record in records:
            expr = expr.replace(record, "")
        used = set(METRIC.findall(expr))
        assert used <= names.keys(), (rule["record"], used - names.keys())
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for series in test["input_series"]:
            name, labels = re.fullmatch(r"(\w+)\{(.*)\}", series["series"]).groups()
            assert name in names, name
            assert set(re.findall(r"(\w+)=", labels)) - {"instance"} == names[name], name


MUTATIONS = {
    "data age": ("online_learning_champion_trained_through_timestamp_seconds) / 86400",
                 "online_learning_champion_trained_through_timestamp_seconds) / 3600"),
    "every replica": ("min by (model_id) (online_learning_champion_promoted",
                      "max by (model_id) (online_learning_champion_promoted"),
    "behind": ("< on (model_id) group_left", "<= on (model_id) group_left"),
    "sign": ("_low) > bool 0", "_low) >= bool 0"),
}  # fmt: skip


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_unit_tests_catch_a_changed_rule(mutation: str, promtool: str, tmp_path: Path):
    old, new = MUTATIONS[mutation]
    text = RULES.read_text()
    assert text.count(old) == 1, old
    (tmp_path / RULES.name).write_text(text.replace(old, new))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = run(promtool, "test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0, f"{old!r} -> {new!r} went unnoticed"


def test_two_replicas_real_gauges_give_the_lag_on_every_replica(promtool, tmp_path) -> None:
    """Replica a loads the promotion 2 s after it, replica b 47 s after: the rule says 47."""
    promoted = T0 + timedelta(hours=1)
    a = parse_exposition(
        exposition(full_summary(promoted=promoted, loaded=promoted + timedelta(seconds=2)))
    )
    b = parse_exposition(
        exposition(full_summary(promoted=promoted, loaded=promoted + timedelta(seconds=47)))
    )
    series = []
    for instance, samples in (("a", a), ("b", b)):
        for (name, labels), value in samples.items():
            if name.startswith("online_learning_champion_"):
                rendered = ", ".join(f'{k}="{v}"' for k, v in sorted({*labels,
                                     ("instance", instance)}))  # fmt: skip
                series.append({"series": f"{name}{{{rendered}}}", "values": f"{value!r}x3"})
    unit = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [
                {"expr": "model_id:online_learning_promotion_to_serving_seconds:max",
                 "eval_time": "2m",
                 "exp_samples": [{"labels": 'model_id:online_learning_promotion_to_serving_'
                                  'seconds:max{model_id="bull"}', "value": 47}]},
                {"expr": "model_id:online_learning_replicas_behind:count", "eval_time": "2m",
                 "exp_samples": [{"labels": 'model_id:online_learning_replicas_behind:count'
                                  '{model_id="bull"}', "value": 0}]},
            ],
        }],
    }  # fmt: skip
    path = tmp_path / "replicas_test.yml"
    path.write_text(yaml.safe_dump(unit, sort_keys=False))
    result = run(promtool, "test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
