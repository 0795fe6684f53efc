"""The data sources of a team, written against the documented ``DataSource`` protocol.

``DailyBars`` is what a team would write; the other classes each break one rule of the
protocol so that the tests can check what the platform says about it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from online_learning.data import slice_dates


def _walk(seed: int, symbols=("ACME", "INIT", "TECH"), n_days: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n_days)
    frames = []
    for i, symbol in enumerate(symbols):
        close = (40.0 + 20.0 * i) * np.exp(np.cumsum(rng.normal(0.0002, 0.015, n_days)))
        frames.append(pd.DataFrame({"date": dates, "symbol": symbol, "close": close}))
    return pd.concat(frames, ignore_index=True)


class DailyBars:
    """A vendor feed, here a seeded random walk; the platform passes its ``--seed``."""

    name = "acme-daily"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.calls: list[tuple] = []

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        self.calls.append((start, end))
        return slice_dates(_walk(self.seed), start, end, origin=self.name)


def make_source() -> DailyBars:
    """A factory: called with no arguments."""
    return DailyBars(seed=5)


#: A ready instance, used as it is.
SHARED = DailyBars(seed=3)


class IndexedBars(DailyBars):
    """Returns the frame indexed by (date, symbol), as pandas code often does, with a column
    of its own."""

    name = "acme-indexed"

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        return super().fetch(start, end).assign(vendor="acme").set_index(["date", "symbol"])


class LeakyBars(DailyBars):
    """Ignores the range: hands over every day it has, future days included."""

    name = "acme-leaky"

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        return _walk(self.seed)


class BadTick(DailyBars):
    """One close is infinite."""

    name = "acme-bad-tick"

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        frame = super().fetch(start, end)
        frame.loc[(frame["symbol"] == "INIT") & (frame["date"] == "2021-01-06"), "close"] = np.inf
        return frame


class ListBars(DailyBars):
    name = "acme-list"

    def fetch(self, start=None, end=None):
        return super().fetch(start, end).to_dict("records")


class FlakyFeed(DailyBars):
    name = "acme-flaky"

    def fetch(self, start=None, end=None):
        raise ConnectionError("vendor API timed out after 30 s")


class NeedsPath:
    name = "acme-file"

    def __init__(self, path: str) -> None:
        self.path = path

    def fetch(self, start=None, end=None):  # pragma: no cover - never built
        raise NotImplementedError


class NoCredentials:
    name = "acme-secure"

    def __init__(self) -> None:
        raise PermissionError("ACME_API_KEY is not set")

    def fetch(self, start=None, end=None):  # pragma: no cover - never built
        raise NotImplementedError


class NoFetch:
    name = "acme-nothing"


class NoRange:
    name = "acme-no-range"

    def fetch(self) -> pd.DataFrame:  # pragma: no cover - refused before any call
        return _walk(0)


class Nameless(DailyBars):
    name = ""


class YmdDates(DailyBars):
    """Dates as yyyymmdd integers, as some vendor files have them."""

    name = "acme-ymd"

    def fetch(self, start=None, end=None) -> pd.DataFrame:
        frame = super().fetch(start, end)
        return frame.assign(date=frame["date"].dt.strftime("%Y%m%d").astype(int))
