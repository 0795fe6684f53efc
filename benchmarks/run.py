"""Run every benchmark, print median tables, write ``results/latest.json`` and a chart.

Usage: ``python -m benchmarks.run [--quick] [--output DIR]`` (or ``python benchmarks/run.py``).
The MLflow store is a real SQLite store in a temporary ONLINE_LEARNING_HOME, created and
warmed up before anything is timed; the market is the seeded ``SyntheticMarket(seed=0)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Plan:
    updates: int
    retrains: int
    fisher_sizes: tuple[int, ...]
    fisher_repeats: int
    drift_seeds: int
    # The feedback path (issue 10): ingest ratio against bare River, drift on outcomes.
    feedback_outcomes: int = 20_000
    feedback_repeats: int = 5
    feedback_drift_seeds: int = 200
    # The stability gate (issue 9): false-rejection rate and power.
    gate_trials: int = 4000
    gate_models: int = 4
    # The challenger period's sequential test (issue 22): periods per series and effect.
    challenger_paths: int = 2000


FULL = Plan(updates=25, retrains=7, fisher_sizes=(500, 2000), fisher_repeats=9, drift_seeds=300)
QUICK = Plan(
    updates=5, retrains=3, fisher_sizes=(500, 2000), fisher_repeats=3, drift_seeds=50,
    feedback_outcomes=10_000, feedback_repeats=2, feedback_drift_seeds=40,
    gate_trials=500, gate_models=3, challenger_paths=200,
)  # fmt: skip


def _meta(quick: bool) -> dict[str, object]:
    import mlflow
    import river
    import torch

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "commit": commit,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "mlflow": mlflow.__version__,
        "river": river.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_start": os.getloadavg()[0],
    }


def run(plan: Plan, quick: bool) -> dict[str, object]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from benchmarks import breakdown, drift_calibration, fisher, gate_error, update_vs_retrain
    from benchmarks._store import TimedRegistry, temporary_home
    from online_learning.data import SyntheticMarket
    from online_learning.settings import get_settings
    from online_learning.update.window import labelled_features

    columns = (*Progress.get_default_columns()[:2], MofNCompleteColumn(), TimeElapsedColumn())
    with temporary_home(), Progress(*columns, BarColumn()) as progress:
        # MLflow reads MLFLOW_LOGGING_LEVEL when imported: only after temporary_home set it.
        from online_learning.registry import MlflowRegistry

        results: dict[str, object] = {"meta": _meta(quick), "plan": asdict(plan)}
        registry = TimedRegistry(MlflowRegistry.from_settings(get_settings()))
        market = SyntheticMarket(seed=0)
        task = progress.add_task("update vs retrain", total=1 + plan.updates + plan.retrains)
        updates, retrains = update_vs_retrain.measure(
            registry,
            market,
            updates=plan.updates,
            retrains=plan.retrains,
            advance=lambda: progress.advance(task),
        )
        results["update_vs_retrain"] = update_vs_retrain.summarize(updates, retrains)
        results["update_breakdown"] = breakdown.breakdown(updates)

        task = progress.add_task(
            "per-sample Fisher", total=len(plan.fisher_sizes) * plan.fisher_repeats
        )
        where = update_vs_retrain.scenario(market)
        results["fisher"] = fisher.measure(
            registry.load_champion(update_vs_retrain.MODEL_ID).model,
            labelled_features(market, start=where.start, end=where.as_of),
            sizes=plan.fisher_sizes,
            repeats=plan.fisher_repeats,
            advance=lambda: progress.advance(task),
        )
        task = progress.add_task(
            "Fisher of other networks", total=2 * len(plan.fisher_sizes) * plan.fisher_repeats
        )
        results["fisher_architectures"] = fisher.measure_architectures(
            sizes=plan.fisher_sizes,
            repeats=plan.fisher_repeats,
            advance=lambda: progress.advance(task),
        )

        task = progress.add_task("drift detectors", total=3)
        results["drift_calibration"] = [
            asdict(c)
            for c in drift_calibration.run(plan.drift_seeds, advance=lambda: progress.advance(task))
        ]
        from benchmarks import feedback_drift, feedback_ingest

        task = progress.add_task("feedback ingest", total=plan.feedback_repeats)
        results["feedback_ingest"] = feedback_ingest.measure(
            plan.feedback_outcomes, plan.feedback_repeats, advance=lambda: progress.advance(task)
        )
        task = progress.add_task("feedback drift", total=3)
        results["feedback_drift"] = feedback_drift.run(
            plan.feedback_drift_seeds, advance=lambda: progress.advance(task)
        )
        task = progress.add_task("gate error rates", total=1 + plan.gate_models)
        simulated = gate_error.simulated(trials=plan.gate_trials)
        progress.advance(task)
        trained = gate_error.equal_quality_rejections(
            n_models=plan.gate_models, advance=lambda: progress.advance(task)
        )
        results["gate_error"] = {"simulated": simulated, "trained_pairs": trained}
        from benchmarks import challenger_test

        periods = len(challenger_test.SERIES) * len(challenger_test.EFFECTS)
        task = progress.add_task("challenger test", total=periods * plan.challenger_paths)
        results["challenger_test"] = challenger_test.measure(
            plan.challenger_paths, advance=lambda: progress.advance(task)
        )
    results["meta"]["load_average_end"] = os.getloadavg()[0]
    return results


def print_gate(results: dict[str, object]) -> None:
    """The gate's false-rejection rate (drop 0) and power (drop 1), per validation days."""
    gate = results["gate_error"]
    print("\nStability gate: rejection rate of candidates (one-sided paired HAC test, 95 %)")
    print("days  correlation  equal quality (false rejections)  Sharpe 1 lower (power)")
    rows = {(r["days"], r["correlation"], r["sharpe_drop"]): r for r in gate["simulated"]}
    for days, rho in sorted({(d, c) for d, c, _ in rows}):
        equal, worse = rows[(days, rho, 0.0)], rows[(days, rho, 1.0)]
        print(
            f"{days:4d}  {rho:11.2f}  {equal['rejection_rate']:32.1%}  "
            f"{worse['rejection_rate']:22.1%}"
        )
    trained = gate["trained_pairs"]
    print(
        f"trained pairs: {trained['models']} models differing only by seed, "
        f"{trained['decisions']} decisions on {trained['block_days']}-day blocks: "
        f"{trained['rejection_rate']:.1%} rejected (predictions correlated "
        f"{trained['prediction_correlation']:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the online-learning benchmarks.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: these models are too small to gain from more; "
        "with 2 on a 2-core machine that other processes kept busy, vmap Fisher and training "
        "ran 30-50x slower, so timings measured the load rather than the code)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")

    import torch

    torch.set_num_threads(args.threads)

    from benchmarks.report import chart, print_tables

    began = time.perf_counter()
    results = run(QUICK if args.quick else FULL, args.quick)
    results["meta"]["wall_s"] = time.perf_counter() - began
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results["update_breakdown"], args.output / "update_breakdown.png")
    print_tables(results)
    from benchmarks import feedback_drift, feedback_ingest, fisher

    fisher.print_architectures(results["fisher_architectures"])

    feedback_ingest.print_summary(results["feedback_ingest"])
    feedback_drift.print_summary(results["feedback_drift"])
    print_gate(results)
    from benchmarks import challenger_test

    challenger_test.print_summary(results["challenger_test"])
    print(f"wrote {args.output / 'latest.json'} and {args.output / 'update_breakdown.png'}")
    return 0


if __name__ == "__main__":
    if not __package__:  # `python benchmarks/run.py`: make the repository importable
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
