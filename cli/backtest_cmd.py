"""``backtest``: walk-forward replay of the maintenance policies, side by side."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli._common import app, configuration, console, err_console, fail, parse_date
from cli.settings_options import with_update_settings
from online_learning.errors import OnlineLearningError

_SPLIT = "comma-separated or repeated"


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _print_summary(results: dict, folder: Path) -> None:
    from online_learning.backtest.config import POLICIES
    from online_learning.backtest.report import format_degradation, format_estimate

    for name, env in results["environments"].items():
        horizon = str(max(int(h) for p in env["policies"].values() for h in p["degradation"]))
        table = Table(title=f"{name}: {len(env['seeds'])} seed(s), {env['evaluation_days']} days")
        for column in ("policy", "Sharpe", "ΔS vs static (days)", f"degr. {horizon}d vs deploy",
                       f"degr. {horizon}d vs retrain", "forgetting", "rollback rate",
                       "update s", "retrain s"):  # fmt: skip
            table.add_column(column)
        for policy in [p for p in POLICIES if p in env["policies"]]:
            entry = env["policies"][policy]
            degradation = entry["degradation"][horizon]
            forgetting = entry.get("forgetting") or {}
            table.add_row(
                policy, format_estimate(entry["sharpe_horizon"]),
                format_estimate(entry.get("sharpe_vs_static_days"), "+.2f"),
                format_degradation(degradation.get("vs_deployment")),
                format_degradation(degradation.get("vs_retrain")),
                format_estimate(forgetting.get("forgetting_pct"), ".0f", "%"),
                format_estimate(entry["rollback_rate"]), format_estimate(entry["update_seconds"]),
                format_estimate(entry["retrain_seconds"]),
            )  # fmt: skip
        console.print(table)
        _print_success(name, env)
    faults = results.get("fault_injection")
    if faults:
        colour = "green" if faults["reached_champion"] == 0 else "red"
        console.print(
            f"fault injection: [{colour}]{faults['reached_champion']} of "
            f"{faults['poisoned_updates']} poisoned updates reached champion[/]"
        )
    console.print(f"results in {folder}/ (results.json, summary.md, timeline.csv, *.png)")


def _print_success(name: str, env: dict) -> None:
    """The second table: the five success metrics of each policy (docs/backtest.md)."""
    from online_learning.backtest.config import POLICIES
    from online_learning.backtest.report import SUCCESS_COLUMNS, success_row

    policies = [p for p in POLICIES if p in env["policies"]]
    if not any(env["policies"][p].get("success") for p in policies):
        return
    table = Table(title=f"{name}: success metrics (delays in trading days; episodes measured)")
    for column in SUCCESS_COLUMNS:
        table.add_column(column)
    for policy in policies:
        table.add_row(*success_row(policy, env["policies"][policy].get("success")))
    console.print(table)


@app.command()
@with_update_settings
def backtest(
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            help=f"'synthetic', 'sp500', 'sp500-stocks' or a CSV/Parquet path; {_SPLIT}.",
        ),
    ] = None,
    environments: Annotated[
        list[str] | None,
        typer.Option("--environment", "-e", help=f"Synthetic regime environments; {_SPLIT}."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First evaluation day (real data); bootstrap uses before.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last evaluation day (real data).")] = None,
    policies: Annotated[
        list[str] | None,
        typer.Option("--policy", "--policies", "-p", help=f"Policies to compare; {_SPLIT}."),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds of each synthetic environment.")] = 20,
    data_seeds: Annotated[
        int, typer.Option(min=1, help="Training seeds on each real data source.")
    ] = 3,
    first_seed: Annotated[int, typer.Option(min=0)] = 0,
    model_ids: Annotated[
        list[str] | None,
        typer.Option("--model-id", "--model_id", "-m", help="Models each policy runs; repeat."),
    ] = None,
    update_every: Annotated[int, typer.Option(min=1, help="Days between updates.")] = 1,
    drift_window: Annotated[int, typer.Option(help="Window of drift-triggered updates.")] = 30,
    drift_cooldown: Annotated[int, typer.Option(min=1)] = 10,
    drift_lambda_factor: Annotated[float, typer.Option(min=0.0)] = 0.1,
    drift_min_detectors: Annotated[int, typer.Option(min=1)] = 1,
    retrain_every: Annotated[int, typer.Option(min=1)] = 21,
    retrain_window: Annotated[int, typer.Option(min=50)] = 250,
    holdout_days: Annotated[int, typer.Option(min=1)] = 30,
    sharpe_window: Annotated[int, typer.Option(min=5)] = 30,
    recovery_window: Annotated[
        int, typer.Option(min=1, help="Days of the rolling mean of learning efficiency.")
    ] = 20,
    horizons: Annotated[
        list[int] | None, typer.Option("--horizon", help="Degradation horizons; repeat.")
    ] = None,
    drift_speed: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Simulator drift speed (default 0.004, realistic; 0.04 is calibrated to the "
            "seed's static loss).",
        ),
    ] = None,
    n_symbols: Annotated[int, typer.Option(min=1, help="Symbols of the simulated market.")] = 6,
    signal_strength: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Simulator signal strength (default 0.15, realistic; 1 = the old market)."
        ),
    ] = None,
    inject_faults: Annotated[
        bool, typer.Option(help="Also replay with poisoned updates and count promotions.")
    ] = False,
    fault_every: Annotated[int, typer.Option(min=1, help="Poison every n-th update.")] = 5,
    fault_seeds: Annotated[int, typer.Option(min=1, help="Seeds of the fault pass.")] = 5,
    fault_kinds: Annotated[list[str] | None, typer.Option("--fault-kind", help=_SPLIT)] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes (one core each).")] = 2,
    quick: Annotated[
        bool, typer.Option(help="3 seeds (1 on real data and faults), updates every 3 days.")
    ] = False,
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("results/backtest"),
    plots: Annotated[bool, typer.Option(help="Write the PNG plots.")] = True,
    calibrate: Annotated[
        bool, typer.Option(help="Only calibrate the drift speed (static policy) and stop.")
    ] = False,
    calibration_speeds: Annotated[
        list[str] | None, typer.Option(help=f"Drift speeds of --calibrate; {_SPLIT}.")
    ] = None,
    noise_paths: Annotated[
        int, typer.Option(min=1, help="Twins of each market --calibrate pools.")
    ] = 32,
    *,
    overrides: dict,
) -> None:
    """Replay the market day by day; compare static, finetune, ewc, ewc_challenger (ewc
    promoted through the challenger period), ewc_drift and retrain
    (a network's policies) or static, retrain and warm_start (an estimator's).

    Every policy updates through the production path (OnlineLearner, stability gate,
    rollback) against its own in-memory registry. Writes results.json, summary.md,
    timeline.csv and plots into --output.
    """
    from online_learning.backtest.config import BacktestConfig
    from online_learning.backtest.environments import DEFAULT_DRIFT_SPEED, SYNTHETIC_ENVIRONMENTS
    from online_learning.backtest.faults import FAULT_KINDS, FaultPlan
    from online_learning.backtest.report import write_outputs
    from online_learning.backtest.runner import EnvironmentSpec, merge_suites, synthetic_specs
    from online_learning.configuration.plans import training_plan
    from online_learning.update.config import UpdateSettings

    if quick:
        seeds, data_seeds, fault_seeds, update_every = 3, 1, 1, max(update_every, 3)
    models = configuration()
    team = [m for m in (model_ids or ()) if m in models and not _builtin(models.model(m))]
    definitions = tuple(training_plan(models, m).definition for m in team)
    sources = _split(data) or sorted({models.model(m).data for m in team}) or ["synthetic"]
    names = _split(environments) or list(SYNTHETIC_ENVIRONMENTS)
    speed = DEFAULT_DRIFT_SPEED if drift_speed is None else drift_speed
    try:
        config = BacktestConfig(
            policies=tuple(_split(policies) or _default_policies(definitions)),
            model_ids=tuple(model_ids) if model_ids else BacktestConfig().model_ids,
            update_every=update_every, update=UpdateSettings().replace(**overrides),
            drift_window=drift_window, drift_cooldown=drift_cooldown,
            drift_lambda_factor=drift_lambda_factor, drift_min_detectors=drift_min_detectors,
            retrain_every=retrain_every, retrain_window=retrain_window,
            holdout_days=holdout_days, sharpe_window=sharpe_window,
            recovery_window=recovery_window,
            horizons=tuple(horizons) if horizons else (30, 90),
            definitions=definitions,
        )  # fmt: skip
        plan = (
            FaultPlan(every=fault_every, offset=1 % fault_every,
                      kinds=tuple(_split(fault_kinds) or FAULT_KINDS))
            if inject_faults else None
        )  # fmt: skip
        synthetic_seeds = list(range(first_seed, first_seed + seeds))
        market = {"n_symbols": n_symbols}
        if signal_strength is not None:
            market["signal_strength"] = signal_strength
        if calibrate:
            grid = _speeds(calibration_speeds)
            _calibrate(config, names, synthetic_seeds, grid, noise_paths, workers, output,
                       market, plots)  # fmt: skip
            return
        start_day, end_day = parse_date(start, "--start"), parse_date(end, "--end")
        groups = []
        for spec in sources:
            if spec.strip().lower() == "synthetic":
                specs = synthetic_specs(names, drift_speed=speed, **market)
                groups.append((specs, synthetic_seeds))
            else:
                specs = [EnvironmentSpec(spec, data=spec, start=start_day, end=end_day)]
                groups.append((specs, list(range(first_seed, first_seed + data_seeds))))
        command = "online-learning " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        suites = []
        with _progress_bar() as bar:
            for specs, group_seeds in groups:
                suites.append(_run_group(bar, specs, group_seeds, config, plan, fault_seeds,
                                         workers, command))  # fmt: skip
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc
    merged = merge_suites(suites)
    results, timelines, runs = merged.results, merged.timelines, merged.runs
    write_outputs(output, results, timelines, runs, plots=plots)
    _print_summary(results, output)


def _builtin(model) -> bool:
    """A configured model that is the platform's network on its ten features (a specialist)."""
    return model.network == "builtin" and model.features == "builtin" and not model.symbols


