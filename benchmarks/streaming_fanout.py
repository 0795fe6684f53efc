"""WebSocket fan-out on one worker: delivery latency from publish to receipt, against one
subscriber measured in the same run.

The server is one uvicorn process (one worker, uvloop and httptools when installed) serving a
real FastAPI app with the stream router and a :class:`~serving.streaming.StreamHub`, as the
API mounts them, without the models: the fan-out is what is measured. A task on the server's
loop serves ``symbols`` x ``rate`` predictions per second (the shape of
``Prediction.to_dict()``, about 600 bytes of JSON), spread evenly in time, each stamped with
``time.monotonic_ns()`` just before ``hub.prediction_served``. Subscribers are spread over
the symbols round-robin and run in ``clients`` separate processes (the ``websockets``
client library, one asyncio loop each); a receiver stamps each frame as it gets it, so the
latency covers the hub's fan-out, the subscriber's queue and writer, the kernel and the
client's own loop (CLOCK_MONOTONIC is one clock for all processes of a Linux host). The first
``warmup_s`` of each run are not counted.

The baseline is one subscriber per symbol under the same publishing load (50 subscribers for
50 symbols: every frame goes to one socket; a single subscriber would get only 10 frames a
second, too few for a p99): what one delivery costs on this machine. Each run reports p50/p99/max,
the frames a subscriber never received (coalesced or dropped, from the server's counters and
from the gaps in each client's sequence numbers), slow closes, and the server's CPU.
``permessage-deflate`` (uvicorn's default, offered by browsers and ``websockets`` alike)
compresses every frame once per socket; the full run measures with and without it.

``--replicas 2`` measures the fan-out over two replicas bridged by an embedded broker, as the
API's replicas are (:func:`measure_replicas`: published on one, read back from the
``predictions`` topic by both, each fanning out to half of ``--subscribers``).

Run alone: ``python -m benchmarks.streaming_fanout [--quick] [--subscribers 100 1000]
[--deflate both|on|off] [--duration S] [--clients N] [--replicas 2]``; results go to
``benchmarks/results/streaming_fanout.json``. :func:`measure` and :func:`markdown` are what
``benchmarks.serving`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
KEY = "bench-key-0123456789abcdef"
TARGET_P99_MS = 50.0


@dataclass(frozen=True)
class Plan:
    subscribers: tuple[int, ...] = (100, 1000)
    symbols: int = 50
    rate_per_symbol: float = 10.0
    duration_s: float = 10.0
    warmup_s: float = 1.0
    clients: int = 4
    deflate: tuple[bool, ...] = (True, False)
    #: Server on CPU 0, client processes on the others (when there are two CPUs or more).
    #: Off by default: on a machine shared with other work, a pinned server waits for CPU 0.
    pin: bool = False


QUICK = Plan(duration_s=4.0, deflate=(True,))


# -- the server (a child process) ----------------------------------------------------------


def _prediction(symbol: str) -> dict:
    return {
        "prediction_id": str(uuid.uuid4()),
        "symbol": symbol,
        "p_up": 0.61,
        "direction": "up",
        "confidence": 0.22,
        "position": 0.22,
        "strategy": "ensemble",
        "regime": "bull",
        "components": [
            {"name": name, "kind": "batch", "version": "4", "weight": w, "p_up": 0.6}
            for name, w in (("bull_specialist", 0.5), ("bear_specialist", 0.2),
                            ("sideways_specialist", 0.3))
        ] + [{"name": "session", "kind": "online", "version": "s-1", "weight": 0.4, "p_up": 0.63}],
        "session": {"session_id": "s-1", "samples_seen": 1234, "checkpoint_age_s": 3.2},
        "served_at": "2026-01-05T21:00:00.000000+00:00",
    }  # fmt: skip


def build_app():
    """The stream app of the tests (router, hub, keys, lifespan) plus the publisher."""
    from prometheus_client import REGISTRY

    from serving.streaming import StreamHub
    from tests.serving.streaming.helpers import build_app as stream_app

    # Across replicas (measure_replicas): each server is a replica of its own, bridged by the
    # broker's predictions topic, as the API's replicas are.
    hub = StreamHub(
        replica_id=os.environ.get("BENCH_REPLICA", "bench"),
        bootstrap_servers=os.environ.get("BENCH_BOOTSTRAP") or None,
    )
    app = stream_app(hub, keys=f"{KEY}:predict")

    @app.post("/bench/publish")
    async def publish(body: dict) -> dict:
        symbols = [f"S{i:03d}" for i in range(int(body["symbols"]))]
        interval = 1.0 / (float(body["rate_per_symbol"]) * len(symbols))
        loop = asyncio.get_running_loop()
        start, n, counts = loop.time(), 0, dict.fromkeys(symbols, 0)
        duration = float(body["duration_s"])
        while (elapsed := loop.time() - start) < duration:
            # Everything due by now at once: a late wake-up (a busy machine) makes a burst,
            # never a lower rate.
            due = min(int(elapsed / interval) + 1, int(duration / interval))
            for _ in range(due - n):
                symbol = symbols[n % len(symbols)]
                prediction = _prediction(symbol)
                prediction["published_ns"] = time.monotonic_ns()
                hub.prediction_served(prediction)
                counts[symbol] += 1
                n += 1
            await asyncio.sleep(max(0.0, start + n * interval - loop.time()))
        return {"published": counts, "seconds": loop.time() - start}

    @app.get("/bench/stats")
    async def stats() -> dict:
        def value(name: str, **labels: str) -> float:
            return REGISTRY.get_sample_value(name, labels) or 0.0

        return {
            "subscribers": value("online_learning_stream_subscribers"),
            "coalesced": value("online_learning_stream_frames_coalesced_total"),
            "dropped": value("online_learning_stream_frames_dropped_total", reason="slow_close"),
            "slow_closed": value("online_learning_stream_slow_closed_total"),
            "sent": value("online_learning_stream_frames_sent_total", type="prediction"),
            "cpu_s": sum(os.times()[:2]),
            "bridged": hub.bridged,
        }

    return app


def serve(port: int, deflate: bool) -> None:
    import uvicorn

    uvicorn.run(
        build_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_per_message_deflate=deflate,
    )


# -- the subscribers (client processes) ----------------------------------------------------


def _client_cpus() -> set[int] | None:
    cpus = sorted(os.sched_getaffinity(0))
    return set(cpus[1:]) if len(cpus) >= 2 else None


def _client(url: str, symbols: list[str], deflate: bool, pin, ready, stop, results) -> None:
    if pin:
        os.sched_setaffinity(0, pin)
    asyncio.run(_client_main(url, symbols, deflate, ready, stop, results))


async def _client_main(url, symbols, deflate, ready, stop, results) -> None:
    import orjson
    from websockets.asyncio.client import connect

    latencies: list[tuple[int, int]] = []  # (published_ns, latency_ns)
    gaps = [0]
    closes: list[int] = []

    async def open_one(symbol: str):
        ws = await connect(
            f"{url}/{symbol}",
            additional_headers={"Authorization": f"Bearer {KEY}"},
            compression="deflate" if deflate else None,
            open_timeout=60,
            max_queue=None,
            ping_interval=None,
        )
        hello = orjson.loads(await ws.recv())
        return ws, hello["seq"]

    sockets = []
    for i in range(0, len(symbols), 50):  # handshakes in batches: no thundering herd
        sockets += await asyncio.gather(*(open_one(s) for s in symbols[i : i + 50]))
    ready.put(len(sockets))

    async def read(ws, last_seq: int) -> None:
        try:
            while True:
                message = await ws.recv(decode=False)  # bytes: orjson parses them as they are
                now = time.monotonic_ns()
                frame = orjson.loads(message)
                if frame.get("type") != "prediction":
                    continue
                latencies.append((frame["published_ns"], now - frame["published_ns"]))
                gaps[0] += frame["seq"] - last_seq - 1
                last_seq = frame["seq"]
        except Exception as exc:  # a close by the server: count its code
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            closes.append(code or 1006)

    readers = [asyncio.create_task(read(ws, seq)) for ws, seq in sockets]
    cpu_start = sum(os.times()[:2])
    while not stop.is_set():
        await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws, _ in sockets), return_exceptions=True)
    cpu_s = sum(os.times()[:2]) - cpu_start
    results.put({"latencies": latencies, "gaps": gaps[0], "closes": closes, "cpu_s": cpu_s})


# -- one run -------------------------------------------------------------------------------


def _http(port: int, path: str, body: dict | None = None, timeout: float = 300.0) -> dict:
    import httpx

    url = f"http://127.0.0.1:{port}{path}"
    with httpx.Client(timeout=timeout) as http:
        response = http.post(url, json=body) if body is not None else http.get(url)
        response.raise_for_status()
        return response.json()


def _start_server(
    deflate: bool, pin: bool, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, int]:
    from cli.broker import free_port

    port = free_port()
    cpus = sorted(os.sched_getaffinity(0))
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.streaming_fanout", "--serve", str(port),
         "--deflate", "on" if deflate else "off"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, **(env or {})},
        preexec_fn=(lambda: os.sched_setaffinity(0, {cpus[0]})) if pin else None,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _http(port, "/bench/stats", timeout=2)
            return process, port
        except Exception:
            if process.poll() is not None:
                raise RuntimeError("the benchmark server exited") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the benchmark server did not start")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/api/v1/streaming"


def _stats(ports: list[int]) -> dict[str, float]:
    """The servers' counters, summed."""
    each = [_http(port, "/bench/stats") for port in ports]
    return {key: sum(float(s[key]) for s in each) for key in each[0] if key != "bridged"}


