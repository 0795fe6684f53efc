"""The dashboard's first panel, the five success metrics, in headless Chromium against the real
app: trades an agent reports through the client SDK (``SignalCombiner`` + ``build_outcome``)
reach ``GET /metrics/summary``, and the panel shows what the API answers, formatted: "—" with
a reason where nothing measured a figure yet, each figure's definition (the API's own field
description) as its tooltip, and a refresh every 10 s.

A figure is compared with the answer the page showed: the page marks the panel with the
answer's ``generated_at``, and the test waits until the API's current answer is the one on
screen (the server keeps an answer 10 s, the page reads it every 10 s).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np
import pytest

from online_learning.features import FEATURE_COLUMNS
from online_learning_client import Prediction, SignalCombiner, build_outcome
from tests.serving.dashboard.conftest import artifacts_dir
from tests.utils.api_keys import AGENT, FEEDER, OPS
from tests.utils.live_server import LiveServer
from tests.utils.waiting import wait_for

SYMBOL = "AAA"
FEATURES = list(FEATURE_COLUMNS)  # of the champions (tests/utils/registries.py)
TRAINED_THROUGH = date(2026, 1, 2)
SUMMARY = "/metrics/summary?window_days=30"
NONE = "—"

# The page's state as the tests read it: every figure, the panel's answer and its lines.
SHOWN = """() => {
    const panel = document.querySelector('[data-testid=success-panel]');
    const text = (selector) => panel.querySelector(selector)?.textContent ?? null;
    const figures = {};
    for (const node of panel.querySelectorAll('.figure')) {
        figures[node.dataset.field] = {
            tile: node.closest('.tile').dataset.testid,
            value: node.querySelector('.figure-value').textContent,
            note: node.querySelector('.figure-note').textContent,
            state: node.dataset.state,
            title: node.title,
            better: node.classList.contains('better'),
        };
    }
    const verdict = panel.querySelector('[data-testid=success-verdict]');
    const curve = panel.querySelector('[data-testid=success-impact-curve]');
    return {
        generatedAt: panel.dataset.generatedAt ?? null,
        figures,
        updated: text('#success-updated'),
        episode: text('[data-testid=success-episode]'),
        status: text('[data-testid=success-status]'),
        verdict: verdict.textContent,
        verdictState: verdict.dataset.verdict ?? null,
        curveShown: !curve.hidden,
        curveTitle: curve.title,
        curvePoints: Number(curve.dataset.points ?? 0),
        rows: [...panel.querySelectorAll('#success-episode-rows tr')].map((tr) => ({
            ...tr.dataset,
            cells: [...tr.children].map((td) => td.textContent),
        })),
    };
}"""


# -- the page's formats, for the answer's numbers (serving/dashboard/static/js/success.js) ---
def days(v: float) -> str:
    return f"{v:.1f} d"


def seconds(s: float) -> str:
    """dom.js ``duration``."""
    if s < 1:
        return f"{math.floor(s * 1000 + 0.5)} ms"
    if s < 120:
        return f"{s:.{1 if s < 10 else 0}f} s"
    if s < 7200:
        return f"{math.floor(s / 60 + 0.5)} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def rate(v: float) -> str:
    return f"{v * 100:.1f} %"


def pnl(v: float) -> str:
    return f"+{v:.4f}" if v > 0 else f"{v:.4f}"


def count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def headline_figures(answer: dict) -> dict[str, str | None]:
    """What the freshness, accuracy and impact figures show for ``answer`` (None: "—")."""
    h = answer["headline"]

    def shown(value, fmt):
        return None if value is None else fmt(value)

    compared = h["compared_trades"] > 0
    impact = h["impact_trades"] > 0
    low, high = h["ml_added_low"], h["ml_added_high"]
    return {
        "mean_data_age_days": shown(h["mean_data_age_days"], days),
        "mean_promotion_age_days": shown(h["mean_promotion_age_days"], days),
        "max_checkpoint_age_s": shown(h["max_checkpoint_age_s"], seconds),
        "compared_trades": count(h["compared_trades"], "trade") if compared else None,
        "online_hit_rate": shown(h["online_hit_rate"], rate) if compared else None,
        "batch_hit_rate": shown(h["batch_hit_rate"], rate) if compared else None,
        "online_log_loss": shown(h["online_log_loss"], lambda v: f"{v:.4f}") if compared else None,
        "batch_log_loss": shown(h["batch_log_loss"], lambda v: f"{v:.4f}") if compared else None,
        "ml_added_pnl": pnl(h["ml_added_pnl"]) if impact else None,
        "ml_added_interval": f"[{pnl(low)}, {pnl(high)}]" if impact and low is not None else None,
        "impact_trades": count(h["impact_trades"], "trade") if impact else None,
    }


def episode_figures(answer: dict) -> dict[str, str | None]:
    """What the adaptation and efficiency figures show: the newest episode's."""
    fields = ("detection_delay_outcomes", "detection_delay_s", "adaptation_delay_s",
              "serving_delay_s", "outcomes_to_recover", "days_to_recover")  # fmt: skip
    if not answer["episodes"]:
        return dict.fromkeys(fields)
    e = answer["episodes"][-1]
    formats = {
        "detection_delay_outcomes": lambda n: count(n, "outcome"),
        "detection_delay_s": seconds,
        "adaptation_delay_s": seconds,
        "serving_delay_s": seconds,
        "outcomes_to_recover": lambda n: count(n, "outcome"),
        "days_to_recover": lambda n: count(n, "day"),
    }
    return {f: None if e[f] is None else formats[f](e[f]) for f in fields}


