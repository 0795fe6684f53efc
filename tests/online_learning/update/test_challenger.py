"""The challenger period: its sequential test's error rates, and the update path that names,
promotes, retires or keeps waiting on a challenger in a real MLflow registry."""

from __future__ import annotations

import numpy as np
import pytest

from online_learning.update.bootstrap import train_and_register
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner
from online_learning.update.outcomes import RollbackResult, UpdateDeferred, UpdateSuccess
from online_learning.update.sequential import SequentialTest
from tests.utils.challengers import mirrored, register
from tests.utils.markets import decisive_market, trading_days

MODEL = "adaptive_model"


def ar1_pairs(rng, n_paths: int, n_days: int, *, phi: float, effect: float) -> np.ndarray:
    """Daily differences with AR(1) serial correlation ``phi``, unit long-run spread per day
    scaled to 1 % daily volatility, and mean ``effect`` (in units of that spread)."""
    shocks = rng.standard_t(df=5, size=(n_paths, n_days)) / np.sqrt(5 / 3)
    d = np.empty_like(shocks)
    d[:, 0] = shocks[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, n_days):
        d[:, t] = phi * d[:, t - 1] + shocks[:, t]
    long_run_sd = 1 / (1 - phi)
    return 0.01 * (d / long_run_sd + effect)


def outcomes(test: SequentialTest, paths: np.ndarray) -> dict[str, float]:
    verdicts = [test.read(path) for path in paths]
    share = {r: np.mean([v.reason == r for v in verdicts]) for r in
             ("challenger_better", "challenger_worse", "challenger_inconclusive")}  # fmt: skip
    share["days"] = float(np.median([v.n_days for v in verdicts]))
    return share


@pytest.mark.parametrize("phi", [0.0, 0.3])
def test_equal_candidates_are_rarely_promoted_however_often_the_test_is_read(phi):
    # Read every day for 60 days (as the daily flow reads it), equal books, fat tails and
    # serial correlation: promotions stay near the stated 5 % (600 paths: +-1.8 % s.e.).
    test = SequentialTest(confidence=0.95, horizon_days=60, min_days=10)
    paths = ar1_pairs(np.random.default_rng(7), 600, 60, phi=phi, effect=0.0)
    share = outcomes(test, paths)
    assert share["challenger_better"] <= 0.08, share
    assert share["challenger_inconclusive"] >= 0.8, share


def test_a_clear_gain_is_promoted_and_a_clear_loss_retired_well_before_the_horizon():
    test = SequentialTest(confidence=0.95, horizon_days=60, min_days=10)
    rng = np.random.default_rng(8)
    gain = outcomes(test, ar1_pairs(rng, 300, 60, phi=0.3, effect=0.6))
    loss = outcomes(test, ar1_pairs(rng, 300, 60, phi=0.3, effect=-0.6))
    assert gain["challenger_better"] >= 0.9 and gain["challenger_worse"] == 0, gain
    assert loss["challenger_worse"] >= 0.9 and loss["challenger_better"] == 0, loss
    assert gain["days"] < 40 and loss["days"] < 40


def test_a_margin_promotes_a_challenger_that_is_not_worse():
    # Equal books: without a margin they are retired at the horizon; with a margin of one
    # annualised Sharpe of the champion's book the challenger is promoted.
    rng = np.random.default_rng(9)
    champion = rng.normal(0.0005, 0.01, 120)
    differences = rng.normal(0.0, 0.001, 120)
    strict = SequentialTest(horizon_days=120, min_days=10).read(differences, champion)
    lenient = SequentialTest(horizon_days=120, min_days=10, margin=1.0).read(differences, champion)
    assert strict.reason == "challenger_inconclusive"
    assert lenient.reason == "challenger_better" and lenient.theta0 < 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="min_days"):
        SequentialTest(min_days=2)
    with pytest.raises(ValueError, match="horizon_days"):
        SequentialTest(horizon_days=5, min_days=10)
    with pytest.raises(ValueError, match="margin"):
        SequentialTest(margin=-1.0)
    with pytest.raises(ValueError, match="finite"):
        SequentialTest().evaluate(np.array([0.0, np.nan, 1.0]))


