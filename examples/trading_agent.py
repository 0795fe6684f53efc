"""A trading agent on the platform's SDK: predict from bars, trade, report what it earned.

Every simulated trading day, for each symbol of a seeded simulated market, the agent

1. sends its last 80 daily bars to ``POST /api/v1/predictions`` (one batch request for all
   symbols; the platform computes its features from them with its training code);
2. blends the prediction with its own momentum rule (:class:`serving.signals.SignalCombiner`:
   60 % rule, 40 % ML, the ML view only when its confidence is at least 0.55);
3. holds that position over the next day and posts the trade outcome (schema version 1) to
   ``POST /api/v1/feedback/outcomes``, crediting the model that made the prediction.

Run it against a running platform (``online-learning serve`` or ``make run``)::

    python examples/trading_agent.py --url http://127.0.0.1:8000 --steps 20

The key comes from ``ONLINE_LEARNING_API_KEY``, else ``<home>/api-key`` (the development key
``make run`` prints; ``--home`` or ``ONLINE_LEARNING_HOME``). It needs the ``predict`` and
``feedback`` scopes. Exit codes: 0 done, 1 the platform refused or could not be reached.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from online_learning.feedback.simulator import SimulatedMarket
from serving.client import ApiError, Client, RetryPolicy, api_key_from_env
from serving.signals import SignalCombiner

BARS = 80  # the features need 64; a few more cost nothing
DEFAULT_SYMBOLS = "AGT0,AGT1,AGT2"  # not SIM0-2: `make run`'s own desk trades those


def momentum(closes: np.ndarray) -> float:
    """The agent's own rule: the 5-day log return in units of its 21-day volatility, in [-1, 1]."""
    daily = np.diff(np.log(closes[-22:]))
    vol = float(daily.std(ddof=1)) or 1e-4
    z = math.log(closes[-1] / closes[-6]) / (vol * math.sqrt(5))
    return max(-1.0, min(1.0, z / 2.0))


def local_features(bars: list[dict]) -> dict[str, float]:
    """The platform's features of the newest bar, for a server that does not echo them."""
    from online_learning.prediction import features_from_bars

    return features_from_bars(bars)


def wait_until_ready(client: Client, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return client.ready()
        except ApiError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def run(args: argparse.Namespace) -> int:
    key = api_key_from_env(args.home)
    if not key:
        print(
            "no API key: set ONLINE_LEARNING_API_KEY or pass --home with an api-key file",
            file=sys.stderr,
        )
        return 1
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    prices = SimulatedMarket(symbols, seed=args.seed).prices()
    closes = {s: prices.loc[prices.symbol == s, "close"].to_numpy() for s in symbols}
    dates = prices.loc[prices.symbol == symbols[0], "date"].dt.strftime("%Y-%m-%d").tolist()
    combiner = SignalCombiner(
        rule_weight=args.rule_weight, ml_weight=args.ml_weight,
        min_confidence=args.min_confidence, max_position=args.max_position,
    )  # fmt: skip
    last_day = len(dates) - 2  # the newest day still needs its next close to settle
    steps = min(args.steps, last_day - BARS + 1) if args.steps else last_day - BARS + 1
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    pnl, hits, trades = 0.0, 0, 0
    with Client(args.url, key, timeout=args.timeout, retry=RetryPolicy(retries=3)) as client:
        ready = wait_until_ready(client, args.wait)
        print(f"platform ready at {client.base_url}: champions {ready.get('champions')}")
        for step in range(steps):
            today = BARS - 1 + step
            requests = [
                {"symbol": s,
                 "bars": [{"date": dates[i], "close": float(closes[s][i])}
                          for i in range(today - BARS + 1, today + 1)]}
                for s in symbols
            ]  # fmt: skip
            predictions = client.predict_many(requests, strategy=args.strategy)
            outcomes = []
            for request, prediction in zip(requests, predictions, strict=True):
                s = request["symbol"]
                features = prediction.features or local_features(request["bars"])
                signal = combiner.combine(
                    prediction, rule_signal=momentum(closes[s][: today + 1]), features=features
                )
                realized = math.log(closes[s][today + 1] / closes[s][today])
                outcomes.append(signal.outcome(realized))
                pnl += signal.position * realized
                trades += signal.position != 0
                hits += signal.position * realized > 0
                print(
                    f"{dates[today]} {s:<6} p_up {prediction.p_up:.3f} "
                    f"({prediction.strategy}, regime {prediction.regime}) rule "
                    f"{signal.rule_signal:+.2f} -> position {signal.position:+.2f} "
                    f"[ml {signal.ml_contribution:.0%}, {signal.model_id or 'rule only'}] "
                    f"return {realized:+.4f}"
                )
            results = client.post_outcomes(outcomes)
            for result in results:
                totals[result.status] = totals.get(result.status, 0) + 1
                if result.status == "rejected":
                    print(f"  outcome {result.trade_id} rejected: {result.reason} {result.detail}")
            if args.interval:
                time.sleep(args.interval)
    print(
        f"{steps} days x {len(symbols)} symbols: {trades} trades, hit rate "
        f"{hits / max(trades, 1):.0%}, PnL {pnl:+.4f} (log-return units); outcomes "
        + ", ".join(f"{n} {status}" for status, n in totals.items())
    )
    return 0 if totals["rejected"] == 0 else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("ONLINE_LEARNING_API_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--home", default=None, help="folder with the api-key file")
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS, help="comma-separated names")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    parser.add_argument("--steps", type=int, default=0, help="trading days (0: the whole market)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between days")
    parser.add_argument("--strategy", choices=["ensemble", "champion_challenger"], default=None)
    parser.add_argument("--rule-weight", type=float, default=0.6)
    parser.add_argument("--ml-weight", type=float, default=0.4)
    parser.add_argument("--min-confidence", type=float, default=0.55)
    parser.add_argument("--max-position", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for /ready")
    args = parser.parse_args(argv)
    if args.steps < 0:
        parser.error("--steps must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except ApiError as error:
        print(f"trading agent: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a bad option value (weights, threshold)
        print(f"trading agent: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