def run_once(port: int | list[int], subscribers: int, plan: Plan, deflate: bool) -> dict[str, Any]:
    """``subscribers`` spread over the symbols (and over the servers ``port``, one client
    process after another); publish on the first for ``plan.duration_s``."""
    ports = [port] if isinstance(port, int) else list(port)
    port = ports[0]
    symbols = [f"S{i % plan.symbols:03d}" for i in range(subscribers)]
    procs = max(len(ports), min(plan.clients, subscribers))
    context = mp.get_context("spawn")
    pin = _client_cpus() if plan.pin else None
    ready, results, stop = context.Queue(), context.Queue(), context.Event()
    children = [
        context.Process(
            target=_client,
            args=(
                f"ws://127.0.0.1:{ports[i % len(ports)]}/api/v1/streaming",
                symbols[i::procs],
                deflate,
                pin,
                ready,
                stop,
                results,
            ),
        )
        for i in range(procs)
    ]
    for child in children:
        child.start()
    connected = sum(ready.get(timeout=180) for _ in children)
    before = _stats(ports)
    started_ns = time.monotonic_ns()
    published = _http(
        port,
        "/bench/publish",
        {"symbols": plan.symbols, "rate_per_symbol": plan.rate_per_symbol,
         "duration_s": plan.duration_s},
    )  # fmt: skip
    time.sleep(1.0)  # the last frames in flight
    after = _stats(ports)
    stop.set()
    parts = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(30)
    counted_from = started_ns + int(plan.warmup_s * 1e9)
    latencies_ms = [
        lat / 1e6 for part in parts for published_ns, lat in part["latencies"]
        if published_ns >= counted_from
    ]  # fmt: skip
    expected = sum(published["published"][s] for s in symbols)
    received = sum(len(part["latencies"]) for part in parts)
    server_cpu = after["cpu_s"] - before["cpu_s"]
    return {
        "subscribers": subscribers,
        "connected": connected,
        "deflate": deflate,
        "predictions_per_s": sum(published["published"].values()) / published["seconds"],
        "frames_expected": expected,
        "frames_received": received,
        "frames_missing": expected - received,
        "seq_gaps": sum(part["gaps"] for part in parts),
        "coalesced": after["coalesced"] - before["coalesced"],
        "dropped": after["dropped"] - before["dropped"],
        "slow_closed": after["slow_closed"] - before["slow_closed"],
        "closed_by_server": sum(len(part["closes"]) for part in parts),
        "latency_ms": {
            "n": len(latencies_ms),
            "p50": _percentile(latencies_ms, 0.50),
            "p99": _percentile(latencies_ms, 0.99),
            "max": max(latencies_ms, default=float("nan")),
            "mean": statistics.fmean(latencies_ms) if latencies_ms else float("nan"),
        },
        "server_cpu_pct": 100.0 * server_cpu / (published["seconds"] + 1.0),
        "server_cpu_us_per_frame": 1e6 * server_cpu / max(1.0, after["sent"] - before["sent"]),
        "clients_cpu_pct": 100.0 * sum(p["cpu_s"] for p in parts) / (published["seconds"] + 1.0),
        "pinned": pin is not None,
        "replicas": len(ports),
    }


