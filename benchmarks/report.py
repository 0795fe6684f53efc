"""Tables (rich) and the breakdown chart (matplotlib, Agg) of a benchmark run."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_tables(results: dict, console: Console | None = None) -> None:
    console = console or Console(width=max(Console().width, 110))
    meta = results["meta"]
    console.print(
        f"[bold]Benchmarks[/] ({'quick' if meta['quick'] else 'full'}; medians; "
        f"{meta['cpus']} CPUs, torch {meta['torch']} with {meta['torch_threads']} threads, "
        f"load average {meta['load_average_start']:.1f} -> {meta['load_average_end']:.1f})"
    )

    uvr = results["update_vs_retrain"]
    table = Table(title=f"1. Incremental update vs full retrain ({uvr['model_id']}, same end day)")
    for column in ("run", "repeats", "training rows", "median", "without registry", "registry"):
        table.add_column(column, justify="left" if column == "run" else "right")
    update, retrain = uvr["update"], uvr["retrain"]
    decisions = ", ".join(f"{n} {d}" for d, n in update["decisions"].items() if n)
    table.caption = f"updates: {decisions}; registry = MLflow SQLite store in a temp folder"
    table.add_row(
        "update (60 days, 10 epochs)",
        str(update["repeats"]),
        f"{update['n_train']:.0f}",
        _s(update["median_s"]),
        _s(update["median_without_registry_s"]),
        _s(update["median_registry_s"]),
    )
    table.add_row(
        f"retrain ({retrain['history_years']} years, {retrain['epochs']} epochs; baseline)",
        str(retrain["repeats"]),
        f"{retrain['n_train']:.0f}",
        _s(retrain["median_s"]),
        _s(retrain["median_without_registry_s"]),
        _s(retrain["median_registry_s"]),
    )
    table.add_row(
        "[bold]retrain / update[/]",
        "",
        "",
        f"[bold]{uvr['ratio_retrain_over_update']:.1f}x[/]",
        f"[bold]{uvr['ratio_without_registry']:.1f}x[/]",
        "",
    )
    console.print(table)

    table = Table(title="2. Per-sample Fisher: torch.func vmap vs a backward per sample")
    for column in ("rows", "repeats", "vmap", "loop (baseline)", "loop / vmap", "max |diff|"):
        table.add_column(column, justify="right")
    for row in results["fisher"]:
        table.add_row(
            str(row["rows"]),
            str(row["repeats"]),
            _s(row["vmap_median_s"]),
            _s(row["loop_median_s"]),
            f"[bold]{row['ratio_loop_over_vmap']:.1f}x[/]",
            f"{row['max_abs_diff']:.1e} (of {row['max_abs_value']:.1e})",
        )
    console.print(table)

    parts = results["update_breakdown"]
    table = Table(
        title="3. One update's wall time, per step",
        caption=f"{parts['repeats']} updates, median total {_s(parts['median_total_s'])}; "
        f"slowest step: {parts['slowest']}",
    )
    for column in ("step", "median", "share of wall time"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step, values in parts["steps"].items():
        table.add_row(step, _s(values["median_s"]), f"{values['share']:.0%}")
    for call, seconds in parts["registry_calls_median_s"].items():
        table.add_row(f"  registry.{call}", _s(seconds), "", style="dim")
    console.print(table)

    table = Table(title="4. Drift detectors on seeded streams (not a timing)")
    for column in (
        "detector",
        "scenario",
        "seeds",
        "fired before",
        "detected",
        "delay median",
        "delay p90",
        "false alarms / 1000 days",
    ):
        table.add_column(column, justify="left" if column in ("detector", "scenario") else "right")
    for row in results["drift_calibration"]:
        table.add_row(
            row["detector"],
            row["scenario"],
            str(row["seeds"]),
            f"{row['fired_before_change']:.1%}",
            f"{row['detected']:.1%}",
            f"{row['delay_median']:.0f}",
            f"{row['delay_p90']:.0f}",
            f"{row['false_alarms_per_1000']:.2f}",
        )
    console.print(table)


def chart(parts: dict, path: Path) -> None:
    """Horizontal bars of the median seconds per step, labelled with the share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(parts["steps"])
    seconds = [parts["steps"][s]["median_s"] for s in steps]
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    bars = ax.barh(
        steps, seconds, color=["#c44e52" if s == parts["slowest"] else "#4c72b0" for s in steps]
    )
    ax.bar_label(bars, labels=[f"{parts['steps'][s]['share']:.0%}" for s in steps], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("median seconds per update")
    ax.set_title(
        f"One incremental update: median {parts['median_total_s']:.2f} s "
        f"over {parts['repeats']} runs"
    )
    ax.margins(x=0.15)
    fig.savefig(path, dpi=120)
    plt.close(fig)