def assert_shows(shown: dict, expected: dict[str, str | None]) -> None:
    for field, text in expected.items():
        figure = shown["figures"][field]
        if text is None:
            assert (figure["value"], figure["state"]) == (NONE, "none"), (field, figure)
            assert figure["note"], f"{field} shows '—' without a reason"
        else:
            assert (figure["value"], figure["state"]) == (text, "value"), (field, figure)


def assert_matches(shown: dict, answer: dict) -> None:
    """Every figure, the episode line and table, and the impact's verdict, as ``answer``."""
    assert_shows(shown, headline_figures(answer) | episode_figures(answer))
    h = answer["headline"]
    assert count(answer["trades"], "trade") in shown["updated"]
    low, high = h["ml_added_low"], h["ml_added_high"]
    if h["impact_trades"] and low is not None:
        verdict = "includes-zero" if low <= 0 <= high else "added" if low > 0 else "cost"
        assert shown["verdictState"] == verdict
        assert ("includes 0" in shown["verdict"]) == (verdict == "includes-zero")
    else:
        assert shown["verdictState"] is None and shown["verdict"] == ""
    curve = answer["impact_curve"]  # a sparkline once there are two points
    assert shown["curveShown"] == (len(curve) >= 2)
    if len(curve) >= 2:
        assert shown["curvePoints"] == len(curve)
    episodes = answer["episodes"]
    assert [r["driftId"] for r in shown["rows"]] == [e["drift_id"] for e in episodes[::-1][:8]]
    if episodes:
        newest = episodes[-1]
        assert f"{newest['model_id']} on {newest['symbol']}" in shown["episode"]
        assert shown["status"] == newest["status"]
        assert shown["rows"][0]["status"] == newest["status"]


def wait_shown(dashboard, app, until=lambda answer: True, *, timeout_s: float = 90):
    """The API's answer once ``until(answer)`` holds and the panel shows that very answer;
    with the page's state."""
    page = dashboard.page
    with app.api(AGENT) as api:

        def check():
            answer = api.get(SUMMARY)
            assert answer.status_code == 200, answer.text
            answer = answer.json()
            if not until(answer):
                return None
            shown = page.evaluate(SHOWN)
            return (answer, shown) if shown["generatedAt"] == answer["generated_at"] else None

        return wait_for(check, timeout_s=timeout_s, every_s=0.5,
                        what="the success panel to show the API's answer",
                        details=lambda: page.evaluate(SHOWN))  # fmt: skip


def schemas(app) -> dict:
    return httpx.get(f"{app.url}/api/v1/openapi.json", timeout=30).json()["components"]["schemas"]


def definitions(app) -> dict[str, str]:
    properties = schemas(app)["Headline"]["properties"]
    return {name: p["description"] for name, p in properties.items()}


