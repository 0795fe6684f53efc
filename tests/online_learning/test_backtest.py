"""The backtest harness: deterministic, fair to every policy, and honest about the method."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cli.backtest_cmd  # noqa: F401 - registers the command on the app
from cli import app
from online_learning.backtest.calibration import (
    ExpectedSharpe,
    calibrate_drift_speed,
    expected_static_sharpe,
    summarise_speed,
)
from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import synthetic_environment
from online_learning.backtest.faults import FAULT_KINDS, FaultPlan
from online_learning.backtest.harness import RunResult, run_backtest
from online_learning.backtest.metrics import environment_summary, fault_summary
from online_learning.data import SyntheticMarket
from online_learning.errors import ConfigError
from online_learning.stats import sharpe_ratio
from online_learning.update.config import UpdateSettings
from tests.utils.markets import to_wide

#: A few minutes of market: every policy, updates every third day, short phases.
TINY = BacktestConfig(
    horizons=(30,),
    update_every=3,
    bootstrap_epochs=10,
    retrain_epochs=10,
    retrain_every=10,
    retrain_window=60,
)
TINY_ENV = {"bootstrap_days": 80, "switch_days": 15, "return_days": 15, "n_symbols": 3}


def _tiny(seed: int, config: BacktestConfig = TINY, **kwargs):
    env = synthetic_environment("bull", seed, config, **TINY_ENV)
    return run_backtest(env, seed, config, **kwargs)


@pytest.fixture(scope="module")
def tiny_runs():
    """Seed 0 twice with every policy, and seed 1 with the static policy alone."""
    return _tiny(0), _tiny(0), _tiny(1, dataclasses.replace(TINY, policies=("static",)))


def test_the_harness_is_deterministic_for_a_seed(tiny_runs):
    first, again, other = tiny_runs
    assert first.returns.keys() == again.returns.keys()
    for policy in first.returns:
        np.testing.assert_array_equal(first.returns[policy], again.returns[policy])
    assert first.model_digests == again.model_digests
    assert [(u.policy, u.day, u.decision) for u in first.updates] == [
        (u.policy, u.day, u.decision) for u in again.updates
    ]
    assert first.deployment_sharpe == again.deployment_sharpe
    # ... and a different seed is a different market and different models.
    assert not np.array_equal(first.returns["static"], other.returns["static"])
    assert first.model_digests["bootstrap"] != other.model_digests["bootstrap"]


def test_static_never_changes_its_model(tiny_runs):
    run = tiny_runs[0]
    assert run.model_digests["static"] == run.model_digests["bootstrap"]
    assert not [u for u in run.updates if u.policy == "static"]
    # The others did change theirs, through promoted updates and retrains.
    assert run.model_digests["ewc"] != run.model_digests["bootstrap"]
    assert run.model_digests["retrain"] != run.model_digests["bootstrap"]
    assert any(u.policy == "ewc" and u.decision == "promoted" for u in run.updates)


def test_policies_see_identical_data(tiny_runs):
    run = tiny_runs[0]
    traded = {digests["traded"] for digests in run.data_digests.values()}
    assert len(traded) == 1, "every policy trades the same rows every day"
    # Whatever two policies asked the data source for, they got the same prices.
    served: dict[str, set[str]] = {}
    for digests in run.data_digests.values():
        for request, digest in digests.items():
            served.setdefault(request, set()).add(digest)
    shared = [r for r in served if sum(r in d for d in run.data_digests.values()) > 1]
    assert len(shared) > 10, "finetune, ewc and ewc_drift fetch the same update windows"
    assert all(len(served[r]) == 1 for r in shared)
    # And the days are the same for every policy: static's returns are the deployed model's.
    assert all(len(r) == len(run.days) for r in run.returns.values())


@pytest.fixture(scope="module")
def fault_runs():
    """Every other decided update of finetune and ewc poisoned, each kind in turn, two seeds.

    Daily updates that decide on 2-4 new validation days, so that most days decide."""
    config = dataclasses.replace(
        TINY,
        policies=("finetune", "ewc"),
        update_every=1,
        update=UpdateSettings(validation_days=4, min_validation_days=2),
    )
    plan = FaultPlan(every=2, kinds=FAULT_KINDS)
    return [_tiny(seed, config, faults=plan) for seed in (0, 1)]


def test_poisoned_updates_never_reach_champion(fault_runs):
    summary = fault_summary(fault_runs)
    kinds = {k for policy in summary["by_policy"].values() for k in policy}
    assert kinds == set(FAULT_KINDS)
    assert summary["poisoned_updates"] >= 40
    # The clean updates between the poisoned ones still went through.
    clean = [u for r in fault_runs for u in r.updates if u.fault is None]
    assert sum(u.decision == "promoted" for u in clean) > 5
    assert summary["reached_champion"] == 0, json.dumps(summary["by_policy"], indent=1)


@pytest.mark.parametrize(
    ("fault", "reasons"),
    [
        ("nan_features", {"non_finite_data"}),
        ("shuffled_labels", {"inconsistent_data"}),
        ("wrong_regime", {"inconsistent_data"}),
        # lr x1000: its loss rises, or it is not finite, or the weights jump.
        ("lr_x1000", {"training_diverged", "non_finite", "update_too_large"}),
        ("unadjusted_split", {"suspect_prices"}),
        ("stale_price", {"suspect_prices"}),
        ("price_spike", {"suspect_prices"}),
    ],
)
def test_each_poison_is_caught_by_its_own_check(fault_runs, fault, reasons):
    # Not by the gate's luck: each kind of poison is stopped by the check made for it.
    poisoned = [u for r in fault_runs for u in r.updates if u.fault == fault]
    assert len(poisoned) >= 5
    assert {u.decision for u in poisoned} == {"rolled_back"}
    assert {u.reason for u in poisoned} <= reasons, {u.reason for u in poisoned}


def _regime_switch(
    regime: str, policies: tuple[str, ...], **options
) -> tuple[BacktestConfig, list]:
    """A -> B -> A: 30 days of ``regime`` after deployment, 42 of the conflicting regime, then
    ``regime`` again (scored frozen); updates every other day, as in the full run; two seeds."""
    config = BacktestConfig(
        policies=policies, horizons=(30,), update_every=2, update=UpdateSettings(**options)
    )
    runs = []
    for seed in (0, 1):
        # The old, strongly predictable market: these tests are about the method's mechanics.
        env = synthetic_environment(
            regime, seed, config, switch_days=42, return_days=42, signal_strength=1.0
        )
        runs.append(run_backtest(env, seed, config))
    return config, runs


def test_ewc_beats_static_over_the_horizon():
    # sideways -> bull -> sideways: the static reversal model loses all through the bull
    # phase; ewc adapts, in part (a decision every six days, on new days only: measured -3.5 vs
    # -6.0 over the last 21 days of B). A learning rate 100 times the default: this is about
    # the mechanism, on the strong-signal market.
    _, runs = _regime_switch("sideways", ("static", "ewc"), learning_rate=1e-2, ewc_lambda=10.0)
    horizon = {p: np.mean([sharpe_ratio(r.returns[p]) for r in runs]) for p in ("static", "ewc")}
    assert horizon["ewc"] > horizon["static"] + 0.5, horizon
    last_days = {p: np.mean([sharpe_ratio(r.returns[p][-21:]) for r in runs]) for p in horizon}
    assert last_days["ewc"] > last_days["static"] + 1.5, last_days
    assert last_days["static"] < 0, last_days


def test_ewc_forgets_less_than_finetune():
    # bull -> sideways -> bull: back in the bull regime, the model ewc ended the sideways phase
    # with still trades it about as well as its end-of-bull model did; finetune's does not.
    # A learning rate at which plain fine-tuning overfits each window, and a penalty that
    # holds the weights like 30 windows of memory.
    config, runs = _regime_switch("bull", ("finetune", "ewc"), learning_rate=1e-2, ewc_lambda=30.0)
    summary = environment_summary(runs, config)["policies"]
    kept = {p: summary[p]["forgetting"]["sharpe_end_of_b_model"]["mean"] for p in summary}
    assert kept["ewc"] > kept["finetune"] + 1.0, kept


def _fabricated(seed: int, deployment_mean: float) -> RunResult:
    """A run whose returns are drawn, not traded: to pin the metric definitions down."""
    rng = np.random.default_rng(seed)
    days = list(pd.bdate_range("2020-01-01", periods=60).date)
    deployment = rng.normal(deployment_mean, 0.01, 30)
    returns = {
        "static": rng.normal(0.0, 0.01, 60),
        "retrain": rng.normal(0.004, 0.01, 60),
    }
    return RunResult("demo", "data", seed, days, returns, deployment)


def test_degradation_is_relative_only_to_a_positive_reference():
    config = BacktestConfig(policies=("static", "retrain"), horizons=(30, 60))
    good = environment_summary([_fabricated(s, 0.004) for s in range(20)], config)
    bad = environment_summary([_fabricated(s, -0.004) for s in range(20)], config)
    for horizon in ("30", "60"):
        static_good = good["policies"]["static"]["degradation"][horizon]
        static_bad = bad["policies"]["static"]["degradation"][horizon]
        # A positive deployment Sharpe: a percentage, and the static policy clearly lost.
        assert static_good["vs_deployment"]["reference_sharpe"] > 3
        assert static_good["vs_deployment"]["relative_pct"]["low"] > 0
        # A negative one: no percentage (it would mean nothing), only the difference.
        assert static_bad["vs_deployment"]["relative_pct"] is None
        assert "below" in static_bad["vs_deployment"]["relative_note"]
        assert static_bad["vs_deployment"]["sharpe_difference"]["high"] < 0
        # The retrain reference on the same days is positive in both.
        assert static_bad["vs_retrain"]["relative_pct"]["mean"] > 0
    retrain = good["policies"]["retrain"]["degradation"]["30"]["vs_retrain"]
    assert retrain["sharpe_difference"]["mean"] == 0.0


def test_configuration_errors_name_the_problem():
    with pytest.raises(ConfigError, match="unknown or no policies"):
        BacktestConfig(policies=("static", "magic"))
    with pytest.raises(ConfigError, match="data_window must be between 30 and 90"):
        BacktestConfig(update=UpdateSettings(data_window=20))
    with pytest.raises(ConfigError, match="horizons"):
        BacktestConfig(horizons=(10,))
    # The drift updates' 30-day window cannot hold out 20 validation days.
    with pytest.raises(ConfigError, match=r"validation_days \(20\) must be at most half"):
        BacktestConfig(update=UpdateSettings(validation_days=20))
    config = BacktestConfig(update=UpdateSettings(validation_days=14))
    assert config.update_config("m", as_of=None, seed=0, policy="ewc").validation_days == 14


@pytest.fixture(scope="module")
def price_csvs(tmp_path_factory):
    """The same simulated prices as a long and a wide CSV, as a user would bring them."""
    folder = tmp_path_factory.mktemp("prices")
    frame = SyntheticMarket(seed=5, n_symbols=3, n_days=420).fetch().drop(columns=["regime"])
    frame = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
    long_path = folder / "long.csv"
    frame.to_csv(long_path, index=False)
    wide_path = folder / "wide.csv"
    to_wide(long_path).to_csv(wide_path, index=False)
    start = sorted(frame["date"].unique())[330]
    return long_path, wide_path, start


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_a_user_csv_runs_end_to_end(price_csvs, layout, tmp_path):
    long_path, wide_path, start = price_csvs
    path = long_path if layout == "long" else wide_path
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "backtest", "--data", str(path), "--start", start, "--policies",
            "static,ewc,retrain", "--horizon", "30", "--data-seeds", "1", "--update-every",
            "5", "--retrain-every", "20", "--retrain-window", "100", "--workers", "1",
            "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    env = results["environments"][f"file:{path.name}"]
    assert env["kind"] == "data"
    assert env["start"] == start
    assert set(env["policies"]) == {"static", "ewc", "retrain"}
    assert env["policies"]["ewc"]["updates"]["mean"] == 18
    assert env["policies"]["static"]["forgetting"] is None  # no known regimes in a file
    assert "| ewc |" in (out / "summary.md").read_text()
    timeline = pd.read_csv(out / "timeline.csv")
    assert set(timeline["policy"]) == {"static", "ewc", "retrain"}
    assert {p.name for p in out.glob("*.png")} >= {"rolling_sharpe.png", "events.png"}


# --- drift-speed calibration ----------------------------------------------------------------


def test_twins_average_out_the_path_noise_of_the_expected_sharpe():
    # Without drift nothing changes between deployment and 30 days later, so the static
    # model's expected loss is zero: one path misses it by Sharpe 2-7 (measured 6.7, 1.9 on
    # seeds 0 and 1), eight twins by under 1. With fast drift the loss is real.
    config = dataclasses.replace(TINY, policies=("static",))

    def loss(speed: float, paths: int) -> float:
        return float(
            np.mean(
                [
                    expected_static_sharpe(
                        "bull", seed, config, drift_speed=speed, noise_paths=paths,
                        signal_strength=1.0, **TINY_ENV,
                    ).loss
                    for seed in (0, 1)
                ]
            )
        )  # fmt: skip

    still = loss(0.0, 8)
    assert abs(still) < 1.0, still
    assert loss(0.08, 8) > still + 2.5


def _expected(env: str, seed: int, speed: float, dep: float, hor: float) -> ExpectedSharpe:
    return ExpectedSharpe(env, seed, speed, 4, dep, hor, dep + 0.5, hor + 0.5, 0.0)


def test_the_calibration_counts_only_models_with_a_sharpe_to_lose():
    results = [
        _expected("bull", 0, 0.01, 4.0, 3.0),
        _expected("bull", 1, 0.01, 6.0, 5.0),
        _expected("sideways", 0, 0.01, 0.2, -0.4),
        _expected("sideways", 1, 0.01, -0.2, -0.4),
    ]
    summary = summarise_speed(results, floor=0.5)
    assert summary["counted"] == ["bull"]
    assert summary["environments"]["bull"]["loss_pct"]["mean"] == pytest.approx(20.0)
    assert summary["environments"]["sideways"]["loss_pct"] is None
    assert summary["mean_loss_pct"] == pytest.approx(20.0)
    assert summary["environments"]["bull"]["gross"]["deployment_sharpe"]["mean"] == 5.5


def test_calibrate_from_the_command_line(tmp_path):
    out = tmp_path / "cal"
    result = CliRunner().invoke(
        app,
        [
            "backtest", "--calibrate", "--environment", "bull", "--seeds", "1",
            "--first-seed", "100", "--calibration-speeds", "0,0.04", "--noise-paths", "2",
            "--horizon", "30", "--workers", "1", "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "calibration.json").read_text())
    assert [row["drift_speed"] for row in document["speeds"]] == [0.0, 0.04]
    assert document["seeds"] == [100] and document["noise_paths"] == 2
    assert document["execution"] == "auto" and document["cost_bps"] == 5.0
    assert len(document["runs"]) == 2
    assert (out / "calibration.png").stat().st_size > 0
    assert "drift speed" in result.output

    bad = CliRunner().invoke(app, ["backtest", "--calibrate", "--calibration-speeds", "fast"])
    assert bad.exit_code == 1
    assert "--calibration-speeds takes numbers" in bad.output


def test_calibration_rejects_a_negative_speed():
    with pytest.raises(ConfigError, match="drift speeds must be >= 0"):
        calibrate_drift_speed([-0.01], [0], TINY)


def test_the_challenger_policy_promotes_only_through_its_period_on_the_same_days():
    # The challenger period replayed beside the immediate gate, with a short period so that
    # the tiny market sees challengers named and decided.
    config = dataclasses.replace(
        TINY,
        policies=("ewc", "ewc_challenger"),
        update_every=1,
        update=UpdateSettings(validation_days=4, min_validation_days=2,
                              challenger_min_days=3, challenger_horizon_days=10),
    )  # fmt: skip
    run = _tiny(0, config)
    assert len(run.returns["ewc"]) == len(run.returns["ewc_challenger"])  # the same days
    immediate = [u for u in run.updates if u.policy == "ewc"]
    period = [u for u in run.updates if u.policy == "ewc_challenger"]
    assert not any(u.reason.startswith("challenger_") for u in immediate)
    named = [u for u in period if u.reason == "challenger_named"]
    decided = [u for u in period if u.reason in ("challenger_better", "challenger_worse",
                                                  "challenger_inconclusive")]  # fmt: skip
    assert named and decided, [(u.day, u.decision, u.reason) for u in period]
    # A version is promoted only after its period, and only a version named before.
    for u in period:
        if u.decision == "promoted":
            assert u.reason == "challenger_better", u
            assert u.version in {n.challenger_version for n in named if n.day < u.day}, u
    # One challenger at a time: between a naming and its decision nothing else is trained.
    open_period = None
    for u in period:
        if u.reason == "challenger_named":
            assert open_period is None, u
            open_period = u.challenger_version
        elif u.reason in ("challenger_better", "challenger_worse", "challenger_inconclusive"):
            assert u.challenger_version == open_period, u
            open_period = None
        elif open_period is not None:
            assert u.reason == "challenger_pending", u


def test_the_paired_difference_to_static_cancels_the_market_s_luck():
    from online_learning.backtest.metrics import paired_bootstrap_difference, stationary_bootstrap

    rng = np.random.default_rng(3)
    market = rng.normal(0.0, 0.01, 500)
    static = market
    updated = 0.9 * market + rng.normal(0.0002, 0.002, 500)  # alike books, a small edge
    paired = paired_bootstrap_difference(updated, static)
    each = [stationary_bootstrap(x) for x in (updated, static)]
    # Unpaired, the two intervals overlap almost entirely; paired, the difference is resolved.
    assert each[0].low < each[1].high and each[1].low < each[0].high
    assert paired.mean == pytest.approx(sharpe_ratio(updated) - sharpe_ratio(static))
    assert paired.high - paired.low < 0.5 * (each[0].high - each[0].low)
    with pytest.raises(ValueError, match="same days"):
        paired_bootstrap_difference(updated, static[:-1])