def measure(quick: bool = False, plan: Plan | None = None) -> dict[str, Any]:
    """Every variant: the baseline (one subscriber per symbol), then each subscriber count,
    on a fresh server."""
    plan = plan or (QUICK if quick else Plan())
    runs = []
    for deflate in plan.deflate:
        server, port = _start_server(deflate, plan.pin and _client_cpus() is not None)
        try:
            baseline = run_once(port, plan.symbols, plan, deflate)
            runs.append({**baseline, "baseline": True})
            for n in plan.subscribers:
                result = run_once(port, n, plan, deflate)
                b = baseline["latency_ms"]
                result["ratio_p50"] = result["latency_ms"]["p50"] / b["p50"]
                result["ratio_p99"] = result["latency_ms"]["p99"] / b["p99"]
                runs.append({**result, "baseline": False})
        finally:
            server.terminate()
            server.wait(30)
    return {
        "plan": asdict(plan),
        "target_p99_ms": TARGET_P99_MS,
        "load_average": os.getloadavg(),
        "runs": runs,
    }


def measure_replicas(
    subscribers: int = 2000, replicas: int = 2, plan: Plan | None = None
) -> dict[str, Any]:
    """The fan-out over ``replicas`` servers bridged by an embedded broker: predictions
    published on the first go through the ``predictions`` topic to every replica, which fans
    them out to its own subscribers (half of them each). Baseline: one subscriber per symbol
    over the same replicas, in the same run."""
    import tempfile

    from cli.broker import EmbeddedKafka

    plan = plan or Plan(deflate=(True,))
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedKafka(log_path=Path(tmp) / "broker.log") as broker,
    ):
        servers = [
            _start_server(
                True, False, {"BENCH_BOOTSTRAP": broker.bootstrap_servers, "BENCH_REPLICA": f"r{i}"}
            )
            for i in range(replicas)
        ]
        ports = [port for _, port in servers]
        try:
            deadline = time.monotonic() + 60
            while not all(_http(p, "/bench/stats")["bridged"] for p in ports):
                if time.monotonic() > deadline:
                    raise RuntimeError("the replicas' stream bridges did not go live")
                time.sleep(0.5)
            baseline = run_once(ports, plan.symbols, plan, True)
            result = run_once(ports, subscribers, plan, True)
            for q in ("p50", "p99"):
                result[f"ratio_{q}"] = result["latency_ms"][q] / baseline["latency_ms"][q]
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait(30)
    return {
        "plan": asdict(plan),
        "target_p99_ms": TARGET_P99_MS,
        "load_average": os.getloadavg(),
        "runs": [{**baseline, "baseline": True}, {**result, "baseline": False}],
    }


