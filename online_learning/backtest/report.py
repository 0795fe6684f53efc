"""Writing a backtest's outputs: ``results.json``, ``summary.md``, ``timeline.csv`` and plots.

The schema of ``results.json`` is documented in ``docs/backtest.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from online_learning.backtest.config import POLICIES
from online_learning.backtest.harness import RunResult

__all__ = [
    "SCHEMA_VERSION",
    "SUCCESS_COLUMNS",
    "format_degradation",
    "format_estimate",
    "markdown_summary",
    "plot_calibration",
    "success_row",
    "write_outputs",
    "write_plots",
]

SCHEMA_VERSION = 1
_COLOURS = {
    "static": "#7f7f7f",
    "finetune": "#d62728",
    "ewc": "#1f77b4",
    "ewc_challenger": "#17becf",
    "ewc_drift": "#2ca02c",
    "retrain": "#9467bd",
    "warm_start": "#ff7f0e",
}


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_estimate(estimate: Mapping[str, Any] | None, spec: str = ".2f", unit: str = "") -> str:
    """``mean [low, high]`` of an estimate dict, or ``n/a``.

    Examples
    --------
    >>> format_estimate({"mean": 1.234, "low": 0.5, "high": 2.0, "n": 20})
    '1.23 [0.50, 2.00]'
    """
    if not estimate or estimate.get("mean") is None:
        return "n/a"
    text = f"{estimate['mean']:{spec}}{unit}"
    if estimate.get("low") is not None:
        text += f" [{estimate['low']:{spec}}, {estimate['high']:{spec}}]"
    return text


def format_degradation(entry: Mapping[str, Any] | None) -> str:
    """Relative degradation when its reference allows it, else the Sharpe difference."""
    if not entry:
        return "n/a"
    if entry.get("relative_pct"):
        return format_estimate(entry["relative_pct"], ".0f", "%")
    return "ΔS " + format_estimate(entry["sharpe_difference"])


#: The columns of the success-metrics table (``summary.md`` and the CLI), in order.
SUCCESS_COLUMNS: tuple[str, ...] = (
    "policy", "model age (days)", "change → detection", "detection → promotion",
    "change → promotion", "days to recover", "hit rate online / batch",
    "log-loss online / batch", "ML added P&L % (days)",
)  # fmt: skip


def _episodes(block: Mapping[str, Any], key: str, count: str) -> str:
    """An episode delay with how many of the episodes it was measured on."""
    if block.get("changes") != "known":
        return "unknown"
    if "detection" in key and block.get("detection") == "not_applicable":
        return "no detector"
    measured = f"({block[count]}/{block['episodes']})"
    return (
        f"{format_estimate(block[key], '.1f')} {measured}" if block[count] else f"none {measured}"
    )


def success_row(policy: str, success: Mapping[str, Any] | None) -> list[str]:
    """The cells of one policy's row of the success table (:data:`SUCCESS_COLUMNS`).

    Examples
    --------
    >>> unknown = {"changes": "unknown"}
    >>> row = success_row("static", {"freshness": {"mean_age_days": {"mean": 42.0}},
    ...     "adaptation": unknown, "learning_efficiency": unknown, "online_vs_batch": None,
    ...     "business_impact": {"ml_added_days": {"pnl": 0.0123, "low": -0.01, "high": 0.03}}})
    >>> row[:3], row[6], row[8]
    (['static', '42.0', 'unknown'], 'batch', '+1.23 [-1.00, +3.00]')
    """
    if not success:
        return [policy] + ["n/a"] * (len(SUCCESS_COLUMNS) - 1)
    adaptation, efficiency = success["adaptation"], success["learning_efficiency"]
    scores = success.get("online_vs_batch")
    views = []
    for name, spec in (("hit_rate", ".2f"), ("log_loss", ".3f")):
        if scores is None:
            views.append("batch" if policy == "static" else "n/a")
            continue
        online, batch = (scores[name][k]["mean"] for k in ("online", "batch"))
        views.append(f"{online:{spec}} / {batch:{spec}}")
    impact = (success.get("business_impact") or {}).get("ml_added_days") or {}
    added = "n/a"
    if impact.get("pnl") is not None:
        added = f"{100 * impact['pnl']:+.2f}"
        if impact.get("low") is not None:
            added += f" [{100 * impact['low']:+.2f}, {100 * impact['high']:+.2f}]"
    return [
        policy,
        format_estimate(success["freshness"]["mean_age_days"], ".1f"),
        _episodes(adaptation, "change_to_detection_days", "detected"),
        _episodes(adaptation, "detection_to_promotion_days", "detected"),
        _episodes(adaptation, "change_to_promotion_days", "promoted"),
        _episodes(efficiency, "days_to_recover", "recovered"),
        *views,
        added,
    ]


def markdown_summary(results: Mapping[str, Any]) -> str:
    """The summary tables of a ``results.json`` document, as markdown."""
    lines = ["# Backtest summary", ""]
    if results.get("command"):
        lines += ["```", results["command"], "```", ""]
    lines += [
        "Means over seeds with 95 % t-intervals; 'over days' is the Sharpe of the seed-mean "
        "book with a stationary block bootstrap interval over days (the honest interval of "
        "one price path), and 'ΔS vs static' its difference to static's on the same resampled "
        "blocks of days (paired). Returns at the execution timing, net of costs. Degradation: "
        "positive is worse; a percentage of the reference Sharpe, or the Sharpe difference "
        "ΔS where the reference is below the floor. Definitions: `docs/backtest.md`.",
        "",
    ]
    for name, env in results["environments"].items():
        horizons = sorted({h for p in env["policies"].values() for h in p["degradation"]}, key=int)
        lines += [
            f"## {name}",
            "",
            f"{env['description']}; {len(env['seeds'])} seed(s), {env['evaluation_days']} "
            f"evaluation days from {env['start']}; Sharpe at deployment "
            f"{format_estimate(env['deployment_sharpe'])}.",
            "",
        ]
        header = ["policy", "Sharpe (horizon)", "over days", "ΔS vs static over days"]
        for h in horizons:
            header += [f"degr. {h}d vs deploy", f"degr. {h}d vs retrain"]
        header += ["forgetting", "B last 21d Sharpe", "rollback rate", "turnover/day",
                   "update s", "retrain s"]  # fmt: skip
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for policy in [p for p in POLICIES if p in env["policies"]]:
            entry = env["policies"][policy]
            row = [
                policy,
                format_estimate(entry["sharpe_horizon"]),
                format_estimate(entry.get("sharpe_days")),
                format_estimate(entry.get("sharpe_vs_static_days"), "+.2f"),
            ]
            for h in horizons:
                degradation = entry["degradation"].get(h, {})
                row += [
                    format_degradation(degradation.get("vs_deployment")),
                    format_degradation(degradation.get("vs_retrain")),
                ]
            forgetting = entry.get("forgetting") or {}
            row += [
                format_estimate(forgetting.get("forgetting_pct"), ".0f", "%"),
                format_estimate(entry.get("sharpe_phase_b_last_21")),
                format_estimate(entry["rollback_rate"], ".2f"),
                format_estimate(entry.get("turnover"), ".3f"),
                format_estimate(entry["update_seconds"], ".2f"),
                format_estimate(entry["retrain_seconds"], ".2f"),
            ]
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", *_success_table(env), ""]
    faults = results.get("fault_injection")
    if faults:
        lines += [
            "## Fault injection",
            "",
            f"{faults['poisoned_updates']} poisoned updates over "
            f"{', '.join(faults['environments'])} ({len(faults['seeds'])} seed(s)); "
            f"**{faults['reached_champion']} reached champion**.",
            "",
            "| policy | fault | poisoned | reached champion | reasons |",
            "|---|---|---|---|---|",
        ]
        for policy, kinds in faults["by_policy"].items():
            for kind, cell in kinds.items():
                reasons = ", ".join(f"{k} {v}" for k, v in cell["reasons"].items())
                lines.append(
                    f"| {policy} | {kind} | {cell['poisoned']} | {cell['reached_champion']} | "
                    f"{reasons} |"
                )
        lines.append("")
    return "\n".join(lines)


def _success_table(env: Mapping[str, Any]) -> list[str]:
    policies = [p for p in POLICIES if p in env["policies"]]
    if not any(env["policies"][p].get("success") for p in policies):
        return []
    lines = [
        "Success metrics: model age in trading days since its champion's last training day; "
        "delays in trading days after a known regime change, with the episodes they were "
        "measured on (serving: one session by construction); online is the policy's served "
        "p_up, batch static's, on the same rows; ML added: the momentum rule blended with the "
        "policy's p_up as the client SDK does, minus the rule alone, net of costs, summed over "
        "days, with a block bootstrap interval over days.",
        "",
        "| " + " | ".join(SUCCESS_COLUMNS) + " |",
        "|" + "---|" * len(SUCCESS_COLUMNS),
    ]
    for policy in policies:
        row = success_row(policy, env["policies"][policy].get("success"))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def write_outputs(
    folder: str | Path,
    results: Mapping[str, Any],
    timelines: pd.DataFrame,
    runs: Sequence[RunResult],
    *,
    plots: bool = True,
) -> list[Path]:
    """Write ``results.json``, ``summary.md``, ``timeline.csv`` and the plots into ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "summary.md", out / "timeline.csv"]
    written[0].write_text(json.dumps(_json_safe(results), indent=2) + "\n")
    written[1].write_text(markdown_summary(results))
    timelines.to_csv(written[2], index=False, float_format="%.4g")
    if plots:
        written += write_plots(out, timelines, runs)
    return written


