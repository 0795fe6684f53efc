"""``SqlSource`` on the real PostgreSQL (a table, a query) and on SQLite files."""

from __future__ import annotations

import pickle
import sqlite3
import sys
import traceback
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from online_learning.data import SqlSource, resolve_source
from online_learning.errors import DataError, DataFormatError
from tests.utils.postgres import temporary_database, temporary_schema
from tests.utils.price_frames import make_prices

# Trust authentication ignores it; it is in every URL so that every message can be searched
# for it (and for its URL-encoded form, s3cr%25t%40pw).
PASSWORD = "s3cr%t@pw"
SECRETS = (PASSWORD, "s3cr%25t%40pw", "s3cr")

BARS_DDL = """CREATE TABLE daily_bars (
    "Date" date, "SYMBOL" text, "Open" double precision, high double precision,
    low double precision, "Close" numeric(12, 4), "Volume" bigint, note text)"""


@pytest.fixture(scope="module")
def database() -> Iterator[URL]:
    with temporary_database("ol_sql_source") as url:
        yield url


@pytest.fixture
def schema(database: URL) -> Iterator[URL]:
    """A schema of its own (the URL's search path), dropped after the test."""
    with temporary_schema(database) as url:
        yield url


def spec(url: URL, **params: str) -> str:
    """The source as a user writes it: ``postgresql://`` (no driver named) with a password."""
    full = url.set(drivername="postgresql", password=PASSWORD).update_query_dict(params)
    return full.render_as_string(hide_password=False)


def execute(url: URL, *statements: str, rows: list[dict] | None = None) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), rows or [{}])


def write_bars(url: URL, prices: pd.DataFrame) -> None:
    """``prices`` into ``daily_bars``: mixed-case columns, NUMERIC closes, a note column."""
    rows = [
        {
            "d": row.date.date(),
            "s": row.symbol,
            "o": row.open,
            "h": row.high,
            "l": row.low,
            "c": round(row.close, 4),
            "v": int(row.volume),
        }
        for row in prices.itertuples()
    ]
    execute(url, BARS_DDL)
    execute(
        url,
        "INSERT INTO daily_bars VALUES (:d, :s, :o, :h, :l, :c, :v, 'from the test')",
        rows=rows,
    )


def expected(prices: pd.DataFrame) -> pd.DataFrame:
    return prices.assign(close=prices["close"].round(4))[
        ["date", "symbol", "open", "high", "low", "close", "volume"]
    ]


def message_of(excinfo: pytest.ExceptionInfo) -> str:
    """The message, asserting that no exception a traceback would show quotes the password."""
    shown, error = [], excinfo.value
    while error is not None:  # the chain as traceback and logging print it
        shown.append("".join(traceback.format_exception_only(error)))
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    for secret in SECRETS:
        assert secret not in "".join(shown)
    return str(excinfo.value)


