"""Soak: the serving API under a steady mixed load for minutes: does memory or latency drift?

The platform (``serving.app:create_app`` under uvicorn with uvloop and httptools, the three
specialists and an online session, feedback learned in-process: ``serve`` alone) is loaded for
``--minutes`` with, at once:

* single predictions at ``--rate`` per second (``--connections`` concurrent clients);
* ``--subscribers`` WebSocket clients on the symbol's stream, reading every frame;
* trade outcomes posted at ``--outcomes`` per second (learned and recorded before the answer).

The subscribers run in a process of their own, so that reading their frames (one per
prediction and subscriber: thousands a second) does not slow the client that times the
predictions. Every minute it records the server's resident memory (``VmRSS``), its CPU time
per prediction and the prediction latency percentiles (client side) of that minute, and
reports:

* **RSS growth**: from the end of the first minute (warm) to the end, in % and MB, and the
  least-squares slope in MB per minute;
* **p99 drift**: the least-squares slope of the per-minute p99 in ms per minute, and the last
  minute's p99 over the first's; beside it the slope of the server's CPU per prediction (a
  drift of the server shows there too; one of a busy machine does not).

Any error answer or dropped subscriber fails the run. Run: ``python -m benchmarks.soak
--minutes 10``; results in ``benchmarks/results/soak.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against their index (per step)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return num / sum((i - mean_x) ** 2 for i in range(n))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def subscribe(url: str, key: str, symbol: str, count: int, seconds: float) -> dict:
    """``count`` WebSocket subscribers reading every frame for ``seconds`` (a child process)."""
    import websockets

    headers = {"Authorization": f"Bearer {key}"}
    frames = [0] * count
    errors: list[str] = []
    stop = asyncio.Event()

    async def one(i: int) -> None:
        stream = f"{url.replace('http', 'ws', 1)}/api/v1/streaming/{symbol}"
        try:
            async with websockets.connect(stream, additional_headers=headers) as socket:
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(socket.recv(), 1.0)
                        frames[i] += 1
                    except TimeoutError:
                        continue
        except Exception as exc:  # a dropped subscriber is a failure of the soak
            if not stop.is_set():
                errors.append(f"subscriber {i}: {type(exc).__name__}: {exc}")

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"frames": sum(frames), "errors": errors}


async def load(
    url: str,
    key: str,
    *,
    minutes: float,
    rate: float,
    connections: int,
    subscribers: int,
    outcomes_per_s: float,
    pid: int,
    body: dict,
) -> list[dict]:
    import httpx

    from tests.utils.trade_outcomes import outcome_stream

    symbol = body["symbol"]
    headers = {"Authorization": f"Bearer {key}"}
    stop = asyncio.Event()
    latencies: list[float] = []
    errors: list[str] = []
    readers = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.soak", "--subscribe", url, key, symbol,
         str(subscribers), str(60 * int(minutes) + 10)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip

    async def predictor(client: httpx.AsyncClient, interval: float) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            started = time.monotonic()
            response = await client.post("/api/v1/predictions", json=body)
            latencies.append((time.monotonic() - started) * 1000)
            if response.status_code != 200:
                errors.append(f"prediction {response.status_code}: {response.text[:200]}")
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def poster(client: httpx.AsyncClient) -> None:
        index, next_at = 0, time.monotonic()
        while not stop.is_set():
            [item] = outcome_stream(1, symbol=symbol, seed=9, first_index=index)
            index += 1
            response = await client.post("/api/v1/feedback/outcomes", json=item)
            if response.status_code != 200 or response.json()["results"][0]["status"] != "accepted":
                errors.append(f"outcome {response.status_code}: {response.text[:200]}")
            next_at += 1 / outcomes_per_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    minutes_out: list[dict] = []
    limits = httpx.Limits(max_connections=connections + 2)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30
    ) as client:
        await asyncio.sleep(5)  # the subscribers connected
        tasks = [
            asyncio.create_task(predictor(client, connections / rate)) for _ in range(connections)
        ]
        tasks.append(asyncio.create_task(poster(client)))
        cpu_before = cpu_s(pid)
        for minute in range(int(minutes)):
            await asyncio.sleep(60)
            window, latencies[:] = list(latencies), []
            cpu_now = cpu_s(pid)
            cpu_ms, cpu_before = (cpu_now - cpu_before) * 1000, cpu_now
            minutes_out.append(
                {
                    "minute": minute + 1,
                    "rss_mb": round(rss_mb(pid), 1),
                    "predictions": len(window),
                    "p50_ms": round(percentile(window, 0.50), 2),
                    "p99_ms": round(percentile(window, 0.99), 2),
                    "server_cpu_ms_per_prediction": round(cpu_ms / max(len(window), 1), 3),
                    "errors": len(errors),
                }
            )
            print(json.dumps(minutes_out[-1]), flush=True)
            if errors:
                break
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    out, _ = readers.communicate(timeout=120)  # it stops on its own, just after the load
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"errors": []}
    if report["errors"]:
        errors += report["errors"]
    if errors:
        raise RuntimeError(f"{len(errors)} errors, first: {errors[:3]}")
    minutes_out[-1]["frames_total"] = report.get("frames")
    return minutes_out


def measure(
    *, minutes: float, rate: float, connections: int, subscribers: int, outcomes_per_s: float
) -> dict:
    import httpx

    from benchmarks.serving_api import (
        API_KEY,
        ROOT,
        bodies,
        prepare_platform,
        warm_platform,
    )
    from online_learning.processes import free_port, stop_process_group

    single, _ = bodies()
    with tempfile.TemporaryDirectory(prefix="ol-bench-soak-") as tmp:
        env = prepare_platform(Path(tmp) / "home")
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "serving.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        merged = {k: v for k, v in {**os.environ, **env}.items() if v != ""}
        with open(Path(tmp) / "server.log", "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=merged,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{url}/api/v1/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the API did not become ready")
                time.sleep(0.5)
            warm_platform(url, single["features"])
            started_rss = rss_mb(process.pid)
            per_minute = asyncio.run(
                load(
                    url,
                    API_KEY,
                    minutes=minutes,
                    rate=rate,
                    connections=connections,
                    subscribers=subscribers,
                    outcomes_per_s=outcomes_per_s,
                    pid=process.pid,
                    body=single,
                )
            )
        finally:
            stop_process_group(process, timeout_s=20)
    warm = per_minute[0]["rss_mb"]
    last = per_minute[-1]["rss_mb"]
    p99 = [m["p99_ms"] for m in per_minute]
    return {
        "minutes": len(per_minute),
        "rate_per_s": rate,
        "achieved_predictions_per_s": round(
            sum(m["predictions"] for m in per_minute) / (60 * len(per_minute)), 1
        ),
        "subscribers": subscribers,
        "outcomes_per_s": outcomes_per_s,
        "rss_at_start_mb": round(started_rss, 1),
        "rss_growth_after_first_minute_pct": round(100 * (last - warm) / warm, 2),
        "rss_growth_after_first_minute_mb": round(last - warm, 1),
        "rss_slope_mb_per_min": round(slope([m["rss_mb"] for m in per_minute[1:]]), 3),
        "p99_slope_ms_per_min": round(slope(p99), 3),
        "p99_last_over_first": round(p99[-1] / p99[0], 2) if p99[0] else None,
        "cpu_per_prediction_slope_ms_per_min": round(
            slope([m["server_cpu_ms_per_prediction"] for m in per_minute]), 4
        ),
        "per_minute": per_minute,
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--subscribe"]:  # the subscribers' process
        url, key, symbol, count, seconds = argv[1:]
        report = asyncio.run(subscribe(url, key, symbol, int(count), float(seconds)))
        print(json.dumps(report), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=150.0, help="Predictions per second.")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--outcomes", type=float, default=20.0, help="Outcomes per second.")
    args = parser.parse_args(argv)
    result = measure(
        minutes=args.minutes,
        rate=args.rate,
        connections=args.connections,
        subscribers=args.subscribers,
        outcomes_per_s=args.outcomes,
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2))
    summary = {k: v for k, v in result.items() if k != "per_minute"}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
