"""A team's own source class (``package.module:Class``) through ``resolve_source``.

The team's package, ``acme_data``, lives in ``team_code/`` and is not installed: each test puts
that folder on ``sys.path`` as a team would with ``PYTHONPATH``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from online_learning.data import CustomSource, DataSource, resolve_source
from online_learning.errors import ConfigError, DataError, DataFormatError

TEAM_CODE = Path(__file__).parent / "team_code"


@pytest.fixture(autouse=True)
def team_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TEAM_CODE))
    yield
    for name in [m for m in sys.modules if m == "acme_data" or m.startswith("acme_data.")]:
        del sys.modules[name]


def test_a_class_is_built_with_the_seed_and_its_frames_checked() -> None:
    source = resolve_source("acme_data.sources:DailyBars", seed=7)

    assert isinstance(source, CustomSource) and isinstance(source, DataSource)
    assert source.name == "acme-daily" and source.source.seed == 7
    window = source.fetch("2021-02-01", "2021-02-05")
    assert window.groupby("symbol").size().to_dict() == {"ACME": 5, "INIT": 5, "TECH": 5}
    # The team's fetch receives the bounds as midnight timestamps.
    assert source.source.calls[-1] == (pd.Timestamp("2021-02-01"), pd.Timestamp("2021-02-05"))
    # The same seed gives the same prices; the seed reaches the team's class.
    again = resolve_source("acme_data.sources:DailyBars", seed=7).fetch("2021-02-01", "2021-02-05")
    pd.testing.assert_frame_equal(window, again)
    other = resolve_source("acme_data.sources:DailyBars", seed=8).fetch("2021-02-01", "2021-02-05")
    assert not window["close"].equals(other["close"])


def test_a_factory_an_instance_and_an_indexed_frame_are_accepted() -> None:
    made = resolve_source("acme_data.sources:make_source")
    shared = resolve_source("acme_data.sources:SHARED")
    indexed = resolve_source("acme_data.sources:IndexedBars")

    assert made.source.seed == 5
    assert shared.source is sys.modules["acme_data.sources"].SHARED
    frame = indexed.fetch("2021-01-04", "2021-01-05")
    assert list(frame.columns) == ["date", "symbol", "close"]
    assert len(frame) == 6


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "acme_data.nowhere:Bars",
            "acme_data.nowhere:Bars: cannot import 'acme_data.nowhere': no module named "
            "'acme_data.nowhere' (is its package installed, or its folder on PYTHONPATH?)",
        ),
        (
            "acme_data.sources:DailyBar",
            "acme_data.sources:DailyBar: module 'acme_data.sources' has no attribute 'DailyBar' "
            "(it has: BadTick, DailyBars, FlakyFeed, IndexedBars, LeakyBars, ListBars, "
            "Nameless, NeedsPath, NoCredentials, NoFetch, NoRange, SHARED, ...)",
        ),
        (
            "acme_data.sources:NeedsPath",
            "acme_data.sources:NeedsPath(path) needs arguments: it is called with no "
            "arguments (or only seed=...)",
        ),
        (
            "acme_data.sources:NoCredentials",
            "acme_data.sources:NoCredentials() failed: PermissionError: ACME_API_KEY is not set",
        ),
        (
            "acme_data.sources:NoFetch",
            "acme_data.sources:NoFetch() returned a NoFetch, which is not a data source: it "
            "needs a 'name' (str) and a 'fetch(start, end)' method returning the long price "
            "frame (date, symbol, close[, open, high, low, volume]); missing: fetch",
        ),
        (
            "acme_data.sources:NoRange",
            "acme_data.sources:NoRange(): fetch() cannot be called as fetch(start, end) (got an "
            "unexpected keyword argument 'start')",
        ),
        (
            "acme_data.sources:Nameless",
            "acme_data.sources:Nameless(seed=0): its 'name' must be a non-empty string, got ''",
        ),
        ("acme_data.sources:pd", "acme_data.sources:pd is a module, not a class, a factory"),
    ],
    ids=[
        "no-module",
        "no-attribute",
        "needs-arguments",
        "constructor-fails",
        "no-fetch",
        "fetch-signature",
        "nameless",
        "not-callable",
    ],
)
def test_an_unusable_entry_point_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_source(spec)

    assert str(caught.value).startswith(message)


def test_a_module_that_fails_to_import_is_named_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "broken_team"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "feeds.py").write_text("import vendor_sdk_not_installed\n")
    (package / "typo.py").write_text("def broken(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ConfigError) as missing:
        resolve_source("broken_team.feeds:Feed")
    with pytest.raises(ConfigError) as syntax:
        resolve_source("broken_team.typo:Feed")

    assert str(missing.value) == (
        "broken_team.feeds:Feed: importing 'broken_team.feeds' failed: ModuleNotFoundError: "
        "No module named 'vendor_sdk_not_installed'"
    )
    assert str(syntax.value).startswith(
        "broken_team.typo:Feed: importing 'broken_team.typo' failed: SyntaxError:"
    )
    assert "typo.py, line 1" in str(syntax.value)


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        (
            "acme_data.sources:LeakyBars",
            DataError,
            "acme_data.sources:LeakyBars: fetch(2021-02-01, 2021-02-05) returned rows outside "
            "that range (symbol 'ACME' on 2021-01-04); return only the days asked for "
            "(online_learning.data.slice_dates does it)",
        ),
        (
            "acme_data.sources:BadTick",
            DataFormatError,
            "acme_data.sources:BadTick, column 'close': symbol 'INIT' on 2021-01-06: inf is not "
            "a finite number",
        ),
        (
            "acme_data.sources:ListBars",
            DataError,
            "acme_data.sources:ListBars: fetch returned a list, not a pandas DataFrame",
        ),
        (
            "acme_data.sources:FlakyFeed",
            DataError,
            "acme_data.sources:FlakyFeed: fetch(2021-02-01, 2021-02-05) failed: ConnectionError: "
            "vendor API timed out after 30 s",
        ),
        (
            "acme_data.sources:YmdDates",
            DataFormatError,
            "acme_data.sources:YmdDates, column 'date': symbol 'ACME': cannot read 20210201; "
            "expected a date such as 2024-01-31 (a DATE or TIMESTAMP column, or ISO 8601 text)",
        ),
    ],
    ids=["future-rows", "non-finite", "not-a-frame", "fetch-raises", "integer-dates"],
)
def test_bad_frames_are_refused_naming_the_source(spec: str, error: type, message: str) -> None:
    source = resolve_source(spec)
    start = "2021-01-06" if spec.endswith("BadTick") else "2021-02-01"

    with pytest.raises(error) as caught:
        source.fetch(start, "2021-02-05")

    assert str(caught.value) == message


def test_a_range_without_data_is_an_error_naming_the_range() -> None:
    with pytest.raises(DataError, match="no prices between 2030-01-01 and 2030-12-31"):
        resolve_source("acme_data.sources:DailyBars").fetch("2030-01-01", "2030-12-31")
