"""``online-learning train/update --data <database URL>`` on a table of the real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import EXIT_ERROR, EXIT_PROMOTED, EXIT_ROLLED_BACK, app
from online_learning.data import resolve_source
from tests.utils.postgres import temporary_database

runner = CliRunner()
PASSWORD = "cli-s3cret"  # ignored by trust authentication; must never be printed
SYMBOLS = ["AAPL", "JNJ", "KO", "XOM"]


@pytest.fixture(scope="module")
def bars_url() -> Iterator[str]:
    """Four of the bundled sp500-stocks, 2019-2021, in a table ``daily_bars``.

    The URL is written as a user would: ``postgresql://`` without a driver, a password.
    """
    prices = resolve_source("sp500-stocks").fetch("2019-01-02", "2021-12-31")
    prices = prices[prices["symbol"].isin(SYMBOLS)]
    with temporary_database("ol_cli_sql") as url:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            connection.execute(
                sa.text("CREATE TABLE daily_bars (day date, symbol text, close float8)")
            )
            connection.execute(
                sa.text("INSERT INTO daily_bars VALUES (:day, :symbol, :close)"),
                [
                    {"day": r.date.date(), "symbol": r.symbol, "close": r.close}
                    for r in prices.itertuples()
                ],
            )
            # The date column has another name: a query renames it.
            connection.execute(
                sa.text("CREATE VIEW bars AS SELECT day AS date, symbol, close FROM daily_bars")
            )
        yield url.set(drivername="postgresql", password=PASSWORD).render_as_string(
            hide_password=False
        )


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_train_and_update_on_a_postgresql_table(home, bars_url: str) -> None:
    data = ("--model_id", "sql_model", "--data", f"{bars_url}?table=bars")
    trained = _run("train", *data, "--end", "2021-06-30", "--epochs", "5")
    assert trained.exit_code == 0, trained.output
    assert "sql_model" in trained.output

    # Another source than the champion's (here the same rows through a query) is refused: a
    # model does not change market silently.
    query = "SELECT+day+AS+date,+symbol,+close+FROM+daily_bars"
    other = _run("update", "--model_id", "sql_model", "--data", f"{bars_url}?query={query}")
    assert other.exit_code == EXIT_ERROR
    assert "the update's data does not match its champion's" in other.output
    assert PASSWORD not in other.output
    updated = _run(
        "update", "--model_id", "sql_model", "--as-of", "2021-12-31", "--epochs", "2", "--json",
    )  # fmt: skip

    assert updated.exit_code in (EXIT_PROMOTED, EXIT_ROLLED_BACK), updated.output
    [outcome] = json.loads(updated.stdout)
    assert outcome["decision"] in ("promoted", "rolled_back")
    assert PASSWORD not in trained.output + updated.output
    # The run's record names the table, never the password.
    from mlflow.tracking import MlflowClient

    from online_learning.settings import get_settings

    client = MlflowClient(tracking_uri=get_settings().tracking_uri)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "params.data_source LIKE 'sql:%'"
    )
    assert runs, "the training run records its data source"
    [run] = runs
    assert PASSWORD not in json.dumps(run.data.params)
    assert run.data.params["data_source"].startswith("sql:postgresql://postgres:***@")
    assert run.data.params["data_source"].endswith("?table=bars")
    # Trained on the table's days up to --end: the last row is the last day whose next-day
    # label the data up to 2021-06-30 knows.
    assert run.data.params["end"] == "2021-06-29"
    assert "2019-01-02" <= run.data.params["start"] < "2019-06-01"


def test_a_missing_table_is_one_error_line_without_the_password(home, bars_url: str) -> None:
    result = _run("train", "--model_id", "m", "--data", f"{bars_url}?table=daily_barz")

    assert result.exit_code == EXIT_ERROR
    line = next(x for x in result.output.splitlines() if x.startswith("error:"))
    assert "table 'daily_barz'" in line and "no table or view 'daily_barz'" in line
    assert "(it has: bars, daily_bars)" in line
    assert PASSWORD not in result.output and "Traceback" not in result.output


def test_a_team_source_that_cannot_be_imported_is_one_error_line(home) -> None:
    result = _run("train", "--model_id", "m", "--data", "acme_feeds.daily:Bars")

    assert result.exit_code == EXIT_ERROR
    assert result.output.startswith(
        "error: acme_feeds.daily:Bars: cannot import 'acme_feeds.daily': no module named "
        "'acme_feeds'"
    )
    assert "Traceback" not in result.output


def test_a_teams_network_on_its_own_features_trains_and_updates_from_a_table(
    home, bars_url: str, tmp_path, monkeypatch
) -> None:
    from pathlib import Path

    team_code = Path(__file__).resolve().parents[1] / "online_learning" / "team_code"
    monkeypatch.syspath_prepend(str(team_code))
    config = tmp_path / "online-learning.toml"
    config.write_text(
        "[models.sql_team]\n"
        'network = "acme_models.nets:make_mlp"\n'
        'features = "acme_models.features:momentum"\n'
        'target = "return"\n'
        "horizon_days = 5\n"
        f'data = "{bars_url}?table=bars"\n'
        "window_days = 40\n"
        "epochs = 2\n"
    )
    trained = _run("--config", str(config), "train", "--end", "2021-06-30", "--epochs", "3")
    assert trained.exit_code == 0, trained.output
    updated = _run("--config", str(config), "update", "--as-of", "2021-12-31", "--json")
    assert updated.exit_code in (EXIT_PROMOTED, EXIT_ROLLED_BACK), updated.output
    [outcome] = json.loads(updated.stdout)
    assert outcome["model_id"] == "sql_team"
    assert outcome["reason"] not in ("inconsistent_data", "non_finite_data"), outcome
    assert "2021-" in outcome["window_end"]
    assert PASSWORD not in trained.output + updated.output
