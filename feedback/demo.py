"""What ``online-learning up`` adds for the feedback path: a worker and a simulated market.

:func:`run_market` produces the outcomes of a :class:`~online_learning.feedback.simulator.
SimulatedMarket` traded by a desk to ``trade-outcomes``, one trading day per tick, as a
feedback service would post them. :func:`feedback_demo` runs it beside a feedback worker on
the same broker and prints what happens: sessions learning and, after the regime change, a
drift and the adaptation it requests.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import orjson

from feedback.market_data import DemoMarket
from feedback.process import FeedbackProcess
from online_learning.events.producers import KafkaSender
from online_learning.events.schema import ModelDriftEvent
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.simulator import (
    Desk,
    MarketTick,
    MomentumDesk,
    SimulatedMarket,
    trade_outcomes,
)
from online_learning.metrics_store import MetricsStore
from online_learning.metrics_store.ledger_records import KNOWN_REGIME_FIELD
from online_learning.supervision import Supervisor, ThreadChild
from online_learning_client import SignalCombiner, build_outcome

logger = logging.getLogger(__name__)

#: The demo market's seed: its three symbols raise no false alarm before the regime change
#: (true of most seeds, not all; see ``benchmarks/feedback_drift.py`` for the rates).
DEMO_SEED = 11
#: The worker's name under a supervisor (what ``up`` says when it restarts it).
WORKER_CHILD = "feedback worker"
Say = Callable[[str], None]


def run_market(
    bootstrap: str,
    topic: str,
    stop: threading.Event,
    *,
    market: SimulatedMarket,
    desk: Desk,
    start: int = 0,
    days_per_s: float = 5.0,
    on_day: Callable[[int, int], None] | None = None,
    api: MarketApi | None = None,
) -> int:
    """Produce one simulated trading day of outcomes, from step ``start``, every
    ``1 / days_per_s`` seconds until the market ends or ``stop`` is set; returns the number of
    outcomes produced.

    With ``api``, the desk first asks the serving API for the day's predictions of every
    symbol (so they stream to dashboards), blends each with its own rule through the client
    SDK (:func:`blended_outcomes`) and posts the outcomes to ``POST
    /api/v1/feedback/outcomes``, which hands them to ``trade-outcomes``; without it, the desk
    trades its rule alone and the outcomes go to the topic directly.
    """
    sender = None if api is not None else KafkaSender(bootstrap, topic)
    run_id = uuid.uuid4().hex[:8]
    produced = 0
    try:
        for day in market.days(start=start):
            if stop.wait(1.0 / days_per_s):
                break
            try:
                if api is not None:
                    predictions = api.predict(day)["predictions"]
                    outcomes = blended_outcomes(day, predictions, desk, run_id=run_id)
                    api.post_outcomes(outcomes)
                else:
                    outcomes = trade_outcomes(day, desk, run_id=run_id)
                    sender.send_messages([(o["symbol"], orjson.dumps(o), None) for o in outcomes])
            except Exception as exc:  # the broker or the API restarting: the desk keeps trading
                logger.warning("simulated market could not post day %d: %s", day[0].step, exc)
                continue
            produced += len(outcomes)
            if on_day is not None:
                on_day(day[0].step, produced)
    finally:
        if sender is not None:
            sender.close()
        if api is not None:
            api.close()
    return produced


def blended_outcomes(
    day: Sequence[MarketTick],
    predictions: Sequence[dict],
    desk: Desk,
    *,
    run_id: str,
    combiner: SignalCombiner | None = None,
) -> list[dict]:
    """The day's outcomes of a desk that blends its rule with the platform's predictions.

    As an agent does with the client SDK: :class:`~online_learning_client.SignalCombiner`
    (0.6 rule, 0.4 ML when the prediction's confidence is at least 0.55) and
    :func:`~online_learning_client.build_outcome`, which records each component's ``p_up`` and
    the rule's own position (the success metrics' counterfactual). Each outcome credits the
    desk's model and carries the market's true regime (``simulated_regime``).

    Examples
    --------
    >>> from online_learning.feedback.simulator import SimulatedMarket
    >>> [tick] = next(SimulatedMarket(1, seed=0, schedule=[("bull", 3)]).days())
    >>> served = {"prediction_id": "p-1", "symbol": tick.symbol, "p_up": 0.8,
    ...     "direction": "up", "confidence": 0.8, "position": 0.6, "strategy": "ensemble",
    ...     "regime": None, "session": None, "served_at": "2026-01-05T21:00:00Z",
    ...     "features": tick.features, "components": [{"name": "bull_specialist",
    ...     "kind": "batch", "version": "1", "weight": 1.0, "p_up": 0.8}]}
    >>> [o] = blended_outcomes([tick], [served], MomentumDesk(), run_id="demo")
    >>> rule = o["prediction"]["rule_position"]
    >>> round(o["position"], 6) == round(0.6 * rule + 0.4 * 0.6, 6), o["simulated_regime"]
    (True, 'bull')
    """
    combiner = combiner or SignalCombiner()
    stamp = datetime.now(UTC)
    outcomes = []
    for tick, prediction in zip(day, predictions, strict=True):
        model_id, rule = desk.decide(tick)
        signal = combiner.combine(prediction, rule_signal=rule, features=tick.features)
        outcomes.append(
            build_outcome(
                signal, realized_return=tick.realized_return, timestamp=stamp,
                trade_id=f"sim-{run_id}-{tick.symbol}-{tick.step:06d}", model_id=model_id,
                extra={KNOWN_REGIME_FIELD: tick.regime},
            )
        )  # fmt: skip
    return outcomes


class MarketApi:
    """The simulated desk's client of the serving API (predictions in, outcomes out)."""

    def __init__(self, api_url: str, key: str, *, timeout_s: float = 10.0) -> None:
        import httpx

        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s)

    def _post(self, path: str, body) -> dict:
        response = self._http.post(f"{self.api_url}{path}", json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def predict(self, day: Sequence[MarketTick]) -> dict:
        requests = [{"symbol": t.symbol, "features": t.features} for t in day]
        return self._post("/predictions", {"requests": requests})

    def post_outcomes(self, outcomes: Sequence[dict]) -> dict:
        return self._post("/feedback/outcomes", list(outcomes))

    def close(self) -> None:
        self._http.close()


def prefect_emit_to(api_url: str):
    """``emit_drift_event`` against ``api_url`` (a local server this process started)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.events import emit_drift_event

    def emit(*args, **kwargs):
        with temporary_settings({PREFECT_API_URL: api_url}):
            return emit_drift_event(*args, **kwargs)

    return emit


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def session_lines(store: MetricsStore) -> list[str]:
    """One line per session: samples, rolling accuracy, realised PnL, Sharpe, last drift."""
    lines = []
    for checkpoint in SessionStore(store).list():
        m = checkpoint.metrics
        accuracy = "-" if m.get("rolling_accuracy") is None else f"{m['rolling_accuracy']:.1%}"
        sharpe = "-" if m.get("rolling_sharpe") is None else f"{m['rolling_sharpe']:+.2f}"
        drift = (m.get("last_drift_at") or "-")[:19]
        lines.append(
            f"  {checkpoint.symbol:<6} samples {m['samples_seen']:>5}  accuracy {accuracy:>6}  "
            f"PnL {m['realized_pnl']:+.4f}  Sharpe {sharpe:>6}  last drift {drift}"
        )
    return lines


def read_headline(store: MetricsStore, api: tuple[str, str] | None) -> dict:
    """The success metrics' headline: the API's (it knows the champions it serves) when there
    is one, else computed from the store alone (no champion ages then)."""
    if api is not None:
        import httpx

        url, key = api
        answer = httpx.get(f"{url}/metrics/summary", headers={"Authorization": f"Bearer {key}"},
                           timeout=10.0)  # fmt: skip
        answer.raise_for_status()
        return answer.json()["headline"]
    from dataclasses import asdict

    from online_learning.success.summary import read_summary

    return asdict(read_summary(store).headline)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def success_line(h: dict) -> str:
    """The five success metrics, a line each (``—``: not measured yet).

    Examples
    --------
    >>> print(success_line({"mean_data_age_days": 3.25, "mean_promotion_age_days": 0.5,
    ...     "max_checkpoint_age_s": 2.0, "detection_delay_outcomes": 31, "detection_delay_s":
    ...     6.2, "adaptation_delay_s": 75.0, "serving_delay_s": 1.5, "compared_trades": 900,
    ...     "online_hit_rate": 0.54, "batch_hit_rate": 0.49, "online_log_loss": 0.69,
    ...     "batch_log_loss": 0.7, "outcomes_to_recover": None, "days_to_recover": None,
    ...     "impact_trades": 1200, "ml_added_pnl": 0.0123, "ml_added_low": -0.01,
    ...     "ml_added_high": 0.035}))
    success metrics:
      freshness: champions 3.2 days from their data, 0.5 since promotion
      adaptation: change -> drift 31 outcomes (6 s) -> adapted 75 s -> serving 2 s
      online vs batch: hit rate 54.0 % vs 49.0 % on 900 trades
      learning efficiency: not recovered yet
      business impact: ML added +0.0123 [-0.0100, +0.0350] on 1200 trades
    """

    def number(value, form: str) -> str:
        return "—" if value is None else format(value, form)

    def rate(value) -> str:
        return "—" if value is None else f"{100 * value:.1f} %"

    recovered = (
        "not recovered yet" if h["outcomes_to_recover"] is None
        else f"recovered in {h['outcomes_to_recover']} outcomes ({h['days_to_recover']} days)"
    )  # fmt: skip
    added = "—"
    if h["ml_added_pnl"] is not None:
        added = f"{h['ml_added_pnl']:+.4f}"
        if h["ml_added_low"] is not None:
            added += f" [{h['ml_added_low']:+.4f}, {h['ml_added_high']:+.4f}]"
    return "\n  ".join([
        "success metrics:",
        f"freshness: champions {number(h['mean_data_age_days'], '.1f')} days from their data, "
        f"{number(h['mean_promotion_age_days'], '.1f')} since promotion",
        f"adaptation: change -> drift {number(h['detection_delay_outcomes'], 'd')} outcomes "
        f"({_seconds(h['detection_delay_s'])}) -> adapted {_seconds(h['adaptation_delay_s'])}"
        f" -> serving {_seconds(h['serving_delay_s'])}",
        f"online vs batch: hit rate {rate(h['online_hit_rate'])} vs {rate(h['batch_hit_rate'])}"
        f" on {h['compared_trades']} trades",
        f"learning efficiency: {recovered}",
        f"business impact: ML added {added} on {h['impact_trades']} trades",
    ])  # fmt: skip


@contextmanager
def feedback_demo(
    config,
    store: MetricsStore,
    bootstrap: str,
    *,
    say: Say,
    prefect_api_url: str | None,
    market: bool = True,
    days_per_s: float = 5.0,
    report_every_s: float = 15.0,
    any_model: bool = False,
    api: tuple[str, str] | None = None,
    supervisor: Supervisor | None = None,
    simulated: DemoMarket | None = None,
) -> Iterator[FeedbackProcess]:
    """A feedback worker (and, with ``market``, the simulated market) until the block ends.

    ``any_model`` accepts outcomes naming models the registry does not have (tests).
    ``api`` is ``(api_url, key)`` of a serving API the market asks for predictions and posts
    its outcomes to (see :func:`run_market`). With a ``supervisor`` the worker is its child
    ``feedback worker``: a worker whose loop dies is replaced by a new one (a new consumer,
    which resumes from the recorded positions); the process yielded is the first one.
    ``simulated`` is the market and where the desk starts (by default :data:`DEMO_SEED`'s
    bull market turning sideways, from its first day); with a feed, each settled day's closes
    are published to the models' data.
    """
    simulated = simulated or DemoMarket(SimulatedMarket(3, seed=DEMO_SEED))

    def on_drift(event: ModelDriftEvent) -> None:
        outcome = "adaptation requested" if event.adaptation_requested else "inside the cool-down"
        say(
            f"drift: {event.model_id} on {event.symbol} ({', '.join(event.detectors)}) after "
            f"{event.n_outcomes} outcomes; {outcome}"
        )

    def new_process() -> FeedbackProcess:
        process = FeedbackProcess(
            config, store, bootstrap_servers=bootstrap, relay=False, manager=True,
            any_model=any_model, emit=prefect_emit_to(prefect_api_url) if prefect_api_url else None,
            notify_prefect=prefect_api_url is not None,
        )  # fmt: skip
        process.worker.on_drift = on_drift
        return process

    process = new_process()
    stop = threading.Event()
    threads = []
    if supervisor is None:
        threads.append(threading.Thread(target=process.run, args=(stop,), daemon=True))
    else:
        first = [process]

        def run_worker(child_stop: threading.Event) -> None:
            current = first.pop() if first else new_process()
            current.run(child_stop)

        supervisor.add(ThreadChild(WORKER_CHILD, run_worker))
    if market:
        change, phase = simulated.change, simulated.market.phase_at

        def on_day(step: int, produced: int) -> None:
            if simulated.feed is not None:
                try:
                    simulated.feed.publish(step)
                except OSError as exc:  # a full disk: the next day writes every close again
                    logger.warning("could not publish the closes of day %d: %s", step, exc)
            if step == change:
                say(
                    f"simulated market: day {step - simulated.start}, the market turns from "
                    f"{phase(change - 1)} to {phase(change)}"
                )

        def trade() -> None:
            produced = run_market(
                bootstrap, config.trade_outcomes_topic, stop, market=simulated.market,
                desk=MomentumDesk(), start=simulated.start, days_per_s=days_per_s, on_day=on_day,
                api=MarketApi(*api) if api is not None else None,
            )  # fmt: skip
            if not stop.is_set():
                say(f"simulated market: finished after {produced} outcomes")

        threads.append(threading.Thread(target=trade, daemon=True))
        turn = change - simulated.start
        learned = (
            f"; the models learn its closes ({simulated.feed.path}) as each day settles"
            if simulated.feed is not None
            else ""
        )
        say(
            f"simulated market: {', '.join(simulated.market.symbols)} traded by a momentum desk "
            f"as bull_specialist, {days_per_s:g} trading days a second; it turns from "
            f"{phase(change - 1)} to {phase(change)} after {turn} days "
            f"(~{timedelta(seconds=round(turn / days_per_s))}){learned}"
            + (
                "; each day it asks the API for the symbols' predictions (they stream to the "
                "dashboard) and posts its outcomes to the API"
                if api is not None
                else ""
            )
        )

    def report() -> None:
        shown: list[str] = []
        seen_jobs = {r.job_id for r in store.update_history(limit=200)}
        last_success = ""
        while not stop.wait(report_every_s):
            try:
                lines = session_lines(store)
                updates = [r for r in store.update_history(limit=20) if r.job_id not in seen_jobs]
                success = success_line(read_headline(store, api))
            except Exception:  # a report must never take the demo down
                logger.exception("could not read the sessions")
                continue
            if lines and lines != shown:
                say("online sessions:\n" + "\n".join(lines))
                shown = lines
            if success != last_success:
                say(success)
                last_success = success
            for record in reversed(updates):
                seen_jobs.add(record.job_id)
                say(
                    f"update of {record.model_id}: {record.decision} ({record.reason}), serving "
                    f"v{record.version}; validation Sharpe {_fmt(record.sharpe_pre)} -> "
                    f"{_fmt(record.sharpe_post)}"
                )

    threads.append(threading.Thread(target=report, daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield process
    finally:
        stop.set()
        if supervisor is not None:
            supervisor.remove(WORKER_CHILD)
        for thread in threads:
            thread.join(timeout=30)
