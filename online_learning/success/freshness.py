"""Model freshness: how old the serving champions and the online sessions' checkpoints are.

For each champion a serving replica holds (:class:`ServedChampion`): **data age**, the days
from the last day of data its version trained on (its ``train_end`` tag) to now; **promotion
age**, the days since the registry made it champion (its ``promoted_at`` tag); and the
**serving lag**, from that promotion to this replica loading it (the lag on *every* replica is
the maximum over replicas, a Prometheus recording rule). For each online session: the age of
its newest checkpoint (what a replica predicts with). The platform's **average model age** is
the mean data age of the champions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["ChampionAge", "Freshness", "ServedChampion", "SessionAge", "freshness"]

_DAY_S = 86_400.0


@dataclass(frozen=True)
class ServedChampion:
    """A champion version as a replica serves it: when it was promoted and loaded, and the
    last day it trained on (None when its version does not say: registered before the tag)."""

    model_id: str
    version: str
    trained_through: date | None
    promoted_at: datetime | None
    loaded_at: datetime


@dataclass(frozen=True)
class ChampionAge:
    """A serving champion's ages in days, and the seconds from its promotion to this replica
    serving it (None where the version does not say)."""

    model_id: str
    version: str
    trained_through: date | None
    promoted_at: datetime | None
    loaded_at: datetime
    data_age_days: float | None
    promotion_age_days: float | None
    serving_lag_s: float | None


@dataclass(frozen=True)
class SessionAge:
    """A symbol's online session: outcomes learned and the age of its newest checkpoint."""

    symbol: str
    session_id: str
    samples_seen: int
    checkpointed_at: datetime | None
    checkpoint_age_s: float | None


@dataclass(frozen=True)
class Freshness:
    """The champions' and sessions' ages, and their means (None when there is nothing)."""

    champions: list[ChampionAge]
    sessions: list[SessionAge]
    mean_data_age_days: float | None
    mean_promotion_age_days: float | None
    max_checkpoint_age_s: float | None


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return math.fsum(known) / len(known) if known else None


def freshness(
    champions: Iterable[ServedChampion],
    sessions: Iterable[tuple[str, str, int, datetime | None]],
    *,
    now: datetime,
) -> Freshness:
    """The ages at ``now`` of ``champions`` and of ``sessions``
    (``(symbol, session_id, samples_seen, checkpointed_at)``).

    Examples
    --------
    >>> from datetime import timedelta
    >>> now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    >>> c = ServedChampion("bull", "3", date(2026, 1, 7), now - timedelta(days=2),
    ...                    now - timedelta(days=2) + timedelta(seconds=4))
    >>> f = freshness([c], [("AAA", "s-1", 40, now - timedelta(seconds=30))], now=now)
    >>> age = f.champions[0]
    >>> age.data_age_days, age.promotion_age_days, age.serving_lag_s
    (3.5, 2.0, 4.0)
    >>> f.mean_data_age_days, f.max_checkpoint_age_s
    (3.5, 30.0)
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ages = []
    for c in sorted(champions, key=lambda c: c.model_id):
        data_age = None
        if c.trained_through is not None:
            trained = datetime(c.trained_through.year, c.trained_through.month,
                               c.trained_through.day, tzinfo=UTC)  # fmt: skip
            data_age = (now - trained).total_seconds() / _DAY_S
        promotion_age = lag = None
        if c.promoted_at is not None:
            promotion_age = (now - c.promoted_at).total_seconds() / _DAY_S
            lag = max(0.0, (c.loaded_at - c.promoted_at).total_seconds())
        ages.append(ChampionAge(c.model_id, c.version, c.trained_through, c.promoted_at,
                                c.loaded_at, data_age, promotion_age, lag))  # fmt: skip
    session_ages = [
        SessionAge(
            symbol,
            session_id,
            int(seen),
            at,
            None if at is None else max(0.0, (now - at).total_seconds()),
        )
        for symbol, session_id, seen, at in sorted(sessions, key=lambda s: s[0])
    ]
    checkpoint_ages = [s.checkpoint_age_s for s in session_ages if s.checkpoint_age_s is not None]
    return Freshness(
        champions=ages,
        sessions=session_ages,
        mean_data_age_days=_mean(a.data_age_days for a in ages),
        mean_promotion_age_days=_mean(a.promotion_age_days for a in ages),
        max_checkpoint_age_s=max(checkpoint_ages) if checkpoint_ages else None,
    )