@pytest.fixture
def rows_sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each SELECT of the test returned from the database."""
    counts: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and cursor.description:
            counts.append(cursor.rowcount)

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", count)
    yield counts
    sa.event.remove(sa.engine.Engine, "after_cursor_execute", count)


# --- PostgreSQL -------------------------------------------------------------------------------


def test_a_table_reads_as_the_contract_frame(schema: URL) -> None:
    prices = make_prices(("AAA", "BBB", "CCC"), n_days=60, ohlcv=True)
    write_bars(schema, prices)

    source = resolve_source(spec(schema, table="daily_bars"))

    assert isinstance(source, SqlSource)
    pd.testing.assert_frame_equal(source.fetch(), expected(prices))
    assert PASSWORD not in source.name and PASSWORD not in repr(source)
    assert source.name.startswith("sql:postgresql://postgres:***@127.0.0.1:5432/")
    assert source.name.endswith("&table=daily_bars")
    # Another spelling of the table's name finds it too (PostgreSQL folds unquoted names).
    assert len(resolve_source(spec(schema, table="DAILY_BARS")).fetch()) == len(prices)


def test_a_range_fetch_reads_only_the_range_from_the_database(
    schema: URL, rows_sent: list[int]
) -> None:
    prices = make_prices(("AAA", "BBB"), n_days=80, ohlcv=True)
    write_bars(schema, prices)
    source = resolve_source(spec(schema, table="daily_bars"))
    source.fetch("2020-01-01", "2020-01-03")  # learns the layout
    rows_sent.clear()

    window = source.fetch("2020-02-03", "2020-02-14")

    inside = prices[(prices["date"] >= "2020-02-03") & (prices["date"] <= "2020-02-14")]
    pd.testing.assert_frame_equal(window, expected(inside).reset_index(drop=True))
    assert rows_sent == [len(inside)] == [20]  # ten days of two symbols, nothing more
    with pytest.raises(DataError) as caught:
        source.fetch("2031-01-01")
    assert message_of(caught).endswith(
        "no prices between 2031-01-01 and +inf (it covers 2020-01-01 to 2020-04-21)"
    )


def test_a_query_is_wrapped_and_filtered_by_the_range(schema: URL, rows_sent: list[int]) -> None:
    prices = make_prices(("AAA", "ABC", "BBB"), n_days=40)
    execute(schema, "CREATE TABLE raw (ticker text, ts timestamp, px float8, tag text)")
    execute(
        schema,
        "INSERT INTO raw VALUES (:t, :ts, :px, '\\:tag')",  # escaped for sa.text
        rows=[{"t": r.symbol, "ts": r.date, "px": r.close} for r in prices.itertuples()],
    )
    # A cast, a LIKE with '%', a ':word' inside a literal and a final ';' reach PostgreSQL as
    # written.
    query = (
        "SELECT ts::date AS date, ticker AS symbol, px AS close FROM raw\n"
        "WHERE ticker LIKE 'A%' AND tag = ':tag';"
    )
    source = resolve_source(spec(schema, query=query))
    rows_sent.clear()

    window = source.fetch("2020-01-13", "2020-01-17")

    assert window.groupby("symbol").size().to_dict() == {"AAA": 5, "ABC": 5}
    assert rows_sent[-1] == 10
    assert "query_sha256=" in source.name and "SELECT" not in source.name


def test_timestamps_with_time_zone_are_read_in_utc(schema: URL) -> None:
    # Daily bars at midnight UTC, read by a session whose server default is New York.
    execute(schema, "CREATE TABLE bars (time timestamptz, symbol text, close float8)")
    execute(
        schema,
        "INSERT INTO bars VALUES ('2024-01-02 00:00+00', 'AAA', 10), "
        "('2024-01-03 00:00+00', 'AAA', 11)",
    )
    new_york = schema.update_query_dict(
        {"options": schema.query["options"] + " -ctimezone=America/New_York"}
    )

    source = resolve_source(spec(new_york, query="SELECT time AS date, symbol, close FROM bars"))

    assert source.fetch("2024-01-03").astype({"date": str}).values.tolist() == [
        ["2024-01-03", "AAA", 11.0]
    ]


@pytest.mark.parametrize(
    ("problem", "fragment"),
    [
        (
            "UPDATE daily_bars SET \"Close\" = 'NaN' WHERE \"SYMBOL\" = 'BBB' AND \"Date\" = '2020-01-07'",  # noqa: E501
            "column 'close': symbol 'BBB' on 2020-01-07: nan is not a finite number",
        ),
        (
            'UPDATE daily_bars SET "Close" = NULL WHERE "Date" = \'2020-01-03\'',
            "column 'close': symbol 'AAA' on 2020-01-03: missing value",
        ),
        (
            'UPDATE daily_bars SET "Open" = 0 WHERE "SYMBOL" = \'BBB\' AND "Date" = \'2020-01-02\'',
            "column 'open': symbol 'BBB' on 2020-01-02: 0.0 must be > 0",
        ),
        (
            "INSERT INTO daily_bars SELECT * FROM daily_bars WHERE \"Date\" = '2020-01-06'",
            "column 'date': symbol 'AAA' on 2020-01-06 appears more than once",
        ),
        (
            'ALTER TABLE daily_bars DROP COLUMN "Close"',
            "missing required column(s) ['close'] (its columns: Date, SYMBOL, Open, high, low, "
            "Volume, note; names are matched ignoring case)",
        ),
    ],
    ids=["nan-close", "null-close", "zero-open", "duplicate", "missing-column"],
)
def test_bad_rows_are_named_by_source_column_symbol_and_date(
    schema: URL, problem: str, fragment: str
) -> None:
    write_bars(schema, make_prices(("AAA", "BBB"), n_days=10, ohlcv=True))
    execute(schema, problem)

    with pytest.raises(DataFormatError) as caught:
        resolve_source(spec(schema, table="daily_bars")).fetch()

    message = message_of(caught)
    assert message.startswith("postgresql://postgres:***@127.0.0.1:5432/")
    assert ", table 'daily_bars'" in message
    assert message.endswith(fragment)


def test_a_missing_table_is_named_with_those_that_exist(schema: URL) -> None:
    write_bars(schema, make_prices(n_days=3, ohlcv=True))

    with pytest.raises(DataFormatError) as caught:
        resolve_source(spec(schema, table="daily_barz")).fetch()

    assert message_of(caught).endswith(
        "no table or view 'daily_barz' in the database (it has: daily_bars)"
    )


def test_a_failing_query_quotes_the_query_and_the_database_error(schema: URL) -> None:
    write_bars(schema, make_prices(n_days=3, ohlcv=True))

    with pytest.raises(DataError) as caught:
        resolve_source(spec(schema, query="SELECT date, symbol, price FROM daily_bars")).fetch()

    message = message_of(caught)
    assert ", query 'SELECT date, symbol, price FROM daily_bars': " in message
    assert 'column "date" does not exist' in message


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgresql://trader:{pw}@127.0.0.1:1/db?table=bars", "connection"),
        ("postgresql://trader:{pw}@127.0.0.1:notaport/db?table=bars", "not a database URL"),
        ("postgresql://trader:{pw}@127.0.0.1/db", "give the table or the query"),
        ("postgresql://trader:{pw}@127.0.0.1/db?table=a&query=SELECT+1", "the table or the query"),
        ("postgresql://trader:{pw}@127.0.0.1/db?table=a&table=b", "give table= once"),
        ("nosuchdb://trader:{pw}@127.0.0.1/db?table=bars", "not a database SQLAlchemy knows"),
        ("postgresql+asyncpg://trader:{pw}@127.0.0.1/db?table=b", "asynchronous"),
    ],
    ids=["unreachable", "bad-port", "no-table", "both", "twice", "unknown", "async"],
)
def test_bad_urls_fail_with_the_password_hidden(url: str, fragment: str) -> None:
    with pytest.raises(DataError) as caught:
        resolve_source(url.format(pw="s3cr%25t%40pw")).fetch()

    message = message_of(caught)
    assert fragment in message
    assert "trader:***@" in message or "trader" not in message


def test_a_missing_driver_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # As where only the runtime dependencies are installed: no PostgreSQL driver at all.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)

    with pytest.raises(DataError) as caught:
        resolve_source(f"postgresql://trader:{PASSWORD}@db/market?table=daily_bars")

    assert message_of(caught).endswith(
        "the database driver of 'postgresql+psycopg' is not installed: install the Python "
        "package 'psycopg[binary]' (pip install 'psycopg[binary]')"
    )


def test_a_source_pickles_without_its_engine(schema: URL) -> None:
    write_bars(schema, make_prices(n_days=5, ohlcv=True))
    source = resolve_source(spec(schema, table="daily_bars"))
    first = source.fetch()

    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(source)).fetch(), first)


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_file(tmp_path, frame: pd.DataFrame, table: str = "bars") -> str:
    path = tmp_path / "market.db"
    with sqlite3.connect(path) as db:
        frame.to_sql(table, db, index=False)
    db.close()
    return str(path)


def test_sqlite_text_dates_from_pandas_range_by_day(tmp_path) -> None:
    prices = make_prices(n_days=30, ohlcv=True)
    # pandas stores timestamps as '2020-01-01 00:00:00' text: '<=' end would drop the last day.
    path = sqlite_file(tmp_path, prices.rename(columns=str.upper))

    window = resolve_source(f"sqlite:///{path}?table=bars").fetch("2020-01-06", "2020-01-10")

    inside = prices[(prices["date"] >= "2020-01-06") & (prices["date"] <= "2020-01-10")]
    pd.testing.assert_frame_equal(window, inside.reset_index(drop=True)[window.columns])
    assert window["date"].nunique() == 5


@pytest.mark.parametrize(
    ("dates", "fragment"),
    [
        (["02/01/2020", "03/01/2020"], "holds text such as '02/01/2020', which is not an ISO"),
        ([20200102, 20200103], "holds int values such as 20200102; expected a DATE"),
        (["2020-01-02", "2020-01-03 15:30"], "2020-01-03 15:30 has a time of day"),
    ],
    ids=["day-first", "integers", "time-of-day"],
)
def test_sqlite_dates_that_are_not_days_are_refused(tmp_path, dates, fragment) -> None:
    frame = pd.DataFrame({"date": dates, "symbol": "AAA", "close": [1.0, 2.0]})
    path = sqlite_file(tmp_path, frame)

    with pytest.raises(DataFormatError, match="column 'date'") as caught:
        resolve_source(f"sqlite:///{path}?table=bars").fetch()

    assert str(caught.value).startswith(f"sqlite:///{path}, table 'bars', column 'date': ")
    assert fragment in str(caught.value)


def test_a_missing_sqlite_file_is_not_created(tmp_path) -> None:
    path = tmp_path / "nowhere.db"

    with pytest.raises(DataFormatError, match=r"nowhere\.db does not exist"):
        resolve_source(f"sqlite:///{path}?table=bars").fetch()

    assert not path.exists()
    with pytest.raises(DataError, match="in-memory SQLite database holds no prices"):
        resolve_source("sqlite://?table=bars").fetch()


def test_sqlite_infinite_close_is_named(tmp_path) -> None:
    frame = make_prices(("AAA", "BBB"), n_days=4)
    frame.loc[6, "close"] = np.inf
    path = sqlite_file(tmp_path, frame)

    with pytest.raises(DataFormatError) as caught:
        resolve_source(f"sqlite:///{path}?query=SELECT+*+FROM+bars").fetch()

    assert str(caught.value) == (
        f"sqlite:///{path}, query 'SELECT * FROM bars', column 'close': symbol 'BBB' on "
        "2020-01-03: inf is not a finite number"
    )


def test_an_empty_table_is_read_again_once_it_has_rows(tmp_path) -> None:
    path = tmp_path / "market.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE bars (date TEXT, symbol TEXT, close REAL)")
    db.close()
    source = resolve_source(f"sqlite:///{path}?table=bars")

    with pytest.raises(DataError, match=r"no prices between -inf and \+inf \(no dated rows at all"):
        source.fetch()
    with sqlite3.connect(path) as db:  # the first rows arrive, as text dates
        db.execute("INSERT INTO bars VALUES ('2024-01-02', 'AAA', 10.0), ('2024-01-03', 'AAA', 11)")
    db.close()

    assert source.fetch(end="2024-01-02")["close"].tolist() == [10.0]
