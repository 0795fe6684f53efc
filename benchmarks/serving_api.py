"""Throughput and latency of ``POST /api/v1/predictions`` against a bare FastAPI endpoint.

Both servers run the same way, one after the other in this run: ``uvicorn`` with uvloop and
httptools, one worker, no access log, pinned to one core while ``wrk`` (Debian's, two threads)
loads them from the other. The **platform** is ``serving.app.create_app`` on a real MLflow
store in a temporary ``ONLINE_LEARNING_HOME``: the three regime specialists (trained for a few
epochs on the seeded synthetic market) plus an online session of the symbol, so a prediction
is the full ensemble of three batch models and one online model, with key authentication.
The **baseline** is a bare FastAPI app whose ``POST /api/v1/predictions`` validates the same
body into a pydantic model and answers a prediction of the same shape without computing it:
the framework's floor on this machine.

The platform runs in three **serving modes** (``ONLINE_LEARNING_MICRO_BATCH_MS``, see
:mod:`serving.batcher`): ``inline`` (-1: each request's forward on the event loop),
``micro0`` (0, the default: requests that arrive in the same event-loop turn share one
forward) and ``micro1`` (1 ms window). A threadpool per request is not among them: measured
here before, the hop alone cut FastAPI's throughput about 3x.

Measured, each ``repeats`` times, interleaved (baseline, then the platform in each mode) so
that the load of a shared machine hits all alike; every figure is the median over repeats:

* single requests (``{"symbol", "features"}``) at 16 and 64 connections, in every mode:
  requests/s, p50 and p99 latency, and the ratio of the platform's requests/s to the
  baseline's of the same repeat;
* batch requests of 64 rows (``{"requests": [...]}``) at 16 connections, default mode only:
  rows/s, the ratio to the baseline's and the gain over the platform's single requests.

Any non-2xx answer or socket error during a run fails the benchmark: a fast 401 is no result.

Run alone: ``python -m benchmarks.serving_api [--quick] [--duration S] [--repeats R]
[--modes inline micro0 micro1 micro0+lgbm]``
(``python -m benchmarks.serving`` runs it with the WebSocket fan-out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from online_learning.processes import free_port

SYMBOL = "AAA"
BATCH_ROWS = 64
API_KEY = "bench-admin-key-0123456789"
SPECIALISTS = ("bull_specialist", "bear_specialist", "sideways_specialist")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    duration_s: int = 10
    warmup_s: int = 2
    repeats: int = 3
    connections: tuple[int, ...] = (16, 64)
    batch_connections: int = 16
    threads: int = 2
    #: How the platform serves concurrent single predictions (``ONLINE_LEARNING_MICRO_BATCH_MS``);
    #: the batch load runs in the default mode only.
    modes: tuple[str, ...] = ("inline", "micro0", "micro1")


#: ``inline``: each request's forward on the event loop (-1: no micro-batching); ``micro0``
#: (the default): requests that arrive in the same event-loop turn share one forward; ``micro1``:
#: those that arrive within 1 ms.
MODES: Mapping[str, str] = {"inline": "-1", "micro0": "0", "micro1": "1", "micro0+lgbm": "0"}
DEFAULT_MODE = "micro0"
#: A team's LightGBM classifier on the built-in features, served in the ensemble beside the
#: specialists by the ``+lgbm`` mode (not among the default modes: ``--modes micro0
#: micro0+lgbm`` compares them).
ESTIMATOR = "team_lgbm"
ESTIMATOR_PARAMS = {"n_estimators": 100, "num_leaves": 15, "verbose": -1}
QUICK = Plan(duration_s=4, warmup_s=1, repeats=1)


# -- the baseline: a bare FastAPI endpoint (``uvicorn benchmarks.serving_api:bare_app``) ------
class BareRow(BaseModel):
    symbol: str
    features: dict[str, float] | None = None
    bars: list[dict[str, Any]] | None = None


class BareBody(BaseModel):
    symbol: str | None = None
    features: dict[str, float] | None = None
    bars: list[dict[str, Any]] | None = None
    requests: list[BareRow] | None = None


def bare_app():
    """A FastAPI app with the platform's request shape and none of its work."""
    import uuid
    from datetime import UTC, datetime

    from fastapi import FastAPI

    def stub(symbol: str, features: dict[str, float] | None) -> dict[str, Any]:
        return {
            "prediction_id": uuid.uuid4().hex, "symbol": symbol, "p_up": 0.5,
            "direction": "down", "confidence": 0.5, "position": 0.0, "strategy": "ensemble",
            "regime": "sideways",
            "components": [
                {"name": name, "kind": "batch", "version": "1", "weight": 1 / 3, "p_up": 0.5}
                for name in SPECIALISTS
            ] + [{"name": "online", "kind": "online", "version": None, "weight": 0.0,
                  "p_up": 0.5}],
            "session": None,
            "served_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "features": features,  # the platform echoes them too
        }  # fmt: skip

    app = FastAPI()

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/predictions")
    async def predictions(body: BareBody) -> dict[str, Any]:
        if body.requests is not None:
            return {"predictions": [stub(r.symbol, r.features) for r in body.requests]}
        return stub(body.symbol or "", body.features)

    return app