def markdown(result: dict[str, Any]) -> str:
    plan = result["plan"]
    replicas = result["runs"][0].get("replicas", 1)
    where = (
        "one uvicorn worker"
        if replicas == 1
        else f"{replicas} replicas bridged by an embedded broker (published on one, each "
        "fanning out to half of the subscribers; CPU summed)"
    )
    aim = "1,000" if replicas == 1 else f"{1000 * replicas:,}"
    lines = [
        f"WebSocket fan-out, {where}: {plan['symbols']} symbols x "
        f"{plan['rate_per_symbol']:g} predictions/s, {plan['duration_s']:g} s per run "
        f"(first {plan['warmup_s']:g} s not counted), subscribers in {plan['clients']} client "
        f"processes; baseline: one subscriber per symbol under the same load; aim p99 < "
        f"{result['target_p99_ms']:g} ms at {aim}",
        "",
        "| deflate | subscribers | predictions/s | p50 ms | p99 ms | max ms | p50 / baseline "
        "| p99 / baseline | frames received / expected | coalesced | dropped | slow closes "
        "| server CPU (per frame) | clients CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for run in result["runs"]:
        lat = run["latency_ms"]
        ratio50 = "1 (baseline)" if run["baseline"] else f"{run['ratio_p50']:.2f}"
        ratio99 = "1 (baseline)" if run["baseline"] else f"{run['ratio_p99']:.2f}"
        lines.append(
            f"| {'on' if run['deflate'] else 'off'} | {run['subscribers']:,} "
            f"| {run['predictions_per_s']:.0f} | {lat['p50']:.1f} "
            f"| {lat['p99']:.1f} | {lat['max']:.1f} | {ratio50} | {ratio99} "
            f"| {run['frames_received']:,} / {run['frames_expected']:,} | {run['coalesced']:.0f} "
            f"| {run['dropped']:.0f} | {run['slow_closed']:.0f} | {run['server_cpu_pct']:.0f} % "
            f"({run['server_cpu_us_per_frame']:.0f} us) "
            f"| {run['clients_cpu_pct']:.0f} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subscribers", type=int, nargs="+")
    parser.add_argument("--deflate", choices=["both", "on", "off"])
    parser.add_argument("--duration", type=float)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, clients on the rest")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--replicas", type=int, default=None,
        help="the fan-out over this many replicas bridged by an embedded broker (with "
        "--subscribers N: N in all, split over them)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, deflate=args.deflate != "off")
        return
    plan = QUICK if args.quick else Plan()
    if args.subscribers:
        plan = replace(plan, subscribers=tuple(args.subscribers))
    if args.deflate:
        plan = replace(
            plan, deflate={"both": (True, False), "on": (True,), "off": (False,)}[args.deflate]
        )
    if args.duration:
        plan = replace(plan, duration_s=args.duration)
    if args.clients:
        plan = replace(plan, clients=args.clients)
    if args.pin:
        plan = replace(plan, pin=True)
    if args.replicas:
        total = (args.subscribers or [2000])[0]
        result = measure_replicas(total, args.replicas, replace(plan, deflate=(True,)))
        print(markdown(result))
        args.output.mkdir(parents=True, exist_ok=True)
        name = f"streaming_fanout_replicas{args.replicas}.json"
        (args.output / name).write_text(json.dumps(result, indent=2) + "\n")
        return
    result = measure(plan=plan)
    print(markdown(result))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "streaming_fanout.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
