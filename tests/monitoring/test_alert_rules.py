"""The alert rules: promtool accepts them, their unit tests pass and bite, and they read metrics
that UpdateMetrics really exports."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from online_learning.monitoring import OUTCOMES, UpdateMetrics
from tests.monitoring.helpers import RULE_TESTS, RULES, parse_exposition

METRIC = re.compile(r"\bonline_learning_[a-z_]+\b")


def run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def exported_samples() -> dict[str, set[str]]:
    """Sample names UpdateMetrics exposes once a model has been seen, with their label names."""
    metrics = UpdateMetrics()
    metrics.observe_failure("bull", 1.0)
    return {
        name: {label for label, _ in labels} for name, labels in parse_exposition(metrics.render())
    }


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout, result.stdout


def test_rule_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\s*SUCCESS\s*$", result.stdout, re.MULTILINE), result.stdout
    assert "FAILED" not in result.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    alertnames = {rule["alert"] for rule in rules()}
    firing: set[str] = set()
    silent: set[str] = set()
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    assert alertnames == {
        "SharpeDropAfterUpdate",
        "ConsecutiveUpdateFailures",
        "HighRollbackRate",
        "UpdateRunningTooLong",
        "AnomalousFisherValues",
    }
    assert alertnames - firing == set(), "alerts never expected to fire"
    assert alertnames - silent == set(), "alerts never expected to stay silent"
    assert (firing | silent) - alertnames == set(), "tests of alerts that do not exist"


def test_rules_read_only_metrics_that_update_metrics_exports() -> None:
    exported = exported_samples()
    for rule in rules():
        used = set(METRIC.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= exported.keys(), (rule["alert"], used - exported.keys())
        for outcome in re.findall(r'outcome="([^"]+)"', rule["expr"]):
            assert outcome in OUTCOMES, (rule["alert"], outcome)
        for labels in re.findall(r"(?:by|without|on) \(([^)]*)\)", rule["expr"]):
            for label in labels.split(","):
                assert any(label.strip() in names for names in exported.values()), label


def test_rule_tests_feed_series_that_update_metrics_exports() -> None:
    """A rule test on a series nobody exports would pass while production stays silent."""
    exported = exported_samples()
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for series in test["input_series"]:
            name, labels = re.fullmatch(r"(\w+)\{(.*)\}", series["series"]).groups()
            assert name in exported, name
            label_names = set(re.findall(r"(\w+)=", labels)) - {"job"}  # added by the scrape
            assert label_names == exported[name], (name, label_names)


# Each boundary the unit tests pin down, moved by one step: the unit tests must then fail.
MUTATIONS = {
    "SharpeDropAfterUpdate": ("online_learning_degradation_percent > 5", "... >= 5"),
    "SharpeDropAfterUpdate(promoted)": ("failed_updates == 0", "failed_updates >= 0"),
    "ConsecutiveUpdateFailures": ("online_learning_consecutive_failed_updates > 2", "... >= 2"),
    "HighRollbackRate": (") > 0.2", ") >= 0.2"),
    "HighRollbackRate(outcome)": ('{outcome="rolled_back"}', ""),
    "UpdateRunningTooLong": ("> 3600", ">= 3600"),
    "UpdateRunningTooLong(idle)": ("timestamp_seconds > 0", "timestamp_seconds >= 0"),
    "AnomalousFisherValues": ("online_learning_fisher_max > 100", "... >= 100"),
    "AnomalousFisherValues(nonfinite)": ("nonfinite_values > 0", "nonfinite_values >= 0"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_rule_unit_tests_catch_a_moved_boundary(
    mutation: str, promtool: str, tmp_path: Path
) -> None:
    old, new = MUTATIONS[mutation]
    if new.startswith("... "):
        new = old.rsplit(" ", 2)[0] + new[3:]
    config = yaml.safe_load(RULES.read_text())
    exprs = [rule for group in config["groups"] for rule in group["rules"] if old in rule["expr"]]
    assert len(exprs) == 1 and exprs[0]["expr"].count(old) == 1, old
    exprs[0]["expr"] = exprs[0]["expr"].replace(old, new)
    (tmp_path / RULES.name).write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = run(promtool, "test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0, f"{old!r} -> {new!r} went unnoticed"
    assert mutation.split("(")[0] in result.stdout + result.stderr


# End to end: scenarios driven through the real UpdateMetrics, whose expositions become the
# input of promtool; the firing alerts are read back from the ALERTS series.


def outcome(model_id: str, decision: str, pre: float, post: float) -> SimpleNamespace:
    degradation = 100.0 * (pre - post) / max(abs(pre), 0.5)
    return SimpleNamespace(
        model_id=model_id,
        decision=decision,
        sharpe_pre=pre,
        sharpe_post=post,
        degradation_pct=degradation,
        duration_s=120.0,
    )


def healthy(m: UpdateMetrics) -> None:
    m.observe(outcome("bull", "promoted", 1.0, 1.1), fisher_stats=FINE)
    m.observe(outcome("bull", "promoted", 1.1, 1.12), fisher_stats=FINE)


def three_rejections(m: UpdateMetrics) -> None:
    for _ in range(4):  # enough promotions to keep the rollback rate at 1/7
        m.observe(outcome("bull", "promoted", 1.0, 1.1), fisher_stats=FINE)
    m.observe(outcome("bull", "rolled_back", 1.1, 0.7))
    m.observe_failure("bull", 10.0)
    with pytest.raises(RuntimeError), m.track("bull"):
        raise RuntimeError("data source down")


def worse_model_promoted(m: UpdateMetrics) -> None:
    m.observe(outcome("bull", "promoted", 2.0, 1.8), fisher_stats=FINE)  # 10% worse


def some_rollbacks(m: UpdateMetrics) -> None:
    for decision in ("promoted", "rolled_back", "promoted", "promoted", "rolled_back"):
        m.observe(outcome("bear", decision, 1.0, 1.0 if decision == "promoted" else 0.5))


def bad_fisher(m: UpdateMetrics) -> None:
    m.observe(outcome("bull", "promoted", 1.0, 1.1), fisher_stats={**FINE, "fisher_nonfinite": 4})
    m.observe(outcome("bear", "promoted", 1.0, 1.1), fisher_stats={**FINE, "fisher_max": 5e3})


FINE = {"fisher_mean": 0.01, "fisher_max": 0.2, "fisher_nonfinite": 0}
# scenario -> (what happens, {(alertname, model_id, reason label or None)} that fire after it)
SCENARIOS: dict[str, tuple[Callable[[UpdateMetrics], None], set[tuple[str, str, str | None]]]] = {
    "healthy": (healthy, set()),
    "three_rejections": (three_rejections, {("ConsecutiveUpdateFailures", "bull", None)}),
    "worse_model_promoted": (worse_model_promoted, {("SharpeDropAfterUpdate", "bull", None)}),
    "some_rollbacks": (some_rollbacks, {("HighRollbackRate", "bear", None)}),
    "bad_fisher": (
        bad_fisher,
        {
            ("AnomalousFisherValues", "bull", "nonfinite"),
            ("AnomalousFisherValues", "bear", "too_large"),
        },
    ),
}


def series_of(expositions: list[bytes]) -> list[dict[str, str]]:
    """promtool input series, one value per exposition (``_`` before a series appears)."""
    values: dict[str, list[str]] = {}
    for step, text in enumerate(expositions):
        for family in text_string_to_metric_families(text.decode()):
            for s in family.samples:
                labels = ", ".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                value = "NaN" if math.isnan(s.value) else repr(s.value)
                values.setdefault(f"{s.name}{{{labels}}}", ["_"] * len(expositions))[step] = value
    return [{"series": series, "values": " ".join(v)} for series, v in values.items()]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_alerts_fire_on_what_update_metrics_exports(
    scenario: str, promtool: str, tmp_path: Path
) -> None:
    play, expected = SCENARIOS[scenario]
    metrics = UpdateMetrics()
    with metrics.track("bull"), metrics.track("bear"):
        before = metrics.render()  # every model known, its counters at 0
    play(metrics)
    expositions = [before, metrics.render(), metrics.render()]
    rule_labels = {(r["alert"], r["labels"].get("reason")): r["labels"] for r in rules()}
    samples = []
    for alertname, model_id, reason in sorted(expected, key=str):
        labels = rule_labels[alertname, reason] | {
            "alertname": alertname,
            "alertstate": "firing",
            "model_id": model_id,
        }
        rendered = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        samples.append({"labels": f"ALERTS{{{rendered}}}", "value": 1})
    unit_test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series_of(expositions),
                "promql_expr_test": [
                    {
                        "expr": 'ALERTS{alertstate="firing"}',
                        "eval_time": "2m",
                        "exp_samples": samples,
                    }
                ],
            }
        ],
    }
    path = tmp_path / "scenario_test.yml"
    path.write_text(yaml.safe_dump(unit_test, sort_keys=False))
    result = run(promtool, "test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