# -- through the update path ------------------------------------------------------------
@pytest.fixture(scope="module")
def market():
    """Bull for 400 days then sideways; a book's edge there is clear within a few weeks."""
    return decisive_market()


@pytest.fixture(scope="module")
def days(market):
    return trading_days(market)


@pytest.fixture
def champion(registry, market, days):
    train_and_register(
        registry=registry, source=market, model_id=MODEL, end=days[399].date(), epochs=40, seed=0
    )
    return registry.load_champion(MODEL)


def _config(**overrides) -> IncrementalUpdateConfig:
    options = {"model_id": MODEL, "learning_rate": 1e-2, "epochs": 30, "seed": 0,
               "validation_days": 30, "challenger_period": True, "challenger_min_days": 5,
               "max_weight_change": 50.0}  # fmt: skip
    return IncrementalUpdateConfig(**options | overrides)


def test_a_candidate_that_passes_the_gate_becomes_the_challenger_not_the_champion(
    registry, market, days, champion
):
    outcome = OnlineLearner(registry, market).incremental_update(
        _config(as_of=days[475].date(), judged_through=days[440].date())
    )
    assert isinstance(outcome, UpdateDeferred), outcome
    assert (outcome.decision, outcome.reason) == ("deferred", "challenger_named")
    assert registry.champion_version(MODEL) == champion.version == outcome.serving_version
    assert registry.challenger_version(MODEL) == outcome.challenger_version == "2"
    named = registry.load_version(MODEL, "2")
    assert named.tags["challenger_since"] == outcome.window_end
    assert named.ewc_state is not None  # it carries its consolidated Fisher, as a champion
    assert outcome.judged_through == outcome.window_end  # the gate's days are used up
    event = outcome.result()
    assert (event.challenger_version, event.challenger_days) == ("2", 0)


def test_a_better_challenger_is_promoted_once_the_test_decides(registry, market, days, champion):
    # The champion learned momentum in the bull market; in the sideways market after day 400
    # its mirror image (mean reversion) is the better model.
    bad = champion.version
    good = register(registry, MODEL, mirrored(champion.model), since=days[450].date())
    learner = OnlineLearner(registry, market)

    none_yet = learner.incremental_update(_config(as_of=days[451].date()))
    assert (none_yet.reason, none_yet.challenger_days) == ("challenger_pending", 0)
    assert "too few days priced" in none_yet.detail
    assert none_yet.result().challenger_low is None  # no interval yet: null in the records
    waiting = learner.incremental_update(_config(as_of=days[454].date()))
    assert (waiting.decision, waiting.reason) == ("deferred", "challenger_pending"), waiting
    assert waiting.challenger_days == 2 and waiting.challenger_version == good
    assert "day 2 of at most 60" in waiting.detail
    assert registry.champion_version(MODEL) == bad

    outcome = learner.incremental_update(_config(as_of=days[480].date()))
    assert isinstance(outcome, UpdateSuccess), outcome
    assert (outcome.reason, outcome.version, outcome.previous_version) == (
        "challenger_better",
        good,
        bad,
    )
    assert registry.champion_version(MODEL) == good
    assert registry.challenger_version(MODEL) is None
    # Decided on the first day the interval cleared zero, read day by day.
    assert 5 <= outcome.challenger_days < 26
    assert outcome.challenger_low > 0 and outcome.sharpe_post > outcome.sharpe_pre
    assert outcome.window_end == outcome.judged_end == outcome.judged_through


