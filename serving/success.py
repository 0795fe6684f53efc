"""The success metrics of this replica: the summary the API answers and the gauges it exports.

:class:`SuccessMetrics` reads :func:`online_learning.success.summary.read_summary` for the
champions this replica serves (the ensemble's and those asked for by id), at most once every
``ttl_s`` seconds per window (a summary reads the trade ledger and resamples it: not work for
every scrape), and turns the summary into Prometheus gauges for ``GET /api/v1/metrics``:

- ``online_learning_champion_trained_through_timestamp_seconds``,
  ``online_learning_champion_promoted_timestamp_seconds`` and
  ``online_learning_champion_loaded_timestamp_seconds`` (``model_id``, ``version``): the
  recording rules of ``monitoring/prometheus/success.yml`` turn them into ages and into the
  promotion-to-serving lag on every replica;
- ``online_learning_session_checkpoint_timestamp_seconds`` (``symbol``);
- ``online_learning_adaptation_*`` (``model_id``, ``symbol``): the newest episode's delays and
  its outcomes to recover;
- ``online_learning_component_hit_rate``, ``_log_loss``, ``_pnl`` (``symbol``, ``kind``,
  ``component``: ``*`` for a kind's whole view, else one batch component);
- ``online_learning_ml_added_pnl``, ``_low``, ``_high``, ``online_learning_blended_pnl`` and
  ``online_learning_rules_pnl`` (``symbol``).

Figures over trades are those of the default window (30 days).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from online_learning.success.freshness import ServedChampion
from online_learning.success.summary import SuccessSummary, read_summary

__all__ = ["DEFAULT_WINDOW_DAYS", "SuccessCollector", "SuccessMetrics"]

DEFAULT_WINDOW_DAYS = 30.0
_TTL_S = 10.0
_MAX_WINDOWS = 8


class SuccessMetrics:
    """Cached summaries of ``store`` for the champions ``champions()`` returns."""

    def __init__(
        self, store, champions: Callable[[], Iterable[ServedChampion]], *, ttl_s: float = _TTL_S
    ) -> None:
        self.store = store
        self.champions = champions
        self.ttl_s = ttl_s
        self._cache: dict[float, tuple[float, SuccessSummary]] = {}
        self._lock = threading.Lock()

    def summary(self, window_days: float = DEFAULT_WINDOW_DAYS) -> SuccessSummary:
        """The summary of the last ``window_days`` (blocking: call it from a thread)."""
        now = time.monotonic()
        cached = self._cache.get(window_days)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        with self._lock:  # one computation at a time; the others wait for its answer
            cached = self._cache.get(window_days)
            if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
                return cached[1]
            summary = read_summary(self.store, list(self.champions()), window_days=window_days)
            # A few windows at most (a client may ask for any): the oldest computed goes.
            kept = sorted(self._cache.items(), key=lambda item: item[1][0])[-(_MAX_WINDOWS - 1) :]
            self._cache = {**dict(kept), window_days: (time.monotonic(), summary)}
            return summary


def _stamp(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _gauge(name: str, help_text: str, labels: tuple[str, ...]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=list(labels))


class SuccessCollector:
    """Prometheus gauges of the default window's summary (see the module docstring)."""

    def __init__(self, metrics: SuccessMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from summary_families(self.metrics.summary())


def summary_families(summary: SuccessSummary) -> list[Metric]:
    """The gauges of ``summary``.

    Examples
    --------
    >>> from datetime import date
    >>> from online_learning.success.summary import summarise
    >>> now = datetime(2026, 1, 10, tzinfo=UTC)
    >>> champion = ServedChampion("bull", "3", date(2026, 1, 7), now, now)
    >>> names = [f.name for f in summary_families(summarise([], champions=[champion], now=now))]
    >>> names[:3]
    ['online_learning_champion_trained_through_timestamp_seconds', \
'online_learning_champion_promoted_timestamp_seconds', \
'online_learning_champion_loaded_timestamp_seconds']
    """
    champion = ("model_id", "version")
    trained = _gauge("online_learning_champion_trained_through_timestamp_seconds",
                     "Start (UTC midnight) of the last day of data the serving champion trained "
                     "on.", champion)  # fmt: skip
    promoted = _gauge("online_learning_champion_promoted_timestamp_seconds",
                      "When the serving champion was promoted (its version's promoted_at tag).",
                      champion)  # fmt: skip
    loaded = _gauge("online_learning_champion_loaded_timestamp_seconds",
                    "When this replica loaded the serving champion.", champion)  # fmt: skip
    for age in summary.freshness.champions:
        labels = [age.model_id, age.version]
        if age.trained_through is not None:
            day = age.trained_through
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            trained.add_metric(labels, midnight.timestamp())
        if age.promoted_at is not None:
            promoted.add_metric(labels, age.promoted_at.timestamp())
        loaded.add_metric(labels, age.loaded_at.timestamp())
    checkpoint = _gauge("online_learning_session_checkpoint_timestamp_seconds",
                        "When the symbol's active online session was last checkpointed.",
                        ("symbol",))  # fmt: skip
    for session in summary.freshness.sessions:
        if session.checkpointed_at is not None:
            checkpoint.add_metric([session.symbol], session.checkpointed_at.timestamp())
    families: list[Metric] = [trained, promoted, loaded, checkpoint]
    families += _episode_families(summary)
    families += _score_families(summary)
    return families


_EPISODE_GAUGES = (
    ("online_learning_adaptation_detection_delay_outcomes", "detection_delay_outcomes",
     "Trades of the model on the symbol from the known change to the drift's detection "
     "(newest episode)."),
    ("online_learning_adaptation_detection_delay_seconds", "detection_delay_s",
     "Seconds from the known change to the drift's detection (newest episode)."),
    ("online_learning_adaptation_delay_seconds", "adaptation_delay_s",
     "Seconds from the detection to the adapted version's promotion (newest episode)."),
    ("online_learning_adaptation_serving_delay_seconds", "serving_delay_s",
     "Seconds from that promotion to this replica serving it (newest episode)."),
    ("online_learning_adaptation_outcomes_to_recover", "outcomes_to_recover",
     "Trades from the detection to the model's return to its pre-drift level (newest "
     "episode; absent until it recovers)."),
)  # fmt: skip


def _episode_families(summary: SuccessSummary) -> list[Metric]:
    newest = {(e.model_id, e.symbol): e for e in summary.episodes}  # oldest first: last wins
    families = []
    for name, attribute, help_text in _EPISODE_GAUGES:
        family = _gauge(name, help_text, ("model_id", "symbol"))
        for (model_id, symbol), episode in sorted(newest.items()):
            value = getattr(episode, attribute)
            if value is not None:
                family.add_metric([model_id, symbol], float(value))
        families.append(family)
    return families


def _score_families(summary: SuccessSummary) -> list[Metric]:
    scores = {
        "hit_rate": "Share of trades whose direction the component got right.",
        "log_loss": "Mean log-loss of the component's p_up of the up move.",
        "pnl": "Sum of (2 p_up - 1) times the realised return over the compared trades.",
    }
    families = []
    for attribute, help_text in scores.items():
        family = _gauge(f"online_learning_component_{attribute}",
                        f"{help_text} Same trades for every kind (batch, online, served); "
                        "component '*' is the kind's whole view, else one batch component; "
                        "symbol '*' is every symbol.", ("symbol", "kind", "component"))  # fmt: skip
        for score in summary.accuracy:
            family.add_metric([score.symbol, score.kind, score.component],
                              getattr(score, attribute))  # fmt: skip
        families.append(family)
    impact = {
        "online_learning_ml_added_pnl": ("ml_added_pnl", "Blended minus rules-only P&L."),
        "online_learning_ml_added_pnl_low": ("ml_added_low", "Lower 95 % bound of it."),
        "online_learning_ml_added_pnl_high": ("ml_added_high", "Upper 95 % bound of it."),
        "online_learning_blended_pnl": ("blended_pnl", "P&L of the traded, blended positions."),
        "online_learning_rules_pnl": ("rules_pnl", "P&L the rule-only positions would have."),
    }
    for name, (attribute, help_text) in impact.items():
        family = _gauge(name, f"{help_text} Trades that recorded a rule-only position; "
                        "symbol '*' is every symbol.", ("symbol",))  # fmt: skip
        for row in summary.impact:
            value = getattr(row, attribute)
            if value is not None:
                family.add_metric([row.symbol], value)
        families.append(family)
    return families