# -- trades through the SDK -------------------------------------------------------------------
class Agent:
    """A trading agent: asks for predictions, blends them with its rule, reports the trades."""

    def __init__(self, app, *, seed: int) -> None:
        self.app = app
        self.rng = np.random.default_rng(seed)
        self.combiner = SignalCombiner(min_confidence=0.5)  # the ML view always counts
        self.start = datetime.now(UTC) - timedelta(days=1)
        self.traded = 0

    def predict(self, n: int) -> list[Prediction]:
        requests = [{"symbol": SYMBOL, "features": {f: float(self.rng.normal()) for f in FEATURES}}
                    for _ in range(n)]  # fmt: skip
        with self.app.api(AGENT) as api:
            answer = api.post("/predictions", json={"requests": requests})
        assert answer.status_code == 200, answer.text
        return [Prediction.model_validate(p) for p in answer.json()["predictions"]]

    def trade(self, n: int, *, rule=None, **options) -> list[tuple]:
        """``n`` trades, their rule signal ``rule(prediction, rng)`` (uniform by default);
        ``(prediction, signal, realised return)`` of each."""
        done, outcomes = [], []
        for prediction in self.predict(n):
            signal = self.combiner.combine(
                prediction,
                rule_signal=rule(prediction) if rule else float(self.rng.uniform(-1, 1)),
            )
            realized = float(self.rng.normal(0.0, 0.01))
            stamp = self.start + timedelta(minutes=self.traded)
            self.traded += 1
            outcomes.append(build_outcome(signal, realized_return=realized, timestamp=stamp,
                                          **options))  # fmt: skip
            done.append((prediction, signal, realized))
        post(self.app, outcomes)
        return done


def post(app, outcomes: list[dict]) -> None:
    with app.api(FEEDER) as api:
        for start in range(0, len(outcomes), 100):
            answer = api.post("/feedback/outcomes", json=outcomes[start : start + 100])
            assert answer.status_code == 200, answer.text
            assert {r["status"] for r in answer.json()["results"]} == {"accepted"}, answer.text


def start_session(app) -> None:
    with app.api(OPS) as api:
        answer = api.post("/sessions/start", json={"symbol": SYMBOL, "feature_names": FEATURES})
    assert answer.status_code == 201, answer.text


def ml_added(trades) -> float:
    """By hand: what the blend earned minus what the rule alone would have."""
    return math.fsum((s.position - s.rule_position) * r for _, s, r in trades)


@pytest.fixture
def trained_app(small_champions, registry, dashboard_settings):
    """The app over the small champions, the bull one tagged as trained through
    :data:`TRAINED_THROUGH` (a champion's data age needs that tag)."""
    registry.client.set_model_version_tag("bull_specialist", small_champions["bull_specialist"],
                                          "train_end", TRAINED_THROUGH.isoformat())  # fmt: skip
    app = LiveServer(dashboard_settings, timeout_graceful_shutdown=5).start()
    try:
        app.wait_ready()
        yield app
    finally:
        app.stop()


