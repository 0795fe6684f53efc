"""EWC against plain fine-tuning on the product's own regime-switching market."""

from __future__ import annotations

import copy
import math
from datetime import date

import torch

from online_learning.ewc import EWCPenalty, EWCState, compute_fisher_information
from online_learning.registry.memory import InMemoryRegistry
from online_learning.update.bootstrap import train_and_register
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner
from online_learning.update.outcomes import AWAITING
from online_learning.update.training import evaluate_loss, fit, make_loader
from online_learning.update.window import labelled_features
from tests.utils.frames import trained_specialist, xy
from tests.utils.markets import regime_switch, trading_days


def test_ewc_forgets_the_old_regime_less_than_plain_fine_tuning():
    market = regime_switch("bull", "sideways", n_symbols=10)
    days = trading_days(market)
    rows = labelled_features(market)
    bull_train = rows[rows["date"] <= days[300]]
    bull_test = rows[(rows["date"] > days[300]) & (rows["date"] <= days[399])]
    sideways = rows[(rows["date"] > days[410]) & (rows["date"] <= days[470])]

    old = trained_specialist(bull_train, epochs=40, seed=0)
    fisher = compute_fisher_information(
        old, make_loader(*xy(bull_train), batch_size=256, shuffle=False)
    )
    state = EWCState.from_model(old, fisher)
    loss_before = evaluate_loss(old, *xy(bull_test))

    def fine_tune(penalties) -> torch.nn.Module:
        model = copy.deepcopy(old)
        loader = make_loader(*xy(sideways), batch_size=32, seed=1)
        fit(model, loader, epochs=30, learning_rate=1e-2, penalties=penalties)
        return model

    plain = fine_tune([])
    ewc = fine_tune([EWCPenalty(state, ewc_lambda=100.0)])
    plain_forgetting = evaluate_loss(plain, *xy(bull_test)) - loss_before
    ewc_forgetting = evaluate_loss(ewc, *xy(bull_test)) - loss_before

    assert plain_forgetting > 0.02  # plain fine-tuning really forgot the bull regime
    assert ewc_forgetting < 0.5 * plain_forgetting
    # ... while still learning the new regime, rather than staying frozen.
    assert evaluate_loss(ewc, *xy(sideways)) < evaluate_loss(old, *xy(sideways))


def _daily_updates(market, days, first: int, count: int, **options):
    """Bootstrap on the days before ``first`` and update every day for ``count`` days, with
    the product's defaults unless ``options`` say otherwise; yields (day, outcome, champion)."""
    registry = InMemoryRegistry()
    train_and_register(
        registry=registry, source=market, model_id="m", end=days[first - 1].date(), epochs=40
    )
    learner = OnlineLearner(registry, market)
    judged = None
    for i in range(first, first + count):
        config = IncrementalUpdateConfig(
            model_id="m", as_of=days[i].date(), judged_through=judged, seed=i, **options
        )
        outcome = learner.incremental_update(config)
        if outcome.judged_through:
            judged = date.fromisoformat(outcome.judged_through)
        yield i, outcome, registry.load_champion("m")


def test_online_fisher_stays_bounded_on_a_daily_schedule():
    # Daily windows share all but a day or two: weighted by their new days, the accumulated
    # Fisher stays near 1 / -ln(0.5) = 1.44 windows' worth instead of growing to ~10.
    market = regime_switch("bull", "bull")
    days = trading_days(market)
    last = None
    for _, outcome, champion in _daily_updates(
        market, days, 200, 60, validation_days=3, min_validation_days=2, learning_rate=1e-3
    ):
        last = (outcome, champion) if outcome.promoted else last
    outcome, champion = last
    assert champion.ewc_state.n_updates > 15
    rows = labelled_features(market, start=days[200].date(), end=days[259].date())
    window = compute_fisher_information(
        champion.model, make_loader(*xy(rows), batch_size=256, shuffle=False)
    )
    accumulated = champion.ewc_state.stats()["fisher_mean"]
    one_window = float(torch.cat([f.reshape(-1) for f in window.values()]).mean())
    assert 0.3 < accumulated / one_window < 1.5, accumulated / one_window


#: Decided updates within which the default settings adapt to a new regime (see below).
ADAPTS_WITHIN = 14


def test_after_a_regime_switch_the_default_update_beats_a_coin_within_a_few_updates():
    # Momentum (bull) turns into mean reversion (sideways) at day 400. The bull champion's
    # cross-entropy on the new regime is worse than a coin's; the default update (bounded
    # online EWC, the measured learning rate and lambda) must bring the champion's
    # cross-entropy on the next 20 unseen days below log(2) within ADAPTS_WITHIN decisions.
    market = regime_switch("bull", "sideways")
    days = trading_days(market)
    rows = labelled_features(market)
    coin = math.log(2.0)
    decisions, losses = 0, []
    for i, outcome, champion in _daily_updates(market, days, 405, 80):
        decisions += outcome.reason != AWAITING
        ahead = rows[(rows["date"] > days[i]) & (rows["date"] <= days[i + 20])]
        losses.append(evaluate_loss(champion.model, *xy(ahead)))
        if losses[-1] < coin:
            break
    assert losses[0] > coin, losses[0]
    assert losses[-1] < coin, losses
    assert decisions <= ADAPTS_WITHIN, (decisions, losses)