def _run_group(bar, specs, seeds, config, plan, fault_seeds, workers, command):
    from online_learning.backtest.runner import run_suite

    total = len(specs) * (len(seeds) + (fault_seeds if plan else 0))
    task = bar.add_task(f"{', '.join(s.name for s in specs)}", total=total)
    done: dict[str, float] = {}

    def progress(job: str, day: int, days: int) -> None:
        done[job] = day / days
        bar.update(task, completed=sum(done.values()), description=f"{job} day {day}/{days}")
        if day == days and not err_console.is_terminal:  # a log gets one line per finished job
            finished = sum(v == 1.0 for v in done.values())
            err_console.print(f"{job} done ({finished}/{total} jobs)")

    return run_suite(
        specs, seeds, config, faults=plan, fault_seeds=seeds[:fault_seeds],
        workers=workers, progress=progress, command=command,
    )  # fmt: skip


def _speeds(values: list[str] | None) -> list[float]:
    from online_learning.backtest.calibration import DEFAULT_SPEEDS

    if not values:
        return list(DEFAULT_SPEEDS)
    try:
        return [float(v) for v in _split(values)]
    except ValueError as exc:
        raise fail(f"--calibration-speeds takes numbers: {exc}") from exc


def _calibrate(config, names, seeds, speeds, noise_paths, workers, output: Path, market: dict,
               plots: bool) -> None:  # fmt: skip
    import json

    from online_learning.backtest.calibration import calibrate_drift_speed
    from online_learning.backtest.report import format_estimate

    with _progress_bar() as bar:
        task = bar.add_task("calibration", total=len(speeds) * len(names) * len(seeds))
        result = calibrate_drift_speed(
            speeds, seeds, config, environments=names, noise_paths=noise_paths, workers=workers,
            progress=lambda done, total, job: bar.update(task, completed=done,
                                                         description=f"calibration {job}"),
            **market,
        )  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    (output / "calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    if plots:
        from online_learning.backtest.report import plot_calibration

        plot_calibration(result, output / "calibration.png")
    table = Table(
        title=f"static, expected Sharpe at deployment -> {result['horizon']} days later, net of "
        f"{result['cost_bps']:g} bps ({len(seeds)} seeds x {noise_paths} twins; target loss "
        "15-25 %)"
    )
    for column in ("drift speed", *names, "mean loss"):
        table.add_column(column)
    for row in result["speeds"]:
        cells = []
        for name in names:
            env = row["environments"][name]
            loss = env["loss_pct"]
            cells.append(
                f"{env['deployment_sharpe']['mean']:.2f} -> {env['horizon_sharpe']['mean']:.2f}"
                + (f" ({format_estimate(loss, '.0f', '%')})" if loss else "")
            )
        mean = row["mean_loss_pct"]
        table.add_row(str(row["drift_speed"]), *cells, "n/a" if mean is None else f"{mean:.0f}%")
    console.print(table)
    if result["chosen"] is None:
        console.print(
            "no environment's static model has a deployment Sharpe of at least "
            f"{config.sharpe_floor}: nothing to lose, no speed chosen",
            soft_wrap=True,
        )
    else:
        console.print(
            f"closest to 20 %: drift speed {result['chosen']}"
            + (f" (20 % reached at {result['crossing']:.4f})" if result["crossing"] else ""),
            soft_wrap=True,
        )
    console.print(f"wrote {output / 'calibration.json'}", soft_wrap=True)


def _default_policies(definitions) -> tuple[str, ...]:
    """Every policy of the models' kind: an estimator's when any model is one."""
    from online_learning.backtest.config import ESTIMATOR_POLICIES, NETWORK_POLICIES

    if any(d.kind == "estimator" for d in definitions):
        return ESTIMATOR_POLICIES
    return NETWORK_POLICIES
