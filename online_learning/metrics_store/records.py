"""Rows of the metrics store: one update attempt, one model's realised day on one symbol."""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from online_learning.update_result import UpdateResult


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {value}")
    return value


def json_document(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of ``value``: paths and dates become strings, NaN is refused."""
    try:
        return json.loads(json.dumps(dict(value), default=str, allow_nan=False))
    except ValueError as exc:
        raise ValueError(f"{name} must be JSON without NaN or infinity: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class UpdateRecord(UpdateResult):
    """One incremental update attempt, as stored in ``update_history``: its
    :class:`~online_learning.update_result.UpdateResult`, the job that ran it, when, and the
    update's settings (``config``) and where it ran (``worker``, ``host:pid``, see
    :func:`this_worker`). ``decision`` ``failed`` means the update raised; its ``reason`` is
    the error. Timestamps must be timezone-aware.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2025, 1, 6, 18, 0, tzinfo=UTC)
    >>> record = UpdateRecord(job_id="job-1", model_id="bull", decision="rolled_back",
    ...     reason="sharpe_degradation", sharpe_pre=1.2, sharpe_post=float("nan"),
    ...     degradation_pct=None, duration_s=3.5, started_at=t, finished_at=t)
    >>> record.sharpe_post is None, record.sharpe_pre
    (True, 1.2)
    """

    job_id: str
    duration_s: float
    started_at: datetime
    finished_at: datetime
    config: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None

    def __post_init__(self) -> None:
        for name in ("job_id", "model_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        duration = float(self.duration_s)
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"duration_s must be a finite number >= 0, got {self.duration_s!r}")
        super().__post_init__()
        _aware("started_at", self.started_at)
        _aware("finished_at", self.finished_at)
        # Frozen: normalise through object.__setattr__, once, here.
        object.__setattr__(self, "duration_s", duration)
        object.__setattr__(self, "config", json_document("config", self.config))

    @classmethod
    def of(
        cls,
        result: UpdateResult,
        *,
        job_id: str,
        config: Mapping[str, Any],
        started_at: datetime,
        finished_at: datetime,
        worker: str | None = None,
    ) -> UpdateRecord:
        """The record of an update's ``result`` (a failure's duration is the wall time)."""
        fields = result.result_fields()
        if fields["duration_s"] is None:
            fields["duration_s"] = max((finished_at - started_at).total_seconds(), 0.0)
        return cls(
            **fields,
            job_id=job_id,
            config=config,
            started_at=started_at,
            finished_at=finished_at,
            worker=worker,
        )


def this_worker() -> str:
    """Where this process runs, as ``host:pid``: the ``worker`` of the updates it records."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class PerformanceRow:
    """What one model realised on one symbol on one trading day.

    ``position`` is the position held (e.g. ``2 * p_up - 1``), ``market_return`` the symbol's
    return that day and ``strategy_return`` what the position earned (after any costs, which
    is why it is given rather than computed). The store derives ``hit``: the position had the
    sign of the market's move (a flat position on a flat day counts as a hit).

    Examples
    --------
    >>> from datetime import date
    >>> row = PerformanceRow("bull", "SPY", date(2025, 1, 6), 0.4, 0.004, 0.01)
    >>> row.hit
    True
    """

    model_id: str
    symbol: str
    date: date
    position: float
    strategy_return: float
    market_return: float

    def __post_init__(self) -> None:
        for name in ("model_id", "symbol"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        day = self.date
        if isinstance(day, datetime):
            day = day.date()
        if not isinstance(day, date):
            raise TypeError(f"date must be a datetime.date, got {type(self.date).__name__}")
        object.__setattr__(self, "date", day)
        for name in ("position", "strategy_return", "market_return"):
            number = float(getattr(self, name))
            if not math.isfinite(number):
                raise ValueError(
                    f"{name} of {self.model_id}/{self.symbol} on {day} must be finite, got {number}"
                )
            object.__setattr__(self, name, number)

    @property
    def hit(self) -> bool:
        return _sign(self.position) == _sign(self.market_return)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


_FRAME_COLUMNS = ("model_id", "symbol", "date", "position", "strategy_return", "market_return")


def as_performance_rows(rows: pd.DataFrame | Sequence[PerformanceRow]) -> list[PerformanceRow]:
    """Validated :class:`PerformanceRow` objects from rows or a frame with their columns.

    The frame's ``date`` may hold dates, timestamps or ISO strings. A (model, symbol, date)
    given twice raises ``ValueError``.

    Examples
    --------
    >>> frame = pd.DataFrame({"model_id": ["bull"], "symbol": ["SPY"], "date": ["2025-01-06"],
    ...     "position": [0.5], "strategy_return": [0.005], "market_return": [0.01]})
    >>> as_performance_rows(frame)[0].date
    datetime.date(2025, 1, 6)
    """
    if isinstance(rows, pd.DataFrame):
        missing = [name for name in _FRAME_COLUMNS if name not in rows.columns]
        if missing:
            raise ValueError(f"performance frame lacks columns {missing}")
        frame = rows.loc[:, list(_FRAME_COLUMNS)].copy()
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        records = [PerformanceRow(*values) for values in frame.itertuples(index=False)]
    else:
        records = list(rows)
        for row in records:
            if not isinstance(row, PerformanceRow):
                raise TypeError(f"expected PerformanceRow, got {type(row).__name__}")
    # One statement cannot upsert a key twice (PostgreSQL refuses), and which row should win
    # would be a guess.
    seen: set[tuple[str, str, date]] = set()
    for row in records:
        key = (row.model_id, row.symbol, row.date)
        if key in seen:
            raise ValueError(f"rows repeat (model_id, symbol, date) = {key}")
        seen.add(key)
    return records