def test_the_panel_shows_dashes_then_what_the_agent_traded_and_follows_new_trades(
    trained_app, dashboard_for
):
    app = trained_app
    dashboard = dashboard_for(app.url)
    dashboard.open(AGENT)  # the predict scope reads the summary
    dashboard.wait_open()
    page = dashboard.page

    # Before any trade: "—" with a reason wherever nothing was measured.
    answer, shown = wait_shown(dashboard, app)
    assert answer["trades"] == 0
    assert_matches(shown, answer)
    figures = shown["figures"]
    assert figures["mean_data_age_days"]["value"] == days(
        (datetime.fromisoformat(answer["generated_at"]) - datetime(2026, 1, 2, tzinfo=UTC))
        / timedelta(days=1)
    )
    assert figures["max_checkpoint_age_s"]["note"] == "no online session"
    nothing_compared = "no trade had both an online and a batch prediction"
    assert figures["compared_trades"]["note"] == nothing_compared
    for field in ("ml_added_pnl", "ml_added_interval", "impact_trades"):
        assert figures[field]["note"] == "no rule-only positions reported"
    for field in ("detection_delay_outcomes", "adaptation_delay_s", "outcomes_to_recover"):
        assert figures[field]["note"] == "no drift yet"
    # Each figure's tooltip is the API's definition of it.
    described = definitions(app)
    for field, figure in figures.items():
        if field == "ml_added_interval":
            assert figure["title"] == f"{described['ml_added_low']}\n{described['ml_added_high']}"
        else:
            assert figure["title"] == described[field], field
    assert {f["tile"] for f in figures.values()} == {
        "success-freshness", "success-adaptation", "success-accuracy", "success-efficiency",
        "success-impact",
    }  # fmt: skip
    assert page.locator("[data-testid=success-episodes]").is_hidden()
    # The panel comes first.
    first = page.evaluate("document.querySelector('#app > section').dataset.testid")
    assert first == "success-panel"

    # An agent with an online session trades 40 times.
    start_session(app)
    agent = Agent(app, seed=7)
    trades = agent.trade(1)
    wait_for(lambda: agent.predict(1)[0].session, timeout_s=30,
             what="the online session in the predictions")  # fmt: skip
    trades += agent.trade(39)
    answer, shown = wait_shown(dashboard, app, lambda a: a["trades"] == 40)
    assert_matches(shown, answer)
    h = answer["headline"]
    added = ml_added(trades)
    assert h["impact_trades"] == 40 and h["ml_added_pnl"] == pytest.approx(added, abs=1e-12)
    assert shown["figures"]["ml_added_pnl"]["value"] == pnl(added)
    assert shown["figures"]["impact_trades"]["value"] == "40 trades"
    assert h["compared_trades"] >= 39 and shown["figures"]["online_hit_rate"]["state"] == "value"
    better = h["online_hit_rate"] > h["batch_hit_rate"]
    if h["online_hit_rate"] != h["batch_hit_rate"]:
        assert shown["figures"]["online_hit_rate"]["better"] == better
        assert shown["figures"]["batch_hit_rate"]["better"] == (not better)
    assert shown["figures"]["max_checkpoint_age_s"]["state"] == "value"
    assert shown["curveShown"] and shown["curvePoints"] == 40
    assert shown["curveTitle"] == schemas(app)["PnlPoint"]["description"]
    print("impact after 40 trades:", shown["figures"]["ml_added_interval"]["value"],
          shown["verdict"])  # fmt: skip
    dashboard.screenshot("success")

    # 20 more trades, by an agent whose rule now stays short half the book: the panel follows.
    more = agent.trade(20, rule=lambda prediction: -0.5)
    answer, shown = wait_shown(dashboard, app, lambda a: a["trades"] == 60)
    assert_matches(shown, answer)
    added = ml_added(trades + more)
    assert answer["headline"]["ml_added_pnl"] == pytest.approx(added, abs=1e-12)
    assert shown["figures"]["ml_added_pnl"]["value"] == pnl(added)
    assert shown["figures"]["impact_trades"]["value"] == "60 trades"


# -- an adaptation episode, from the drift to the recovery ------------------------------------
class SpecialistTrader(Agent):
    """An agent that trades the bull specialist's own view (``2 p_up - 1`` of its component)
    and credits it; the market moves its way with probability ``aligned``, and the trades
    carry the simulated regime (so the change is known)."""

    def trade_regime(self, n: int, *, regime: str, aligned: float, size: float = 0.01,
                     at: datetime | None = None) -> list[tuple]:  # fmt: skip
        done, outcomes = [], []
        for i, prediction in enumerate(self.predict(n)):
            p_bull = next(c.p_up for c in prediction.components if c.name == "bull_specialist")
            up = (p_bull > 0.5) == (self.rng.random() < aligned)
            move = abs(float(self.rng.normal(size, size / 4))) + 1e-4
            realized = move if up else -move
            signal = self.combiner.combine(prediction)
            if at is None:
                stamp = self.start + timedelta(minutes=self.traded)
            else:
                stamp = at + timedelta(milliseconds=i)
            self.traded += 1
            outcomes.append(build_outcome(
                signal, realized_return=realized, position=2 * p_bull - 1, timestamp=stamp,
                model_id="bull_specialist", extra={"simulated_regime": regime},
            ))  # fmt: skip
            done.append((prediction, signal, realized))
        post(self.app, outcomes)
        return done


