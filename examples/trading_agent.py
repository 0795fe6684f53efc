"""A trading agent on the platform's SDK: predict from bars, trade, report what it earned.

Every simulated trading day, for each symbol of a seeded simulated market, the agent

1. sends its last 80 daily bars to ``POST /api/v1/predictions`` (one batch request for all
   symbols; the platform computes its features from them with its training code);
2. blends the prediction with its own momentum rule (:class:`online_learning_client.SignalCombiner`:
   60 % rule, 40 % ML, the ML view only when its confidence is at least 0.55);
3. holds that position over the next day and posts the trade outcome (schema version 1) to
   ``POST /api/v1/feedback/outcomes``, crediting the model that made the prediction.

Run it against a running platform (``online-learning serve`` or ``make run``)::

    python examples/trading_agent.py --url http://127.0.0.1:8000 --steps 20
    python examples/trading_agent.py --forever            # market after market until Ctrl-C

The key comes from ``ONLINE_LEARNING_API_KEY``, else ``<home>/api-key`` (the development key
``make run`` prints; ``--home`` or ``ONLINE_LEARNING_HOME``). It needs the ``predict`` and
``feedback`` scopes. While the platform restarts or fails (5xx, refused connections) the agent
keeps its unsettled outcomes and posts them again with the next day's (the platform
deduplicates them on ``trade_id``). Exit codes: 0 done, 1 the platform refused the key, an
input or an outcome, or was not ready in ``--wait`` seconds.

Everything it says to the platform goes through the client distribution
(``online_learning_client``: the client, the signal blend, the outcome); only its prices come
from the platform's simulated market.
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
from online_learning_client import (
    ApiError,
    Client,
    ConnectionFailed,
    Ready,
    RetryPolicy,
    ServerError,
    api_key_from_env,
)
from online_learning_client.signals import SignalCombiner

BARS = 80  # the features need 64; a few more cost nothing
DEFAULT_SYMBOLS = "AGT0,AGT1,AGT2"  # not SIM0-2: `make run`'s own desk trades those


def momentum(closes: np.ndarray) -> float:
    """The agent's own rule: the 5-day log return in units of its 21-day volatility, in [-1, 1]."""
    daily = np.diff(np.log(closes[-22:]))
    vol = float(daily.std(ddof=1)) or 1e-4
    z = math.log(closes[-1] / closes[-6]) / (vol * math.sqrt(5))
    return max(-1.0, min(1.0, z / 2.0))


def wait_until_ready(client: Client, seconds: float) -> Ready:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return client.ready()
        except ApiError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


class Market:
    """The simulated market the agent trades: daily closes per symbol, one seed per run."""

    def __init__(self, symbols: list[str], seed: int) -> None:
        prices = SimulatedMarket(symbols, seed=seed).prices()
        self.symbols = symbols
        self.closes = {s: prices.loc[prices.symbol == s, "close"].to_numpy() for s in symbols}
        self.dates = prices.loc[prices.symbol == symbols[0], "date"].dt.strftime("%Y-%m-%d")
        self.dates = self.dates.tolist()

    @property
    def days(self) -> int:
        """Tradable days: each needs BARS of history and the next close to settle."""
        return len(self.dates) - BARS

    def requests(self, today: int) -> list[dict]:
        window = range(today - BARS + 1, today + 1)
        return [
            {"symbol": s,
             "bars": [{"date": self.dates[i], "close": float(self.closes[s][i])} for i in window]}
            for s in self.symbols
        ]  # fmt: skip


class Book:
    """What the agent did: trades, PnL, and outcomes not yet confirmed by the platform."""

    def __init__(self) -> None:
        self.pending: list[dict] = []  # posted again until answered: the platform dedupes
        self.totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
        self.pnl, self.hits, self.trades, self.days = 0.0, 0, 0, 0


def trade_day(client: Client, market: Market, today: int, combiner, book: Book, args) -> None:
    requests = market.requests(today)
    predictions = client.predict_many(requests, strategy=args.strategy)
    for request, prediction in zip(requests, predictions, strict=True):
        s = request["symbol"]
        closes = market.closes[s]
        features = prediction.features  # the server's, computed from the bars
        signal = combiner.combine(
            prediction, rule_signal=momentum(closes[: today + 1]), features=features
        )
        realized = math.log(closes[today + 1] / closes[today])
        book.pending.append(signal.outcome(realized))
        book.pnl += signal.position * realized
        book.trades += signal.position != 0
        book.hits += signal.position * realized > 0
        print(
            f"{market.dates[today]} {s:<6} p_up {prediction.p_up:.3f} "
            f"({prediction.strategy}, regime {prediction.regime}) rule "
            f"{signal.rule_signal:+.2f} -> position {signal.position:+.2f} "
            f"[ml {signal.ml_contribution:.0%}, {signal.model_id or 'rule only'}] "
            f"return {realized:+.4f}"
        )
    book.days += 1


def settle(client: Client, book: Book) -> None:
    results = client.post_outcomes(book.pending)
    book.pending = []
    for result in results:
        book.totals[result.status] = book.totals.get(result.status, 0) + 1
        if result.status == "rejected":
            print(f"  outcome {result.trade_id} rejected: {result.reason} {result.detail}")


def run(args: argparse.Namespace) -> int:
    key = api_key_from_env(args.home)
    if not key:
        print(
            "no API key: set ONLINE_LEARNING_API_KEY or pass --home with an api-key file",
            file=sys.stderr,
        )
        return 1
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    combiner = SignalCombiner(
        rule_weight=args.rule_weight, ml_weight=args.ml_weight,
        min_confidence=args.min_confidence, max_position=args.max_position,
    )  # fmt: skip
    book, seed, left = Book(), args.seed, args.steps or None
    with Client(args.url, key, timeout=args.timeout, retry=RetryPolicy(retries=3)) as client:
        ready = wait_until_ready(client, args.wait)
        print(f"platform ready at {client.base_url}: champions {ready.champions}")
        while left is None or left > 0:
            market = Market(symbols, seed)
            for step in range(market.days if left is None else min(left, market.days)):
                try:
                    trade_day(client, market, BARS - 1 + step, combiner, book, args)
                    settle(client, book)
                except (ConnectionFailed, ServerError) as error:
                    # The platform is restarting or overloaded: keep the outcomes, go on.
                    print(f"  {market.dates[BARS - 1 + step]}: not traded or settled ({error})")
                    time.sleep(1.0)
                if left is not None:
                    left -= 1
                if args.interval:
                    time.sleep(args.interval)
            if not args.forever:
                break
            seed += 1  # a new market, the same agent
        if book.pending:
            settle(client, book)
    print(
        f"{book.days} days x {len(symbols)} symbols: {book.trades} trades, hit rate "
        f"{book.hits / max(book.trades, 1):.0%}, PnL {book.pnl:+.4f} (log-return units); "
        "outcomes " + ", ".join(f"{n} {status}" for status, n in book.totals.items())
    )
    return 0 if book.totals["rejected"] == 0 else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("ONLINE_LEARNING_API_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--home", default=None, help="folder with the api-key file")
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS, help="comma-separated names")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    parser.add_argument("--steps", type=int, default=0, help="trading days (0: the whole market)")
    parser.add_argument(
        "--forever", action="store_true", help="after the last day, trade a new market (seed + 1)"
    )
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
