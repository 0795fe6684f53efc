"""The five success metrics per policy of a backtest: known answers on hand-built runs, the
blend against the client SDK's, and a real run that writes them out."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cli.backtest_cmd  # noqa: F401 - registers the command on the app
from cli import app
from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import synthetic_environment
from online_learning.backtest.episodes import change_episodes
from online_learning.backtest.harness import RunResult, run_backtest
from online_learning.backtest.impact import blend_positions, impact_books
from online_learning.backtest.policies import DriftRecord, PolicyUpdate
from online_learning.backtest.success import model_ages, success_summary
from online_learning.execution import net_returns
from online_learning.update.config import UpdateSettings
from online_learning_client import Prediction
from online_learning_client.signals import SignalCombiner

DAYS = list(pd.bdate_range("2024-01-01", periods=80).date)
#: Day 40 is the first whose position earns a sideways return (the next day's regime).
REGIMES = ["bull"] * 41 + ["sideways"] * 39


def _promotion(policy: str, day: int, kind: str = "scheduled") -> PolicyUpdate:
    return PolicyUpdate(model_id="m", decision="promoted", reason="accepted", version=str(day),
                        policy=policy, day=day, date=DAYS[day], kind=kind)  # fmt: skip


def _switch_run() -> RunResult:
    """Two policies on a bull -> sideways switch (day 40) whose returns are set by hand.

    ``ewc_drift`` earns 0.01 a day, -0.01 from the change, 0.012 from day 48; its detector
    fires at the close of day 40 (on day 39's return, before the change: not a detection of
    it) and of day 46; a scheduled update promoted at the close of day 41 trained on days
    before the change (age 10), a drift update at the close of day 47 on the change day
    (age 5). ``ewc`` has no detector; its promotions on days 42 (age 8, before the change) and
    44 (age 2, after it)."""
    drift_pnl = np.array([0.01] * 40 + [-0.01] * 8 + [0.012] * 32)
    ewc_pnl = np.array([0.01] * 40 + [-0.01] * 6 + [0.011] * 34)
    ages = {p: {"m": np.full(len(DAYS), 20.0)} for p in ("ewc", "ewc_drift")}
    ages["ewc_drift"]["m"][[41, 47]] = [10.0, 5.0]
    ages["ewc"]["m"][[42, 44]] = [8.0, 2.0]
    return RunResult(
        "bull", "synthetic", 0, DAYS, {"ewc_drift": drift_pnl, "ewc": ewc_pnl}, np.array([]),
        true_regimes=REGIMES,
        drifts=[DriftRecord("ewc_drift", "m", 40, DAYS[40], ("adwin",), True),
                DriftRecord("ewc_drift", "m", 46, DAYS[46], ("ddm",), True)],
        updates=[_promotion("ewc_drift", 41), _promotion("ewc_drift", 47, "drift"),
                 _promotion("ewc", 42), _promotion("ewc", 44)],
        model_age=ages,
    )  # fmt: skip


def test_a_known_change_detection_and_promotion_give_exactly_those_delays():
    run = _switch_run()
    [drift] = change_episodes(run, "ewc_drift", window=10)
    assert drift.change_day == 40
    assert (drift.detection, drift.detection_day) == ("detected", 46)
    # The promotion of day 41 trained before the change: the first adaptation is day 47's.
    assert (drift.change_to_detection_days, drift.detection_to_promotion_days) == (6, 1)
    assert drift.change_to_promotion_days == 7
    # Recovery: from day 45's return (the one that fired) to the first 10-day mean back at
    # the bull level 0.01, all after it: days 48-57, counted 46..57.
    assert drift.recovery_anchor == "detection"
    assert drift.pre_change_level == pytest.approx(0.01)
    assert drift.days_to_recover == 12

    [scheduled] = change_episodes(run, "ewc", window=10)
    assert (scheduled.detection, scheduled.change_to_detection_days) == ("not_applicable", None)
    assert scheduled.change_to_promotion_days == 4  # day 44's, not day 42's (trained before)
    # Anchored at the change: the first 10 days all after day 40 with a mean >= 0.01 end on
    # day 55 (days 46-55 earn 0.011).
    assert (scheduled.recovery_anchor, scheduled.days_to_recover) == ("change", 15)

    # On real data nothing is known about changes.
    assert change_episodes(dataclasses.replace(run, true_regimes=None), "ewc") is None


def test_without_an_adapted_version_there_is_no_recovery():
    run = _switch_run()
    run.updates = [u for u in run.updates if u.policy != "ewc"]
    [episode] = change_episodes(run, "ewc", window=10)
    assert episode.change_to_promotion_days is None
    assert episode.days_to_recover is None  # back at the level, but no adapted version


def _hand_run() -> RunResult:
    """Three days of two symbols whose rule, predictions and returns are set by hand."""
    rows = pd.DataFrame({
        "day": [0, 0, 1, 1, 2, 2],
        "symbol": ["A", "B"] * 3,
        "realised": [0.01, 0.003, -0.02, 0.01, 0.005, -0.004],
        "z_ret_1": [0.5, -1.5, 2.0, 0.2, -0.3, 0.2],
    })  # fmt: skip
    static = np.array([0.52, 0.6, 0.7, 0.3, 0.5, 0.5])
    ewc = np.array([0.52, 0.5, 0.8, 0.46, 0.5, 0.5])  # confident on A's second day only
    return RunResult(
        "demo", "data", 0, DAYS[:3], {"static": np.zeros(3), "ewc": np.zeros(3)}, np.array([]),
        traded_rows=rows, p_up={"static": static, "ewc": ewc},
        served_by={p: np.array(["m"] * 6, dtype=object) for p in ("static", "ewc")},
        model_age={"static": {"m": np.array([30.0, 31.0, 32.0])},
                   "ewc": {"m": np.array([30.0, 4.0, 5.0])}},
    )  # fmt: skip


def test_the_rules_only_counterfactual_is_the_rule_priced_with_costs():
    run = _hand_run()
    config = BacktestConfig(policies=("static", "ewc"), update=UpdateSettings(cost_bps=10))
    # Rule positions A: 0.5, 1, -0.3 and B: -1, 0.2, 0.2 at 10 bps per unit traded.
    rules_a = [0.5 * 0.01 - 0.001 * 0.5, 1.0 * -0.02 - 0.001 * 0.5, -0.3 * 0.005 - 0.001 * 1.3]
    rules_b = [-1.0 * 0.003 - 0.001, 0.2 * 0.01 - 0.001 * 1.2, 0.2 * -0.004]
    by_day = [(a + b) / 2 for a, b in zip(rules_a, rules_b, strict=True)]
    # ewc's p_up 0.8 on A's second day: 0.6 * 1 + 0.4 * 0.6 = 0.84, then back to the rule.
    blended_a = [rules_a[0], 0.84 * -0.02 - 0.001 * 0.34, -0.3 * 0.005 - 0.001 * 1.14]
    added = sum(b - r for b, r in zip(blended_a, rules_a, strict=True)) / 2

    blended, rules = impact_books(run, "ewc", cost_bps=10)
    np.testing.assert_allclose(rules, by_day)
    impact = success_summary([run], config)["ewc"]["business_impact"]
    assert impact["rules_pnl"]["mean"] == pytest.approx(sum(by_day))
    assert impact["ml_added_pnl"]["mean"] == pytest.approx(added)
    assert impact["ml_added_days"]["pnl"] == pytest.approx(added)
    assert impact["ml_added_days"]["low"] <= added <= impact["ml_added_days"]["high"]
    assert blended.sum() - rules.sum() == pytest.approx(added)


def test_online_vs_batch_and_freshness_on_hand_built_days():
    success = success_summary([_hand_run()], BacktestConfig(policies=("static", "ewc")))
    scores = success["ewc"]["online_vs_batch"]
    # Up-days are rows 0, 1, 3, 4. ewc calls up on 0, 2 (p > 0.5): right on 0, 5 (neither).
    assert scores["hit_rate"]["online"]["mean"] == pytest.approx(2 / 6)
    # static calls up on 0, 1, 2: right on 0, 1 and 5.
    assert scores["hit_rate"]["batch"]["mean"] == pytest.approx(3 / 6)
    losses = [
        -math.log(q if up else 1 - q)
        for q, up in zip(
            [0.52, 0.5, 0.8, 0.46, 0.5, 0.5], [True, True, False, True, True, False], strict=True
        )
    ]
    assert scores["log_loss"]["online"]["mean"] == pytest.approx(sum(losses) / 6)
    assert success["static"]["online_vs_batch"] is None  # static is the batch view
    assert success["ewc"]["freshness"]["mean_age_days"]["mean"] == pytest.approx(13.0)
    assert success["static"]["freshness"]["by_model"]["m"]["mean"] == pytest.approx(31.0)
    assert success["ewc"]["adaptation"]["changes"] == "unknown"  # a data environment


@pytest.mark.parametrize("rule", [-1.0, -0.5, 0.0, 0.3, 1.0])
@pytest.mark.parametrize("p_up", [0.02, 0.3, 0.45, 0.5, 0.549, 0.55, 0.6, 0.9, 1.0])
def test_the_blend_trades_what_the_sdk_s_signal_combiner_trades(rule, p_up):
    prediction = Prediction.model_validate({
        "prediction_id": "p-1", "symbol": "AAA", "p_up": p_up,
        "direction": "up" if p_up > 0.5 else "down", "confidence": max(p_up, 1 - p_up),
        "position": 2 * p_up - 1, "strategy": "ensemble", "regime": None, "session": None,
        "served_at": "2026-01-05T21:00:00Z", "features": {"z_ret_1": rule},
        "components": [{"name": "m", "kind": "batch", "version": "1", "weight": 1.0,
                        "p_up": p_up}],
    })  # fmt: skip
    signal = SignalCombiner().combine(prediction, rule_signal=rule)
    [position] = blend_positions(np.array([rule]), np.array([p_up]))
    assert position == pytest.approx(signal.position, abs=1e-12)
    assert signal.rule_position == rule  # the counterfactual is the rule alone, as here


def test_without_a_prediction_the_agent_trades_its_rule():
    assert blend_positions(np.array([0.4, -0.7]), np.array([np.nan, np.nan])).tolist() == [
        0.4,
        -0.7,
    ]


#: The quickest replay of the existing tests: short phases, three symbols.
TINY = BacktestConfig(policies=("static", "ewc", "ewc_drift"), horizons=(30,), update_every=3,
                      bootstrap_epochs=10)  # fmt: skip
TINY_ENV = {"bootstrap_days": 80, "switch_days": 15, "return_days": 15, "n_symbols": 3}


@pytest.fixture(scope="module")
def tiny_run() -> RunResult:
    return run_backtest(synthetic_environment("bull", 0, TINY, **TINY_ENV), 0, TINY)


def test_a_static_model_ages_a_day_a_day_and_an_updated_one_resets(tiny_run):
    static = tiny_run.model_age["static"]["backtest_model"]
    np.testing.assert_array_equal(np.diff(static), 1.0)
    ewc = tiny_run.model_age["ewc"]["backtest_model"]
    promoted = {u.day for u in tiny_run.updates if u.policy == "ewc" and u.decision == "promoted"}
    assert len(promoted) >= 3
    for day in range(1, len(ewc)):
        if day in promoted:
            assert ewc[day] <= ewc[day - 1]
        else:
            assert ewc[day] == ewc[day - 1] + 1
    # The reported freshness is the mean over the traded days.
    assert model_ages(tiny_run, "static")["backtest_model"] == pytest.approx(static.mean())
    assert model_ages(tiny_run, "ewc")["backtest_model"] < static.mean()


def test_the_replay_records_what_each_policy_served(tiny_run):
    rows = tiny_run.traded_rows
    assert len(rows) == 3 * len(tiny_run.days)  # three symbols every day
    # static never changes its model: the same p_up as ewc until ewc's first new champion.
    first = min(u.day for u in tiny_run.updates if u.policy == "ewc" and u.decision == "promoted")
    before = (rows["day"] < first).to_numpy()
    np.testing.assert_array_equal(tiny_run.p_up["static"][before], tiny_run.p_up["ewc"][before])
    # The book the harness priced is the one the records say: p_up, rows and returns.
    positions = 2 * tiny_run.p_up["static"] - 1
    net, _ = net_returns(rows["symbol"], positions, rows["realised"], cost_bps=5)
    by_day = pd.Series(net).groupby(rows["day"]).mean().to_numpy()
    np.testing.assert_allclose(by_day, tiny_run.returns["static"], atol=1e-12)


def test_a_backtest_writes_each_policy_s_success_metrics(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "backtest", "--environment", "bull", "--seeds", "1", "--policies",
            "static,ewc,ewc_drift", "--horizon", "30", "--update-every", "5", "--n-symbols",
            "2", "--recovery-window", "10", "--workers", "1", "--no-plots", "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "success metrics" in result.output
    env = json.loads((out / "results.json").read_text())["environments"]["bull"]
    assert env["policies"]["static"]["success"]["online_vs_batch"] is None
    for policy in ("static", "ewc", "ewc_drift"):
        success = env["policies"][policy]["success"]
        assert set(success) == {"freshness", "adaptation", "online_vs_batch",
                                "learning_efficiency", "business_impact"}  # fmt: skip
        assert success["freshness"]["mean_age_days"]["mean"] > 0
        assert success["adaptation"]["episodes"] == 1  # bull -> sideways
        assert success["learning_efficiency"]["window_days"] == 10
        assert success["business_impact"]["ml_added_days"]["days"] == env["evaluation_days"]
    assert env["policies"]["ewc_drift"]["success"]["adaptation"]["detection"] == "applies"
    assert env["policies"]["ewc"]["success"]["adaptation"]["detection"] == "not_applicable"
    ewc = env["policies"]["ewc"]["success"]["online_vs_batch"]
    assert ewc["rows"]["mean"] == 2 * env["evaluation_days"]
    assert 0 <= ewc["hit_rate"]["batch"]["mean"] <= 1
    summary = (out / "summary.md").read_text()
    assert "| policy | model age (days) | change → detection |" in summary
    assert "| ewc_drift | " in summary.split("model age (days)")[1]