def write_plots(folder: Path, timelines: pd.DataFrame, runs: Sequence[RunResult]) -> list[Path]:
    """Rolling Sharpe, degradation over time, and rollbacks/drift detections on the timeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    environments = list(dict.fromkeys(timelines["environment"]))
    paths = []
    for metric, title, filename in (
        ("rolling_sharpe", "rolling Sharpe (mean over seeds)", "rolling_sharpe.png"),
        ("degradation_vs_deployment_pct", "degradation vs deployment, %", "degradation.png"),
        ("degradation_vs_retrain", "Sharpe below retrain (ΔS)", "degradation_vs_retrain.png"),
    ):
        frame = timelines[timelines["metric"] == metric]
        if frame.empty:
            continue
        fig, axes = _grid(plt, len(environments))
        for ax, env in zip(axes, environments, strict=False):
            _shade_phase_b(ax, runs, env)
            for policy, rows in frame[frame["environment"] == env].groupby("policy", sort=False):
                colour = _COLOURS.get(policy)
                ax.plot(rows["day"], rows["mean"], label=policy, color=colour, lw=1.2)
                if metric != "rolling_sharpe":
                    ax.fill_between(rows["day"], rows["low"], rows["high"], color=colour,
                                    alpha=0.12, lw=0)  # fmt: skip
            ax.axhline(0.0, color="black", lw=0.5)
            ax.set_title(f"{env}: {title}", fontsize=9)
            ax.set_xlabel("evaluation day", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0].legend(fontsize=7)
        paths.append(_save(fig, folder / filename))
    paths.append(_events_plot(plt, folder / "events.png", runs, environments))
    return paths


def plot_calibration(result: Mapping[str, Any], path: Path) -> Path:
    """Per environment: the static model's expected Sharpe at deployment and at the horizon
    against the drift speed, net of costs (solid) and gross (faint), with 95 % intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["speeds"]
    names = list(rows[0]["environments"])
    fig, axes = _grid(plt, len(names))
    speeds = [r["drift_speed"] for r in rows]
    for ax, name in zip(axes, names, strict=False):
        for key, label, color in (("deployment_sharpe", "at deployment", "#1f77b4"),
                                  ("horizon_sharpe", f"{result['horizon']} days later",
                                   "#d62728")):  # fmt: skip
            for block, alpha, style in ((lambda e: e, 1.0, "-"), (lambda e: e["gross"], 0.35, ":")):
                est = [block(r["environments"][name])[key] for r in rows]
                mean = np.array([e["mean"] for e in est], dtype=float)
                low = np.array([e["low"] if e["low"] is not None else np.nan for e in est])
                high = np.array([e["high"] if e["high"] is not None else np.nan for e in est])
                ax.plot(speeds, mean, style, color=color, alpha=alpha, marker="o", ms=3,
                        label=label if style == "-" else None)  # fmt: skip
                if style == "-":
                    ax.fill_between(speeds, low, high, color=color, alpha=0.12, lw=0)
        ax.axhline(0.0, color="black", lw=0.6)
        ax.set_title(f"{name}: static, expected Sharpe (net solid, gross dotted)", fontsize=9)
        ax.set_xlabel("drift speed", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    return _save(fig, path)


def _grid(plt, n: int):
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.0 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat


def _shade_phase_b(ax, runs: Sequence[RunResult], env: str) -> None:
    run = next((r for r in runs if r.environment == env), None)
    if run is not None and run.phase_b_start is not None:
        ax.axvspan(run.phase_b_start + 1, len(run.days), color="#ffd27f", alpha=0.25, lw=0)


def _events_plot(plt, path: Path, runs: Sequence[RunResult], environments: list[str]) -> Path:
    """Per environment and policy: rollbacks (x) and drift detections (triangles) per day,
    marker area proportional to the count over seeds."""
    fig, axes = _grid(plt, len(environments))
    for ax, env in zip(axes, environments, strict=False):
        mine = [r for r in runs if r.environment == env]
        policies = [p for p in POLICIES if p in mine[0].returns]
        _shade_phase_b(ax, runs, env)
        for y, policy in enumerate(policies):
            rolled = pd.Series(
                [u.day + 1 for r in mine for u in r.updates
                 if u.policy == policy and u.decision == "rolled_back" and u.fault is None]
            ).value_counts()  # fmt: skip
            drifts = pd.Series(
                [d.day + 1 for r in mine for d in r.drifts if d.policy == policy]
            ).value_counts()
            if len(rolled):
                ax.scatter(rolled.index, np.full(len(rolled), y), s=6 * rolled.to_numpy(),
                           marker="x", color="#d62728", lw=0.8)  # fmt: skip
            if len(drifts):
                ax.scatter(drifts.index, np.full(len(drifts), y + 0.3), s=10 * drifts.to_numpy(),
                           marker="^", color="#2ca02c")  # fmt: skip
        ax.set_yticks(range(len(policies)), policies, fontsize=7)
        ax.set_ylim(-0.6, len(policies) - 0.2)
        ax.set_title(f"{env}: rollbacks (x) and drift detections (^), all seeds", fontsize=9)
        ax.set_xlabel("evaluation day", fontsize=8)
        ax.tick_params(labelsize=7)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
