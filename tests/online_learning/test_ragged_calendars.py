"""Ragged calendars: symbols of several markets, with their own holidays, one that ends three
days early, one that starts mid-period, one delisted, are traded on the days whose executed
return is known, in the backtest (through the production update path and its gate) and in the
metrics store, instead of stopping the run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import cli.backtest_cmd  # noqa: F401 - registers the command on the app
from cli import app
from online_learning.backtest.harness import daily_returns
from online_learning.execution import executed_returns
from online_learning.features import FEATURE_COLUMNS, build_features, labelled
from online_learning.metrics_store import MetricsStore
from online_learning.models import RegimeSpecialist
from online_learning.update.performance import realised_performance
from tests.utils.price_frames import make_prices

#: Holidays of three exchanges in the second half of 2021 (business days they were closed).
HOLIDAYS = {
    "NYSE": ["2021-07-05", "2021-09-06", "2021-11-25", "2021-12-24"],
    "LSE": ["2021-08-30", "2021-12-27", "2021-12-28"],
    "TSE": ["2021-07-22", "2021-07-23", "2021-08-09", "2021-09-20", "2021-09-23",
            "2021-11-03", "2021-11-23"],
}  # fmt: skip
MARKET = {"SPX": "NYSE", "FTSE": "LSE", "N225": "TSE", "GONE": "NYSE"}


def ragged_prices() -> pd.DataFrame:
    """Four index-like series of different exchanges ending 2021-12-31: SPX on the NYSE
    calendar, FTSE on London's ending three days early, N225 on Tokyo's starting mid-period,
    GONE delisted in November."""
    frame = make_prices(tuple(MARKET), n_days=520, seed=7, start="2020-01-06", ohlcv=True)
    days = sorted(frame["date"].unique())
    closed = frame.apply(lambda r: str(r["date"].date()) in HOLIDAYS[MARKET[r["symbol"]]], axis=1)
    frame = frame[~closed]
    frame = frame[~((frame["symbol"] == "FTSE") & (frame["date"] > days[-4]))]
    frame = frame[~((frame["symbol"] == "N225") & (frame["date"] < days[200]))]
    frame = frame[~((frame["symbol"] == "GONE") & (frame["date"] > pd.Timestamp("2021-11-15")))]
    return frame.reset_index(drop=True)


@pytest.fixture(scope="module")
def ragged_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("ragged") / "three_exchanges.csv"
    ragged_prices().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ragged_rows() -> pd.DataFrame:
    return labelled(build_features(ragged_prices()))


def test_rows_without_a_known_return_are_not_traded_and_keep_their_position(ragged_rows):
    torch.manual_seed(0)
    model = RegimeSpecialist(FEATURE_COLUMNS, hidden=(4,))
    last_days = sorted(ragged_rows["date"].unique())[-6:]
    rows = ragged_rows[ragged_rows["date"].isin(last_days)]
    known = np.isfinite(executed_returns(rows, "next-open"))
    assert not known.all() and known.any()  # FTSE's last rows (and everyone's last two) unknown
    held = {"FTSE": 0.25}
    book = daily_returns({"m": model}, rows, execution="next-open", cost_bps=5, previous=held)

    priced = rows.loc[known].sort_values(["date", "symbol"])
    p_up = model.predict_proba(priced[list(FEATURE_COLUMNS)].to_numpy(np.float32))
    position = 2 * p_up.astype(np.float64) - 1
    realised = np.expm1(priced["return_next_open"].to_numpy())
    previous, expected = dict(held), []
    for symbol, pos, ret in zip(priced["symbol"], position, realised, strict=True):
        expected.append(pos * ret - 5e-4 * abs(pos - previous.get(symbol, 0.0)))
        previous[symbol] = pos
    by_day = pd.Series(expected, index=priced["date"].to_numpy()).groupby(level=0).mean()
    assert list(book.net.index) == sorted(priced["date"].unique())  # unpriced days absent
    np.testing.assert_allclose(book.net.to_numpy(), by_day.to_numpy(), rtol=1e-9)
    # Each symbol holds the position of its last traded row: FTSE's unpriced last rows
    # changed nothing.
    assert set(rows.loc[~known, "symbol"]) >= {"FTSE"}
    assert book.positions == pytest.approx(previous)


def test_a_backtest_of_ragged_calendars_runs_to_the_files_last_date(ragged_csv, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "backtest", "--data", str(ragged_csv), "--start", "2021-11-01", "--policies",
            "static,ewc", "--horizon", "30", "--data-seeds", "1", "--update-every", "5",
            "--retrain-every", "20", "--retrain-window", "100", "--workers", "1",
            "--output", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    env = json.loads((out / "results.json").read_text())["environments"][f"file:{ragged_csv.name}"]
    # Through the last day any symbol's executed return is known: FTSE's early end, GONE's
    # delisting and the holidays did not cut the evaluation short.
    prices = ragged_prices()
    last_open = sorted(prices["date"].unique())[-3]  # next-open: the last two days are unpriced
    assert env["end"] == str(last_open.date())
    assert env["policies"]["ewc"]["updates"]["mean"] > 0  # the production update path ran
    timeline = pd.read_csv(out / "timeline.csv")
    assert set(timeline["policy"]) == {"static", "ewc"}


def test_the_metrics_store_records_the_priced_days_of_each_calendar(ragged_rows, tmp_path):
    torch.manual_seed(0)
    model = RegimeSpecialist(FEATURE_COLUMNS, hidden=(4,))
    recent = ragged_rows[ragged_rows["date"] >= pd.Timestamp("2021-11-01")]
    performance = realised_performance(model, recent, model_id="m")
    store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.migrate()
    assert store.record_daily_performance(performance) == len(performance)
    recorded = {(r.symbol, r.date) for r in performance}
    priced = recent.loc[np.isfinite(executed_returns(recent, "auto"))]
    assert recorded == {(s, d.date()) for s, d in zip(priced["symbol"], priced["date"],
                                                       strict=True)}  # fmt: skip
    days = {symbol: {d for s, d in recorded if s == symbol} for symbol in MARKET}
    assert max(days["GONE"]) < pd.Timestamp("2021-11-15").date()  # nothing after delisting
    assert max(days["FTSE"]) < max(days["SPX"])  # it ended early
    assert pd.Timestamp("2021-11-25").date() not in days["SPX"]  # Thanksgiving: closed
    assert pd.Timestamp("2021-11-25").date() in days["N225"]  # Tokyo traded that day
    summary = store.performance_summary("m", days=90)
    assert summary["n_days"] == len({d for _, d in recorded})
    store.dispose()
