"""The serving benchmarks of issue 11: the HTTP API against bare FastAPI, and the WebSocket fan-out.

Usage: ``python -m benchmarks.serving [--quick] [--only api|fanout|replicas] [--output DIR]``.
The replica scaling (:mod:`benchmarks.serving_replicas`) is its third part. Writes
``serving.json`` and ``serving.md`` (the tables) to ``benchmarks/results/`` and prints the
tables. Each part measures its own baseline in the same run (see
:mod:`benchmarks.serving_api` and :mod:`benchmarks.streaming_fanout`); they run one after the
other, never at once, since both need the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _meta(quick: bool) -> dict[str, Any]:
    from benchmarks.run import _meta as common  # commit, versions, CPUs, load average

    meta = common(quick)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    meta["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0] if wrk.returncode in (0, 1) else None
    return meta


def run(quick: bool, only: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {"meta": _meta(quick)}
    if only in (None, "api"):
        from benchmarks import serving_api

        results["api"] = serving_api.measure(serving_api.QUICK if quick else serving_api.Plan())
    if only in (None, "fanout"):
        from benchmarks import streaming_fanout

        results["fanout"] = streaming_fanout.measure(quick=quick)
    if only in (None, "replicas"):
        from benchmarks import serving_replicas

        plan = serving_replicas.QUICK if quick else serving_replicas.Plan()
        results["replicas"] = serving_replicas.measure(plan)
    results["meta"]["load_average_end"] = os.getloadavg()[0]
    return results


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    parts = [
        f"Serving benchmarks ({'quick' if meta['quick'] else 'full'}; medians; {meta['cpus']} "
        f"CPUs; load average {meta['load_average_start']:.1f} -> "
        f"{meta['load_average_end']:.1f}; commit {meta['commit']})",
    ]
    if "api" in results:
        from benchmarks import serving_api

        api = results["api"]
        plan = api["plan"]
        parts += [
            "",
            f"POST /api/v1/predictions vs a bare FastAPI endpoint (uvicorn, uvloop + httptools, "
            f"1 worker; {api['pinned']}; wrk {plan['threads']} threads, {plan['duration_s']} s x "
            f"{plan['repeats']}); aim: ratio >= {api['target_ratio']}",
            "",
            serving_api.markdown(api),
        ]
    if "fanout" in results:
        from benchmarks import streaming_fanout

        parts += ["", streaming_fanout.markdown(results["fanout"])]
    if "replicas" in results:
        from benchmarks import serving_replicas

        replicas = results["replicas"]
        plan = replicas["plan"]
        parts += [
            "",
            f"Replicas behind HAProxy, two against one ({replicas['placement']}; wrk "
            f"{plan['threads']} threads, {plan['duration_s']} s x {plan['repeats']}); aim: "
            f"platform scaling >= {replicas['target_scaling']}",
            "",
            serving_replicas.markdown(replicas),
        ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one repeat")
    parser.add_argument("--only", choices=["api", "fanout", "replicas"], default=None)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    results = run(args.quick, args.only)
    results["meta"]["wall_s"] = round(time.perf_counter() - began, 1)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "serving.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.output / "serving.md").write_text(text + "\n")
    print(text)
    print(f"wrote {args.output / 'serving.json'} and {args.output / 'serving.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
