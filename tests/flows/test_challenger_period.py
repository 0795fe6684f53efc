"""The challenger period through the daily flow: one model's challenger promoted, another's
retired, each decision a history row and an event, and the next update judging later days."""

from __future__ import annotations

import pytest

from flows.daily_update import daily_update
from online_learning.configuration import load_configuration
from online_learning.configuration.plans import training_plan
from online_learning.data import resolve_source
from online_learning.update.bootstrap import train_and_register
from tests.utils.challengers import mirrored, register
from tests.utils.markets import trading_days

DATA = "tests.utils.markets:decisive_market"
CONFIG = "".join(
    f"""
[models.{model}]
network = "builtin"
features = "builtin"
data = "{DATA}"
window_days = 60
epochs = 2
challenger_period = true
challenger_min_days = 5
"""
    for model in ("momentum", "reversion")
)


@pytest.fixture
def days():
    return trading_days(resolve_source(DATA))


@pytest.fixture
def challengers(home, registry, monkeypatch, tmp_path, days):
    """Both models learned momentum in the bull market (to day 399). In the sideways market
    after it, mean reversion (the mirror image) wins: ``momentum`` keeps the momentum champion
    and is challenged by its mirror; ``reversion`` serves the mirror and is challenged by the
    momentum model. Both challengers were named after the gate judged through day 450."""
    path = tmp_path / "online-learning.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("ONLINE_LEARNING_CONFIG", str(path))
    configuration = load_configuration()
    named = {}
    for model in ("momentum", "reversion"):
        plan = training_plan(configuration, model)
        train_and_register(registry=registry, source=resolve_source(plan.data), model_id=model,
                           definition=plan.definition, end=days[399].date(), epochs=40)  # fmt: skip
        trained = registry.load_champion(model).model
        if model == "reversion":
            registry.promote(model_id=model, version=register(registry, model, mirrored(trained)))
            challenger = trained
        else:
            challenger = mirrored(trained)
        named[model] = register(registry, model, challenger, since=days[450].date())
    return named


def test_the_daily_flow_promotes_a_better_challenger_and_retires_a_worse_one(
    prefect_api, registry, metrics_store, challengers, days
):
    champions = {m: registry.champion_version(m) for m in challengers}
    state = daily_update(as_of=days[485].date(), return_state=True)
    assert state.is_completed(), state
    rows = {row["model"]: row for row in state.result()}
    assert (rows["momentum"]["decision"], rows["momentum"]["reason"]) == (
        "promoted", "challenger_better"
    )  # fmt: skip
    assert (rows["reversion"]["decision"], rows["reversion"]["reason"]) == (
        "rolled_back", "challenger_worse"
    )  # fmt: skip
    assert registry.champion_version("momentum") == challengers["momentum"]
    assert registry.champion_version("reversion") == champions["reversion"]
    assert registry.challenger_version("momentum") is registry.challenger_version("reversion")
    assert registry.challenger_version("momentum") is None

    # Each decision is a history row and an event that say which challenger, after how many
    # days, and the interval that decided.
    history = {r.model_id: r for r in metrics_store.update_history()}
    events = {e.payload["model_id"]: e.payload for e in metrics_store.pending_events()}
    for model, record in history.items():
        assert record.challenger_version == challengers[model]
        assert 5 <= record.challenger_days <= 35
        assert record.judged_start == days[451].date().isoformat()
        event = events[model]
        assert (event["challenger_version"], event["challenger_days"]) == (
            record.challenger_version, record.challenger_days
        )  # fmt: skip
        assert event["challenger_low"] == pytest.approx(record.challenger_low)
    assert history["momentum"].challenger_low > 0 > history["reversion"].challenger_high

    # The next run trains new candidates, judged only on days after the period's decision.
    state = daily_update(as_of=days[500].date(), return_state=True)
    assert state.is_completed(), state
    for model in challengers:
        decided, latest = metrics_store.update_history(model_id=model)[1::-1]
        assert latest.reason not in ("challenger_pending", "challenger_better"), latest
        if latest.judged_start is not None:
            assert latest.judged_start > decided.judged_end, (decided, latest)