def test_a_worse_challenger_is_retired_and_the_champion_stays(registry, market, days, champion):
    # The champion trades mean reversion in the sideways market; the challenger momentum.
    better = register(registry, MODEL, mirrored(champion.model))
    registry.promote(model_id=MODEL, version=better)
    worse = register(registry, MODEL, champion.model, since=days[450].date())
    outcome = OnlineLearner(registry, market).incremental_update(_config(as_of=days[480].date()))
    assert isinstance(outcome, RollbackResult), outcome
    assert (outcome.reason, outcome.challenger_version) == ("challenger_worse", worse)
    assert outcome.challenger_high < 0 and outcome.detail.endswith("retired")
    assert registry.champion_version(MODEL) == better
    assert registry.challenger_version(MODEL) is None


def test_an_undecided_challenger_is_retired_at_the_horizon(registry, market, days, champion):
    # The challenger is the champion itself: no difference, never better.
    same = register(registry, MODEL, champion.model, since=days[450].date())
    outcome = OnlineLearner(registry, market).incremental_update(
        _config(as_of=days[480].date(), challenger_horizon_days=10)
    )
    assert (outcome.decision, outcome.reason) == ("rolled_back", "challenger_inconclusive")
    assert outcome.challenger_days == 10 and outcome.challenger_version == same
    assert registry.challenger_version(MODEL) is None


def test_the_benchmark_resamples_blocks_of_days_and_reads_the_default_test():
    from benchmarks.challenger_test import simulate
    from online_learning.stats import block_bootstrap_indices

    rng = np.random.default_rng(0)
    [index] = block_bootstrap_indices(500, length=60, mean_block=10, n_boot=1, seed=0)
    assert index.min() >= 0 and index.max() < 500
    assert 0.8 < np.mean(np.diff(index) == 1) < 0.95  # blocks of about 10 consecutive days
    champion = rng.normal(0.0, 0.01, 1000)
    # Books as alike as one update leaves them on the index: a gain of 1 is a clear difference.
    pair = {"champion": champion, "challenger": champion + rng.normal(0, 0.0005, 1000)}
    equal = simulate(pair, effect_sharpe=0.0, paths=150, seed=1)
    gain = simulate(pair, effect_sharpe=1.0, paths=150, seed=2)
    assert equal["promoted"] <= 0.08 and equal["inconclusive"] >= 0.85, equal
    assert gain["promoted"] > 0.9 and gain["median_days_to_decision"] < 40, gain


class _Spiked:
    """The market with one bad print: a close three times too high, undone the next day."""

    def __init__(self, market, day) -> None:
        self.market, self.day, self.name = market, day, market.name

    def fetch(self, start=None, end=None):
        frame = self.market.fetch(start, end)
        bad = (frame["date"] == self.day) & (frame["symbol"] == frame["symbol"].iloc[0])
        frame.loc[bad, "close"] *= 3.0
        return frame


def test_a_bad_print_in_the_period_keeps_the_challenger_pending(registry, market, days, champion):
    # The challenger would be retired as worse (see above) but for a spike in its period.
    better = register(registry, MODEL, mirrored(champion.model))
    registry.promote(model_id=MODEL, version=better)
    worse = register(registry, MODEL, champion.model, since=days[450].date())
    outcome = OnlineLearner(registry, _Spiked(market, days[460])).incremental_update(
        _config(as_of=days[480].date())
    )
    assert (outcome.decision, outcome.reason) == ("deferred", "challenger_pending"), outcome
    assert "not decided on suspect prices" in outcome.detail
    assert registry.challenger_version(MODEL) == worse
    assert registry.champion_version(MODEL) == better


def test_a_period_read_months_later_starts_the_day_after_its_challenger_was_named(
    registry, market, days, champion
):
    # No update ran for 230 trading days: the period is still read from its first day, and
    # decided within its 10-day horizon (not on days long after it).
    better = register(registry, MODEL, mirrored(champion.model), since=days[410].date())
    outcome = OnlineLearner(registry, market).incremental_update(
        _config(as_of=days[640].date(), challenger_horizon_days=10)
    )
    assert outcome.challenger_version == better and outcome.decision == "promoted", outcome
    assert outcome.judged_start == days[411].date().isoformat()
    assert outcome.challenger_days <= 10
