"""The ``online-learning`` command line in-process, on a user CSV and a real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import EXIT_DEFERRED, EXIT_ERROR, EXIT_PROMOTED, EXIT_ROLLED_BACK, app
from tests.utils.markets import regime_switch, to_wide, trading_days

runner = CliRunner()


@pytest.fixture(scope="module")
def market_csv(tmp_path_factory) -> tuple[Path, list]:
    """Bull then sideways, written as the long CSV a user would bring."""
    market = regime_switch("bull", "sideways")
    path = tmp_path_factory.mktemp("data") / "prices.csv"
    frame = market.fetch().drop(columns=["regime"])
    frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    return path, trading_days(market)


def _run(*args: str):
    return runner.invoke(app, list(args))


def _day(days, i: int) -> str:
    return days[i].strftime("%Y-%m-%d")


def test_update_rejects_a_window_out_of_range(home):
    result = _run("update", "--model_id", "m", "--data_window_days", "14")
    assert result.exit_code == EXIT_ERROR
    assert "data_window must be between 30 and 90" in result.output


def test_update_without_a_champion_says_how_to_bootstrap(home):
    result = _run("update", "--model_id", "nobody", "--data", "synthetic")
    assert result.exit_code == EXIT_ERROR
    assert "online-learning train" in result.output


def test_unknown_data_source_lists_the_choices(home):
    result = _run("update", "--data", "no-such-file.csv")
    assert result.exit_code == EXIT_ERROR
    assert "synthetic" in result.output and "sp500" in result.output


@pytest.mark.parametrize("depth", [1, 12])
def test_malformed_csv_fails_with_file_row_and_column_on_one_line(home, tmp_path, depth):
    # A deep folder makes the message far longer than a terminal line: it must not be wrapped.
    folder = tmp_path.joinpath(*[f"folder-[{i}]-with-a-long-name" for i in range(depth)])
    folder.mkdir(parents=True)
    bad = folder / "bad.csv"
    bad.write_text("date,symbol,close\n2024-01-02,AAA,10\n2024-01-03,AAA,abc\n")
    result = _run("train", "--model_id", "m", "--data", str(bad))
    assert result.exit_code == EXIT_ERROR
    line = next(x for x in result.output.splitlines() if x.startswith("error:"))
    assert f"{bad}, row 3, column 'close'" in line


def test_train_then_update_exit_codes_follow_the_decision(home, market_csv):
    path, days = market_csv
    common = ("--model_id", "cli_model", "--data", str(path))
    trained = _run("train", *common, "--end", _day(days, 250), "--epochs", "40")
    assert trained.exit_code == 0, trained.output
    assert "cli_model" in trained.output

    # Plain fine-tuning with a large step overfits the window: the gate rolls it back.
    overfit = _run(
        "update", *common, "--as-of", _day(days, 330), "--learning_rate", "1e-2",
        "--ewc_lambda", "0", "--epochs", "30", "--validation-days", "30",
        "--gate-confidence", "0.9", "--json",
    )  # fmt: skip
    assert overfit.exit_code == EXIT_ROLLED_BACK, overfit.output
    [outcome] = json.loads(overfit.stdout)
    assert outcome["decision"] == "rolled_back"
    assert outcome["champion_version"] == "1"

    # After the switch to the sideways regime, learning the new relationship is promoted.
    adapted = _run(
        "update", *common, "--as-of", _day(days, 470), "--learning_rate", "1e-2",
        "--ewc_lambda", "100", "--epochs", "10", "--validation-days", "30", "--json",
    )  # fmt: skip
    assert adapted.exit_code == EXIT_PROMOTED, adapted.output
    [outcome] = json.loads(adapted.stdout)
    assert outcome["decision"] == "promoted"
    assert outcome["version"] == "2"
    assert outcome["sharpe_post"] > outcome["sharpe_pre"]

    # Two days later only two validation days are new: nothing is trained or judged.
    waited = _run("update", *common, "--as-of", _day(days, 472), "--validation-days", "30")
    assert waited.exit_code == EXIT_DEFERRED, waited.output
    assert "deferred" in waited.output and "champion stays at v2" in waited.output

    listed = _run("models")
    assert "cli_model" in listed.output

    rolled = _run("rollback", "--model_id", "cli_model")
    assert rolled.exit_code == 0, rolled.output
    again = _run("rollback", "--model_id", "cli_model")
    assert again.exit_code == EXIT_ERROR
    assert "no earlier champion" in again.output


def test_wide_csv_trains_end_to_end(home, market_csv, tmp_path):
    path, _ = market_csv
    wide = tmp_path / "wide.csv"
    to_wide(path).to_csv(wide, index=False)
    result = _run("train", "--model_id", "wide_model", "--data", str(wide), "--epochs", "5")
    assert result.exit_code == 0, result.output
    assert "wide_model" in result.output
