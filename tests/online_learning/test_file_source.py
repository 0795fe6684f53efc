"""``FileSource``: long and wide CSV/Parquet files, and precise errors on malformed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from online_learning.data import FileSource, validate_prices
from online_learning.errors import DataError, DataFormatError
from tests.utils.price_frames import make_prices, to_wide, write_lines

LONG_HEADER = "date,symbol,close"


def test_long_csv_with_two_symbols_round_trips(tmp_path: Path) -> None:
    prices = make_prices(("AAA", "BBB"), n_days=40, ohlcv=True)
    shuffled = prices.sample(frac=1.0, random_state=0)
    # Users' headers vary in case and spacing; rows may come in any order.
    shuffled.columns = [" Date", "SYMBOL ", "Open", "High", "Low", "Close", "Volume"]
    path = tmp_path / "long.csv"
    shuffled.to_csv(path, index=False, date_format="%Y-%m-%d")

    loaded = FileSource(path).fetch()

    validate_prices(loaded, origin=str(path))
    pd.testing.assert_frame_equal(loaded, prices)


def test_wide_csv_drops_blank_cells_of_symbols_not_listed_yet(tmp_path: Path) -> None:
    prices = make_prices(("AAA", "BBB", "ccc"), n_days=30)
    wide = to_wide(prices)
    wide.loc[:9, "BBB"] = np.nan  # BBB lists on the 11th day
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False, date_format="%Y-%m-%d")

    loaded = FileSource(path).fetch()

    expected = prices.drop(prices.index[(prices["symbol"] == "BBB")][:10]).reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded, expected)
    assert loaded["symbol"].unique().tolist() == ["AAA", "BBB", "ccc"]  # symbol case is kept


@pytest.mark.parametrize("suffix", [".parquet", ".pq", ".PARQUET"])
def test_parquet_in_long_and_wide_layout(tmp_path: Path, suffix: str) -> None:
    prices = make_prices(("AAA", "BBB"), n_days=25, ohlcv=True)
    long_path = tmp_path / f"long{suffix}"
    wide_path = tmp_path / f"wide{suffix}"
    prices.to_parquet(long_path, index=False)
    to_wide(prices).to_parquet(wide_path, index=False)

    pd.testing.assert_frame_equal(FileSource(long_path).fetch(), prices)
    pd.testing.assert_frame_equal(
        FileSource(wide_path).fetch(), prices[["date", "symbol", "close"]]
    )


def test_fetch_slices_by_date_and_the_file_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    make_prices(("AAA",), n_days=20, start="2024-01-01").to_csv(path, index=False)
    source = FileSource(path)

    january = source.fetch("2024-01-08", "2024-01-12")
    path.unlink()  # later calls are served from the cached frame

    assert january["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-08",
        "2024-01-09",
        "2024-01-10",
        "2024-01-11",
        "2024-01-12",
    ]
    assert len(source.fetch()) == 20
    with pytest.raises(DataError, match="no prices between"):
        source.fetch("2025-01-01")


def test_blank_lines_are_skipped_but_still_count_as_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "gaps.csv",
        [
            LONG_HEADER,
            "2024-01-02,A,10",
            "",
            "2024-01-03,A,11",
            ",,",
            "2024-01-04,A,oops",
        ],
    )
    with pytest.raises(DataFormatError) as caught:
        FileSource(path).fetch()
    assert (caught.value.row, caught.value.column) == (6, "close")


# Each case: file lines, expected row (CSV line number), expected column, message fragment.
MALFORMED_CSV = {
    "bad date": (
        [LONG_HEADER, "2024-01-02,A,10", "2024-01-03,A,11", "2024-02-30,A,12"],
        4,
        "date",
        "cannot parse '2024-02-30'",
    ),
    "ambiguous date": (
        [LONG_HEADER, "2024-01-02,A,10", "01/03/2024,A,11"],
        3,
        "date",
        "ISO 8601",
    ),
    "time of day": ([LONG_HEADER, "2024-01-02 15:30,A,10"], 2, "date", "time of day"),
    "missing date": ([LONG_HEADER, "2024-01-02,A,10", ",A,11"], 3, "date", "missing date"),
    "non-numeric close": (
        [LONG_HEADER, "2024-01-02,A,10", "2024-01-03,A,11", "2024-01-04,A,1o"],
        4,
        "close",
        "'1o' is not a number",
    ),
    "thousands separator": ([LONG_HEADER, '2024-01-02,A,"1,010.5"'], 2, "close", "not a number"),
    "zero close": ([LONG_HEADER, "2024-01-02,A,10", "2024-01-03,B,0"], 3, "close", "> 0"),
    "negative close": ([LONG_HEADER, "2024-01-02,A,-10"], 2, "close", "> 0"),
    "missing close": ([LONG_HEADER, "2024-01-02,A,10", "2024-01-03,A,"], 3, "close", "missing"),
    "infinite close": ([LONG_HEADER, "2024-01-02,A,inf"], 2, "close", "not a finite number"),
    "missing symbol": ([LONG_HEADER, "2024-01-02,,10"], 2, "symbol", "missing symbol"),
    "negative volume": (
        ["date,symbol,close,volume", "2024-01-02,A,10,5", "2024-01-03,A,10,-5"],
        3,
        "volume",
        ">= 0",
    ),
    "duplicate pair": (
        [LONG_HEADER, "2024-01-02,A,10", "2024-01-02,B,10", "2024-01-02,A,11"],
        4,
        "date",
        "duplicate (date, symbol) pair (2024-01-02, A)",
    ),
    "wide bad cell": (
        ["date,AAA,BBB", "2024-01-02,10,", "2024-01-03,11,abc"],
        3,
        "BBB",
        "'abc' is not a number",
    ),
    "wide duplicate date": (
        ["date,AAA", "2024-01-02,10", "2024-01-02,11"],
        3,
        "date",
        "duplicate date",
    ),
    "missing date column": ([" day ,symbol,close", "2024-01-02,A,10"], None, "date", "'date'"),
    "long without close": (["date,symbol,price", "2024-01-02,A,10"], None, "close", "'close'"),
    "price column but no symbol": (["date,close", "2024-01-02,10"], None, "close", "'symbol'"),
    "repeated column": (["date,AAA,aaa ,AAA", "2024-01-02,1,2,3"], None, "AAA", "more than once"),
    "wide without prices": (["date", "2024-01-02"], None, None, "needs price columns"),
    "wide all blank": (["date,AAA", "2024-01-02,", "2024-01-03,"], None, None, "every price"),
    "header only": ([LONG_HEADER], None, None, "no data rows"),
    "unnamed column": ([",date,AAA", "0,2024-01-02,1"], None, None, "column 1 of the header"),
    "ragged row": ([LONG_HEADER, "2024-01-02,A,10,99"], None, None, "line 2"),
}


@pytest.mark.parametrize("case", list(MALFORMED_CSV))
def test_malformed_csv_names_file_row_and_column(tmp_path: Path, case: str) -> None:
    lines, row, column, fragment = MALFORMED_CSV[case]
    path = write_lines(tmp_path / "prices.csv", lines)

    with pytest.raises(DataFormatError) as caught:
        FileSource(path).fetch()

    error = caught.value
    message = str(error)
    assert (error.row, error.column) == (row, column)
    assert message.startswith(str(path))
    assert fragment in message
    if row is not None:
        assert f"row {row}" in message
    if column is not None:
        assert f"column {column!r}" in message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFormatError, match=r"empty\.csv: file is empty"):
        FileSource(empty).fetch()
    with pytest.raises(DataFormatError, match=r"absent\.parquet: file does not exist"):
        FileSource(tmp_path / "absent.parquet").fetch()


def test_unknown_suffix_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"prices\.xlsx: unsupported file type '\.xlsx'"):
        FileSource(tmp_path / "prices.xlsx")
    with pytest.raises(DataFormatError, match="no suffix"):
        FileSource(tmp_path / "prices")


def test_parquet_errors_use_one_based_data_rows(tmp_path: Path) -> None:
    prices = make_prices(("AAA",), n_days=5)
    prices.loc[3, "close"] = -1.0
    path = tmp_path / "bad.parquet"
    prices.to_parquet(path, index=False)
    with pytest.raises(DataFormatError) as caught:
        FileSource(path).fetch()
    assert (caught.value.row, caught.value.column) == (4, "close")

    garbage = tmp_path / "garbage.pq"
    garbage.write_text("this is not parquet")
    with pytest.raises(DataFormatError, match="not a readable Parquet file"):
        FileSource(garbage).fetch()
