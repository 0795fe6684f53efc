"""EWC against plain fine-tuning on the product's own regime-switching market."""

from __future__ import annotations

import copy

import torch

from online_learning.features import FEATURE_COLUMNS
from online_learning.update.ewc import EWCPenalty, EWCState, compute_fisher_information
from online_learning.update.training import evaluate_loss, fit, make_loader, train_from_scratch
from online_learning.update.window import labelled_features
from tests.utils.markets import regime_switch, trading_days


def test_ewc_forgets_the_old_regime_less_than_plain_fine_tuning():
    market = regime_switch("bull", "sideways", n_symbols=10)
    days = trading_days(market)
    rows = labelled_features(market)
    bull_train = rows[rows["date"] <= days[300]]
    bull_test = rows[(rows["date"] > days[300]) & (rows["date"] <= days[399])]
    sideways = rows[(rows["date"] > days[410]) & (rows["date"] <= days[470])]

    old, _ = train_from_scratch(bull_train, FEATURE_COLUMNS, epochs=40, seed=0)
    fisher = compute_fisher_information(
        old, make_loader(bull_train, FEATURE_COLUMNS, batch_size=256, shuffle=False)
    )
    state = EWCState.from_model(old, fisher)
    loss_before = evaluate_loss(old, bull_test, FEATURE_COLUMNS)

    def fine_tune(penalties) -> torch.nn.Module:
        model = copy.deepcopy(old)
        loader = make_loader(sideways, FEATURE_COLUMNS, batch_size=32, seed=1)
        fit(model, loader, epochs=30, learning_rate=1e-2, penalties=penalties)
        return model

    plain = fine_tune([])
    ewc = fine_tune([EWCPenalty(state, ewc_lambda=100.0)])
    plain_forgetting = evaluate_loss(plain, bull_test, FEATURE_COLUMNS) - loss_before
    ewc_forgetting = evaluate_loss(ewc, bull_test, FEATURE_COLUMNS) - loss_before

    assert plain_forgetting > 0.02  # plain fine-tuning really forgot the bull regime
    assert ewc_forgetting < 0.5 * plain_forgetting
    # ... while still learning the new regime, rather than staying frozen.
    assert evaluate_loss(ewc, sideways, FEATURE_COLUMNS) < evaluate_loss(
        old, sideways, FEATURE_COLUMNS
    )
