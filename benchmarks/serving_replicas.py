"""Throughput of API replicas behind a load balancer: two against one, each against bare FastAPI
with as many workers, in the same run.

The load balancer is HAProxy (Debian's), round robin over HTTP/1.1 keep-alive connections to
each backend; ``wrk`` loads it with single ``POST /api/v1/predictions`` requests (the full
ensemble: three specialists and an online session, as :mod:`benchmarks.serving_api` sets up).
Measured, interleaved in every repeat so that the load of the shared machine hits all alike:

* ``bare x1`` and ``bare x2``: the bare FastAPI endpoint of :mod:`benchmarks.serving_api`
  (the framework's floor) in one and in two uvicorn processes behind the same HAProxy;
* ``platform x1`` and ``platform x2``: ``serving.app:create_app`` in one and in two
  processes (replicas: each its own process, models and micro-batcher), behind HAProxy.

Reported per load: requests/s (median over repeats), p50 and p99 latency, the **scaling** of
two replicas over one (``x2 / x1``, platform and bare) and each platform figure against the
bare one with as many workers. The aim (issue 20) is a platform scaling of at least 1.6x on
two cores. On this two-core machine the load generator and HAProxy share the cores with the
replicas, so the bare scaling, measured in the same run, is the ceiling of what two replicas
can show here.

Run: ``python -m benchmarks.serving_replicas [--quick] [--duration S] [--repeats R]
[--output FILE]`` (``make bench`` runs it with the other serving benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.serving_api import (
    API_KEY,
    BARE_TARGET,
    ROOT,
    bodies,
    prepare_platform,
    uvicorn_server,
    warm_platform,
    warm_platform_session,
    wrk,
)
from online_learning.processes import free_port


@dataclass(frozen=True)
class Plan:
    duration_s: int = 10
    warmup_s: int = 2
    repeats: int = 3
    connections: tuple[int, ...] = (16, 64)
    threads: int = 2


QUICK = Plan(duration_s=4, warmup_s=1, repeats=1, connections=(64,))
TARGET_SCALING = 1.6

_HAPROXY = """
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend api
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    http-reuse always
{servers}
"""


@contextmanager
def haproxy(backends: list[str], folder: Path) -> Iterator[str]:
    """HAProxy on a free loopback port, round robin over ``backends`` (``http://host:port``)."""
    if shutil.which("haproxy") is None:
        raise RuntimeError("haproxy is missing: `make test-tools` installs Debian's haproxy")
    port = free_port()
    servers = "\n".join(
        f"    server r{i} {url.removeprefix('http://')}" for i, url in enumerate(backends)
    )
    config = folder / f"haproxy-{port}.cfg"
    config.write_text(_HAPROXY.format(port=port, servers=servers))
    process = subprocess.Popen(
        ["haproxy", "-db", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(folder / f"haproxy-{port}.log").open("ab"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start; see {folder}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(plan: Plan = Plan(), *, folder: Path | None = None) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: `make test-tools` installs Debian's wrk")
    single, _ = bodies()
    cpus = os.cpu_count() or 1
    runs: dict[str, list[dict[str, float]]] = {}
    setup: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ol-bench-replicas-") as tmp:
        work = Path(folder or tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = prepare_platform(work / "home")
        for _ in range(plan.repeats):
            for server in ("bare", "platform"):
                for replicas in (1, 2):
                    name = f"{server} x{replicas}"
                    if server == "bare":
                        target, server_env, key = BARE_TARGET, {"PYTHONPATH": str(ROOT)}, None
                    else:
                        target, server_env, key = "serving.app:create_app", env, API_KEY
                    with ExitStack() as stack:
                        # Replica i on core i: one replica has one core, two have both.
                        urls = []
                        for i in range(replicas):
                            log = work / f"{server}-{i}.log"
                            started = uvicorn_server(target, server_env, cpu=i % cpus, log=log)
                            urls.append(stack.enter_context(started))
                        for url in urls if server == "platform" else ():
                            if not setup:
                                setup = warm_platform(url, single["features"])
                            else:
                                warm_platform_session(url)
                        balanced = stack.enter_context(haproxy(urls, work))
                        for connections in plan.connections:
                            common = dict(
                                key=key, folder=work, cpu=None, threads=plan.threads,
                                connections=connections,
                            )  # fmt: skip
                            wrk(balanced, single, duration_s=plan.warmup_s, **common)
                            result = wrk(balanced, single, duration_s=plan.duration_s, **common)
                            runs.setdefault(f"{name}/c{connections}", []).append(result)
    return summarize(runs, plan)


def summarize(runs: dict[str, list[dict[str, float]]], plan: Plan) -> dict[str, Any]:
    def median(key: str, field: str = "requests_per_s") -> float:
        return statistics.median(r[field] for r in runs[key])

    def ratios(top: str, bottom: str) -> list[float]:
        return [
            a["requests_per_s"] / b["requests_per_s"]
            for a, b in zip(runs[top], runs[bottom], strict=True)
        ]

    rows = []
    for connections in plan.connections:
        load = f"c{connections}"
        row: dict[str, Any] = {"load": f"single, {connections} connections"}
        for server in ("bare", "platform"):
            for replicas in (1, 2):
                key = f"{server} x{replicas}/{load}"
                row[f"{server}_x{replicas}_rps"] = round(median(key), 1)
                row[f"{server}_x{replicas}_p50_ms"] = round(median(key, "p50_ms"), 2)
                row[f"{server}_x{replicas}_p99_ms"] = round(median(key, "p99_ms"), 2)
        for server in ("bare", "platform"):
            scaling = ratios(f"{server} x2/{load}", f"{server} x1/{load}")
            row[f"{server}_scaling"] = round(statistics.median(scaling), 3)
            row[f"{server}_scaling_runs"] = [round(r, 3) for r in scaling]
        for replicas in (1, 2):
            against = ratios(f"platform x{replicas}/{load}", f"bare x{replicas}/{load}")
            row[f"platform_vs_bare_x{replicas}"] = round(statistics.median(against), 3)
        rows.append(row)
    return {
        "plan": asdict(plan),
        "cpus": os.cpu_count(),
        "placement": "replica i pinned to cpu i; wrk and HAProxy not pinned",
        "target_scaling": TARGET_SCALING,
        "rows": rows,
        "load_average": round(os.getloadavg()[0], 2),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| load | bare x1 / x2 req/s | platform x1 / x2 req/s | scaling bare | "
        "scaling platform | platform/bare x1, x2 | p99 platform x1 / x2 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['load']} | {r['bare_x1_rps']:,.0f} / {r['bare_x2_rps']:,.0f} "
            f"| {r['platform_x1_rps']:,.0f} / {r['platform_x2_rps']:,.0f} "
            f"| {r['bare_scaling']:.2f}x | **{r['platform_scaling']:.2f}x** "
            f"| {r['platform_vs_bare_x1']:.2f}, {r['platform_vs_bare_x2']:.2f} "
            f"| {r['platform_x1_p99_ms']:.1f} / {r['platform_x2_p99_ms']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s runs, one repeat, c64 only")
    parser.add_argument("--duration", type=int, default=None, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--output", type=Path, default=None, help="write the JSON here")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    plan = replace(
        plan, duration_s=args.duration or plan.duration_s, repeats=args.repeats or plan.repeats
    )
    result = measure(plan)
    print(markdown(result))
    text = json.dumps(result, indent=2)
    if args.output:
        args.output.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