# -- servers and load -------------------------------------------------------------------------


def _pin(cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


@contextmanager
def uvicorn_server(
    target: str, env: Mapping[str, str], *, cpu: int | None, log: Path
) -> Iterator[str]:
    """``uvicorn --factory target`` on a free loopback port until the block ends; its URL."""
    import httpx

    port = free_port()
    command = [
        *_pin(cpu), sys.executable, "-m", "uvicorn", target, "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as out:
        merged = {k: v for k, v in {**os.environ, **env}.items() if v != ""}  # "" unsets
        process = subprocess.Popen(
            command, cwd=ROOT, env=merged, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}; see {log}")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not answer /health in 180 s; see {log}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(auth)s
local f = assert(io.open("%(body)s", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@{"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, '
    .. '"status": %%d, "timeout": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, '
    .. '"mean_us": %%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def wrk(
    url: str,
    body: Mapping[str, Any],
    *,
    connections: int,
    duration_s: int,
    threads: int,
    key: str | None,
    folder: Path,
    cpu: int | None,
) -> dict[str, float]:
    """One wrk run: requests/s and latency percentiles (ms). Fails on any error or non-2xx."""
    body_path = folder / "body.json"
    body_path.write_text(json.dumps(body))
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    script = folder / "post.lua"
    script.write_text(_LUA % {"auth": auth, "body": body_path})
    command = [
        *_pin(cpu), "wrk", f"-t{min(threads, connections)}", f"-c{connections}",
        f"-d{duration_s}s", "--timeout", "10s", "-s", str(script), f"{url}/api/v1/predictions",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in run.stdout.splitlines() if x.startswith("@@"))
    stats = json.loads(line[2:])
    errors = {k: stats[k] for k in ("connect", "read", "write", "status", "timeout") if stats[k]}
    if errors:
        raise RuntimeError(f"wrk against {url}: errors {errors}\n{run.stdout}")
    seconds = stats["duration_us"] / 1e6
    return {
        "requests_per_s": stats["requests"] / seconds,
        "p50_ms": stats["p50_us"] / 1e3,
        "p90_ms": stats["p90_us"] / 1e3,
        "p99_ms": stats["p99_us"] / 1e3,
        "mean_ms": stats["mean_us"] / 1e3,
        "requests": stats["requests"],
    }


# -- the platform ----------------------------------------------------------------------------
def prepare_platform(home: Path, *, estimator: bool = False) -> dict[str, str]:
    """Champions of the three specialists (and with ``estimator`` a LightGBM classifier) in
    ``home``'s MLflow store; the server's env."""
    env = {
        "ONLINE_LEARNING_HOME": str(home),
        "ONLINE_LEARNING_API_KEYS": f"{API_KEY}:admin",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "ONLINE_LEARNING_TORCH_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    for name in ("MLFLOW_TRACKING_URI", "KAFKA_BOOTSTRAP_SERVERS", "PREFECT_API_URL"):
        env[name] = ""  # the embedded defaults, no broker: one process, as `serve` alone
    code = (
        "from online_learning.data import resolve_source\n"
        "from online_learning.registry import MlflowRegistry\n"
        "from online_learning.settings import get_settings\n"
        "from online_learning.update.bootstrap import train_and_register\n"
        "registry = MlflowRegistry.from_settings(get_settings())\n"
        "source = resolve_source('synthetic', seed=0)\n"
        f"for m in {SPECIALISTS!r}:\n"
        "    train_and_register(registry=registry, source=source, model_id=m, epochs=3, seed=0)\n"
    )
    if estimator:
        code += (
            "from online_learning.configuration.models import ModelConfig\n"
            "config = ModelConfig(estimator='lightgbm:LGBMClassifier', "
            f"estimator_params={ESTIMATOR_PARAMS!r}, policy='warm_start')\n"
            f"train_and_register(registry=registry, source=source, model_id={ESTIMATOR!r}, "
            f"definition=config.definition({ESTIMATOR!r}), seed=0)\n"
        )
    clean = {k: v for k, v in {**os.environ, **env}.items() if v != ""}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, check=True)
    return env


def warm_platform(url: str, features: dict[str, float]) -> dict[str, Any]:
    """Start the symbol's online session and teach it 50 outcomes; one checked prediction."""
    from online_learning_client import Client
    from tests.utils.trade_outcomes import outcome_stream

    with Client(url, API_KEY) as client:
        client.start_session(SYMBOL)
        results = client.post_outcomes(outcome_stream(50, symbol=SYMBOL, seed=1))
        if not all(r.ok for r in results):
            raise RuntimeError(f"warm-up outcomes refused: {results[:3]}")
        prediction = client.predict(SYMBOL, features=features)
    kinds = sorted({c.kind for c in prediction.components})
    if kinds != ["batch", "online"]:
        raise RuntimeError(f"expected batch and online components, got {prediction.components}")
    return {"components": [c.model_dump() for c in prediction.components]}


def bodies() -> tuple[dict[str, Any], dict[str, Any]]:
    """The single and the 64-row request bodies, on real features of the simulated market."""
    from online_learning.feedback.simulator import SimulatedMarket

    days = list(SimulatedMarket([SYMBOL], seed=3, schedule=[("bull", BATCH_ROWS)]).days())
    rows = [{"symbol": SYMBOL, "features": day[0].features} for day in days[:BATCH_ROWS]]
    return rows[0], {"requests": rows}


# -- the measurement ---------------------------------------------------------------------------
def measure(plan: Plan = Plan(), *, folder: Path | None = None) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: `make test-tools` installs Debian's wrk")
    unknown = set(plan.modes) - set(MODES)
    if unknown or not plan.modes:
        raise ValueError(f"modes must be among {sorted(MODES)}, got {list(plan.modes)}")
    pinned = (os.cpu_count() or 1) >= 2
    server_cpu, load_cpu = (0, 1) if pinned else (None, None)
    single, batch = bodies()
    singles = [(f"single_c{c}", single, c) for c in plan.connections]
    batches = [(f"batch{BATCH_ROWS}_c{plan.batch_connections}", batch, plan.batch_connections)]
    # The bare baseline once per repeat, then one platform server per mode (batch: default mode).
    servers = [("bare", None, singles + batches)] + [
        ("platform", mode, singles + (batches if mode == DEFAULT_MODE else []))
        for mode in plan.modes
    ]
    if DEFAULT_MODE not in plan.modes:
        servers.append(("platform", DEFAULT_MODE, batches))
    runs: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ol-bench-serving-") as tmp:
        work = Path(folder or tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = prepare_platform(work / "home", estimator=any("+lgbm" in m for m in plan.modes))
        setup: dict[str, Any] = {}
        for _ in range(plan.repeats):
            for server, mode, loads in servers:
                if server == "bare":
                    target, server_env, key = BARE_TARGET, {"PYTHONPATH": str(ROOT)}, None
                else:
                    target, key = "serving.app:create_app", API_KEY
                    server_env = {**env, "ONLINE_LEARNING_MICRO_BATCH_MS": MODES[mode]}
                    if mode.endswith("+lgbm"):
                        ensemble = json.dumps([*SPECIALISTS, ESTIMATOR])
                        server_env["ONLINE_LEARNING_SERVING_MODELS"] = ensemble
                name = server if mode is None else f"{server}:{mode}"
                with uvicorn_server(
                    target, server_env, cpu=server_cpu, log=work / f"{name}.log"
                ) as url:
                    if server == "platform" and not setup:
                        setup = warm_platform(url, single["features"])
                    elif server == "platform":
                        warm_platform_session(url)
                    for load, body, connections in loads:
                        common = dict(
                            key=key, folder=work, cpu=load_cpu, threads=plan.threads,
                            connections=connections,
                        )  # fmt: skip
                        wrk(url, body, duration_s=plan.warmup_s, **common)
                        result = wrk(url, body, duration_s=plan.duration_s, **common)
                        runs.setdefault(f"{name}/{load}", []).append(result)
    return summarize(runs, plan, setup, pinned)


BARE_TARGET = "benchmarks.serving_api:bare_app"


def warm_platform_session(url: str) -> None:
    """A fresh server process of the same home: the session exists; check it serves."""
    from online_learning_client import Client

    with Client(url, API_KEY) as client:
        client.ready()


def summarize(
    runs: dict[str, list[dict[str, float]]], plan: Plan, setup: dict[str, Any], pinned: bool
) -> dict[str, Any]:
    """One row per (load, mode): medians over repeats, each ratio against the bare server of
    the same repeat."""

    def median(key: str, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    rows_out = []
    for key in runs:
        name, load = key.split("/", 1)
        if name == "bare":
            continue
        bare, mode = f"bare/{load}", name.split(":", 1)[1]
        rows = BATCH_ROWS if load.startswith("batch") else 1
        ratios = [p["requests_per_s"] / b["requests_per_s"] for b, p in zip(
            runs[bare], runs[key], strict=True)]  # fmt: skip
        rows_out.append({
            "load": load, "mode": mode, "rows_per_request": rows,
            "bare_requests_per_s": round(median(bare, "requests_per_s"), 1),
            "platform_requests_per_s": round(median(key, "requests_per_s"), 1),
            "bare_rows_per_s": round(median(bare, "requests_per_s") * rows, 1),
            "platform_rows_per_s": round(median(key, "requests_per_s") * rows, 1),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_runs": [round(r, 3) for r in ratios],
            **{f"{who}_{q}": round(median(k, q), 2)
               for who, k in (("bare", bare), ("platform", key)) for q in ("p50_ms", "p99_ms")},
        })  # fmt: skip
    rows_out.sort(key=lambda r: (r["load"].startswith("batch"), r["load"], r["mode"]))
    base = next(
        (r for r in rows_out
         if r["load"] == f"single_c{plan.batch_connections}" and r["mode"] == DEFAULT_MODE),
        None,
    )  # fmt: skip
    for row in rows_out:
        if row["load"].startswith("batch") and base is not None:
            row["gain_over_single_rows"] = round(
                row["platform_rows_per_s"] / base["platform_rows_per_s"], 2
            )
    return {
        "plan": asdict(plan),
        "pinned": "server on cpu 0, wrk on cpu 1" if pinned else "not pinned",
        "platform_components": setup.get("components"),
        "modes": {mode: f"ONLINE_LEARNING_MICRO_BATCH_MS={MODES[mode]}" for mode in plan.modes},
        "rows": rows_out,
        "target_ratio": 0.8,
        "load_average": round(os.getloadavg()[0], 2),
    }


def markdown(result: Mapping[str, Any]) -> str:
    lines = [
        "| load | mode | bare req/s | platform req/s | ratio | rows/s (platform) "
        "| p50 bare / platform ms | p99 bare / platform ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        gain = row.get("gain_over_single_rows")
        rows = f"{row['platform_rows_per_s']:,.0f}" + (f" ({gain}x single)" if gain else "")
        lines.append(
            f"| {row['load']} | {row['mode']} | {row['bare_requests_per_s']:,.0f} "
            f"| {row['platform_requests_per_s']:,.0f} | **{row['ratio']:.2f}x** | {rows} "
            f"| {row['bare_p50_ms']:.1f} / {row['platform_p50_ms']:.1f} "
            f"| {row['bare_p99_ms']:.1f} / {row['platform_p99_ms']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s runs, one repeat")
    parser.add_argument("--duration", type=int, default=None, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--modes", nargs="+", choices=sorted(MODES), default=None, help="default: all three"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the JSON here")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    plan = replace(
        plan,
        duration_s=args.duration or plan.duration_s,
        repeats=args.repeats or plan.repeats,
        modes=tuple(args.modes or plan.modes),
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
    sys.exit(main())