def bull_drift(app) -> dict | None:
    with app.api(AGENT) as api:
        rows = api.get("/drift/status").json()
    return next((r for r in rows if r["model_id"] == "bull_specialist" and r["symbol"] == SYMBOL
                 and r["last_detection_at"]), None)  # fmt: skip


def test_an_adaptation_episode_shows_from_detection_to_recovery(live_app, registry, dashboard):
    from online_learning.metrics_store import MetricsStore, UpdateRecord
    from online_learning.settings import get_settings
    from tests.utils.registries import register_specialists

    app = live_app
    dashboard.open(AGENT)
    dashboard.wait_open()
    answer, shown = wait_shown(dashboard, app)
    # Champions registered without the tag of their last day of data: no data age.
    assert shown["figures"]["mean_data_age_days"]["note"] == (
        "no champion says the last day it trained on"
    )
    assert shown["figures"]["mean_promotion_age_days"]["state"] == "value"
    assert_matches(shown, answer)

    # The bull market turns: the specialist's trades start losing until its drift is found.
    trader = SpecialistTrader(app, seed=3)
    trader.trade_regime(150, regime="bull", aligned=0.75)
    for _ in range(16):
        trader.trade_regime(25, regime="bear", aligned=0.2)
        if bull_drift(app):
            break
    assert bull_drift(app), "no drift of bull_specialist on AAA after 400 losing trades"
    answer, shown = wait_shown(dashboard, app, lambda a: len(a["episodes"]) == 1)
    assert_matches(shown, answer)
    [episode] = answer["episodes"]
    assert episode["model_id"] == "bull_specialist" and episode["symbol"] == SYMBOL
    assert episode["status"] == "detected"
    assert episode["detection_delay_outcomes"] >= 1  # the change is known: regime labels
    figures = shown["figures"]
    assert figures["adaptation_delay_s"]["note"] == "no adapted version promoted yet"
    assert figures["outcomes_to_recover"]["note"] == "not recovered yet"
    assert shown["rows"][0]["cells"][4] == (
        f"{count(episode['detection_delay_outcomes'], 'outcome')} · "
        f"{seconds(episode['detection_delay_s'])}"
    )

    # An adapted version is promoted (as the update flow does: the registry's champion and the
    # update's record) and this replica serves it.
    adapted = register_specialists(registry)["bull_specialist"]
    wait_for(lambda: app.wait_ready().get("champions", {}).get("bull_specialist") == adapted,
             timeout_s=60, what=f"the app to serve bull_specialist v{adapted}")  # fmt: skip
    now = datetime.now(UTC)
    with MetricsStore.from_settings(get_settings()) as store:
        store.record_update(UpdateRecord(
            job_id="drift/bull_specialist/1", model_id="bull_specialist", decision="promoted",
            reason="improved", version=adapted, duration_s=1.0, started_at=now, finished_at=now,
        ))  # fmt: skip
    answer, shown = wait_shown(dashboard, app, lambda a: a["episodes"][-1]["status"] == "serving")
    assert_matches(shown, answer)
    episode = answer["episodes"][-1]
    assert episode["adapted_version"] == adapted
    assert shown["figures"]["adaptation_delay_s"]["value"] == seconds(episode["adaptation_delay_s"])
    assert shown["figures"]["serving_delay_s"]["value"] == seconds(episode["serving_delay_s"])
    assert f"v{adapted}" in shown["episode"]

    # The adapted model trades its way back to its pre-drift level.
    trader.trade_regime(60, regime="bull", aligned=0.95, size=0.015, at=datetime.now(UTC))
    answer, shown = wait_shown(dashboard, app,
                               lambda a: a["episodes"][-1]["status"] == "recovered")  # fmt: skip
    assert_matches(shown, answer)
    episode = answer["episodes"][-1]
    assert shown["figures"]["outcomes_to_recover"]["value"] == count(
        episode["outcomes_to_recover"], "outcome"
    )
    assert shown["figures"]["days_to_recover"]["value"] == count(episode["days_to_recover"], "day")
    assert shown["rows"][0]["status"] == "recovered"
    dashboard.screenshot("episode")
    panel = artifacts_dir() / "success-panel.png"  # docs/img/dashboard-success.png
    dashboard.page.locator("[data-testid=success-panel]").screenshot(path=str(panel))
    print(f"screenshot: {panel}")
