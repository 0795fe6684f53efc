"""Serving: the specialists' champions, weighted by regime, blended with the symbol's session.

For each request the **batch** component is the regime-weighted mixture of the specialists'
champions (:class:`~online_learning.feedback.regime.RegimeClassifier` weights, renormalised
over the champions loaded) and the **online** component is the symbol's active session once
it has learned. Two strategies combine them (rules in :mod:`online_learning.prediction.weights`):

- ``ensemble``: a softmax over the components' recent realised Sharpe ratios;
- ``champion_challenger``: the component with the better recent realised return serves, the
  other is scored in shadow and recorded in the shadow ledger (migration 0004).

:meth:`ModelServingService.predict_many` runs one forward pass per champion for all rows,
so a batch costs little more than a single prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from online_learning.errors import ConfigError
from online_learning.feedback.regime import RegimeClassifier
from online_learning.feedback.service import FeedbackService
from online_learning.metrics_store.shadow import ShadowLedger, ShadowRow
from online_learning.metrics_store.store import MetricsStore
from online_learning.prediction.champions import ChampionHolder, ChampionSet
from online_learning.prediction.records import (
    BATCH,
    ONLINE,
    ONLINE_SESSION,
    STRATEGIES,
    Component,
    Prediction,
    SessionInfo,
)
from online_learning.prediction.sessions import CachedSession, SessionCache
from online_learning.prediction.validation import feature_matrix, request_symbol
from online_learning.prediction.weights import (
    PerformanceCache,
    challenger_serves_online,
    ensemble_weights,
    sharpe_evidence,
    shrunk,
)

__all__ = ["STRATEGIES", "ModelServingService"]

_REGIME_FEATURES = frozenset({"trend_63", "ret_21", "vol_21"})


class ModelServingService:
    """Predictions for trading agents, with the provenance of every component.

    Parameters
    ----------
    holder : ChampionHolder
        Loaded champions (swapped by its refresh).
    sessions : FeedbackService, optional
        Source of the symbols' online sessions; without it only the batch component serves.
    store : MetricsStore, optional
        Recent realised performance of the specialists, and the shadow ledger.
    strategy : {"ensemble", "champion_challenger"}
        Default strategy; a request may name another.
    regime : RegimeClassifier, optional
        Weights the specialists per row (a default classifier when omitted). When the
        champions do not read ``trend_63``, ``ret_21`` and ``vol_21`` the specialists get
        equal weights and ``regime`` is None.
    shadow : ShadowLedger, optional
        Where champion/challenger writes its shadow rows; one on ``store`` by default.
    performance_days, performance_ttl_s, session_ttl_s : int, float, float
        Window of the specialists' realised performance and the lifetimes of the caches.
    min_session_samples : int
        Outcomes a session must have learned before it is a component.
    temperature, sharpe_clip : float
        Of the ensemble rule (:func:`~online_learning.prediction.weights.ensemble_weights`).

    Examples
    --------
    >>> import torch
    >>> from online_learning.features import FEATURE_COLUMNS
    >>> from online_learning.models import RegimeSpecialist
    >>> from online_learning.specialists import SPECIALISTS
    >>> from online_learning.registry.memory import InMemoryRegistry
    >>> registry = InMemoryRegistry()
    >>> for seed, model_id in enumerate(SPECIALISTS):
    ...     _ = torch.manual_seed(seed)
    ...     record = registry.log_candidate(model_id=model_id, model=RegimeSpecialist(
    ...         FEATURE_COLUMNS, hidden=(4,)), ewc_state=None, params={}, metrics={}, tags={},
    ...         register=True)
    ...     _ = registry.promote(model_id=model_id, version=record.version)
    >>> holder = ChampionHolder(registry)
    >>> _ = holder.load()
    >>> service = ModelServingService(holder=holder)
    >>> row = dict.fromkeys(FEATURE_COLUMNS, 0.0) | {"trend_63": 2.5, "ret_21": 0.05,
    ...                                             "vol_21": 0.01}
    >>> prediction = service.predict("AAA", row)
    >>> prediction.regime, prediction.strategy, prediction.session
    ('bull', 'ensemble', None)
    >>> [(c.name, c.version) for c in prediction.components]
    [('bull_specialist', '1'), ('bear_specialist', '1'), ('sideways_specialist', '1')]
    >>> max(prediction.components, key=lambda c: c.weight).name
    'bull_specialist'
    >>> len(service.predict_many([("AAA", row), ("BBB", row)]))
    2
    """

    def __init__(
        self,
        *,
        holder: ChampionHolder,
        sessions: FeedbackService | None = None,
        store: MetricsStore | None = None,
        strategy: str = "ensemble",
        regime: RegimeClassifier | None = None,
        shadow: ShadowLedger | None = None,
        performance_days: int = 30,
        performance_ttl_s: float = 30.0,
        session_ttl_s: float = 1.0,
        min_session_samples: int = 1,
        temperature: float = 1.0,
        sharpe_clip: float = 3.0,
    ) -> None:
        self.holder = holder
        self.feedback = sessions
        self.store = store
        self.strategy = self._check_strategy(strategy)
        self.regime = regime or RegimeClassifier()
        self.shadow = shadow if shadow is not None or store is None else ShadowLedger(store)
        self.performance = PerformanceCache(store, days=performance_days, ttl_s=performance_ttl_s)
        self.sessions = None if sessions is None else SessionCache(sessions, ttl_s=session_ttl_s)
        if not (isinstance(min_session_samples, int) and min_session_samples >= 1):
            raise ConfigError(
                f"min_session_samples must be an integer >= 1, got {min_session_samples!r}"
            )
        self.min_session_samples = min_session_samples
        self.temperature = temperature
        self.sharpe_clip = sharpe_clip

    @staticmethod
    def _check_strategy(strategy: str) -> str:
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
        return strategy

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features every request must hold, exactly (raises ``NoChampions`` before load)."""
        return self.holder.snapshot().feature_names

    # -- serving --------------------------------------------------------------------------
    def predict(
        self, symbol: str, features: Mapping[str, float], *, strategy: str | None = None
    ) -> Prediction:
        """One prediction (see :meth:`predict_many`)."""
        return self._serve([(symbol, features)], strategy, batch=False)[0]

    def predict_many(
        self,
        requests: Sequence[tuple[str, Mapping[str, float]]],
        *,
        strategy: str | None = None,
    ) -> list[Prediction]:
        """Predictions for ``(symbol, features)`` pairs, one forward pass per champion.

        Raises
        ------
        InvalidFeatures
            When a row's features are not exactly :attr:`feature_names`, each finite
            (the error names the row as ``requests[i]``); nothing is served then.
        InvalidSymbol
            For a symbol that is not 1-64 characters without white space.
        NoChampions
            Before any champion was loaded.
        """
        return self._serve(requests, strategy, batch=True)

    def _serve(self, requests, strategy, *, batch: bool) -> list[Prediction]:
        strategy = self.strategy if strategy is None else self._check_strategy(strategy)
        snap = self.holder.snapshot()  # every row of this call uses these models
        symbols = [request_symbol(item, i if batch else None) for i, item in enumerate(requests)]
        rows = [item[1] for item in requests]
        matrix = feature_matrix(rows, snap.feature_names, batch=batch)
        if not len(rows):
            return []
        champions = list(snap)
        p_batch = snap.predict_proba(matrix)  # (n, k): one forward pass for the batch
        perf = [self.performance.get(c.model_id) for c in champions]
        sharpe = np.array([sharpe_evidence(p.sharpe, p.n, clip=self.sharpe_clip) for p in perf])
        mean_return = np.array([shrunk(p.mean_return, p.n) for p in perf])
        regimes, mix = self._regime_weights(snap, rows, sharpe)  # (n, k), rows sum to 1
        batch_p = (mix * p_batch).sum(axis=1)
        batch_sharpe, batch_mean = mix @ sharpe, mix @ mean_return
        served_at = datetime.now(UTC)
        versions = snap.versions  # one dict for every shadow row of this call
        out = []
        for i, symbol in enumerate(symbols):
            online = self._online(symbol, rows[i], snap)
            args = (symbol, rows[i], champions, p_batch[i], mix[i], float(batch_p[i]), online)
            if strategy == "ensemble":
                weights = (
                    (1.0, 0.0) if online is None else self._ensemble(batch_sharpe[i], online[0])
                )
            else:
                weights = self._challenger(batch_mean[i], online)
            out.append(self._prediction(*args, weights, strategy, regimes[i], served_at, versions))
        return out

    def _regime_weights(
        self, snap: ChampionSet, rows, sharpe: np.ndarray
    ) -> tuple[list[str | None], np.ndarray]:
        """Each row's weight of each champion: the specialists share theirs by the row's
        regime; a model that is no regime's specialist (a team's, on the same features) is a
        group of its own; the groups are weighted by their recent realised record (the
        ensemble rule). A regime is named only when specialists serve."""
        champions = list(snap)
        special = np.array([c.regime is not None for c in champions])
        if not special.any() or not set(snap.feature_names) >= _REGIME_FEATURES:
            regimes = [None] * len(rows)
            specialist_mix = np.full((len(rows), int(special.sum())), 1.0 / max(special.sum(), 1))
        else:
            ids = [c.model_id for c in champions if c.regime is not None]
            regimes, specialist_mix = [], np.empty((len(rows), len(ids)))
            for i, row in enumerate(rows):
                view = self.regime.classify(row)
                w = np.array([view.weights.get(m, 0.0) for m in ids])
                total = w.sum()
                specialist_mix[i] = w / total if total > 0 else 1.0 / len(ids)
                regimes.append(view.regime)
        mix = np.zeros((len(rows), len(champions)))
        if special.all():
            mix[:, special] = specialist_mix
            return regimes, mix
        others = np.flatnonzero(~special)
        for i in range(len(rows)):
            groups = {str(j): float(sharpe[j]) for j in others}
            if special.any():
                groups["specialists"] = float(specialist_mix[i] @ sharpe[special])
            w = ensemble_weights(groups, temperature=self.temperature, clip=self.sharpe_clip)
            for j in others:
                mix[i, j] = w[str(j)]
            if special.any():
                mix[i, special] = w["specialists"] * specialist_mix[i]
        return regimes, mix

    def _online(self, symbol: str, row, snap: ChampionSet) -> tuple[CachedSession, float] | None:
        if self.sessions is None:
            return None
        cached = self.sessions.get(symbol)
        if cached is None or cached.samples_seen < self.min_session_samples:
            return None
        session = cached.session
        if not session.feature_set <= set(snap.feature_names):
            return None  # the session reads features the champions do not: not comparable
        return cached, session.predict_proba_one({n: row[n] for n in session.config.feature_names})

    def _ensemble(self, batch_sharpe: float, session: CachedSession) -> tuple[float, float]:
        online_sharpe = sharpe_evidence(
            session.rolling_sharpe, session.window_count, clip=self.sharpe_clip
        )
        w = ensemble_weights({"batch": batch_sharpe, "online": online_sharpe},
                             temperature=self.temperature, clip=self.sharpe_clip)  # fmt: skip
        return w["batch"], w["online"]

    def _challenger(self, batch_mean: float, online) -> tuple[float, float]:
        if online is None:
            return 1.0, 0.0
        return (
            (0.0, 1.0)
            if challenger_serves_online(
                batch_mean, shrunk(online[0].pnl_mean, online[0].window_count)
            )
            else (1.0, 0.0)
        )

    def _prediction(self, symbol, features, champions, p_models, mix, batch_p, online, weights,
                    strategy, regime, served_at, versions) -> Prediction:  # fmt: skip
        w_batch, w_online = weights
        components = [
            Component(c.model_id, BATCH, c.version, float(w_batch * m), float(p))
            for c, m, p in zip(champions, mix, p_models, strict=True)
        ]
        session_info = None
        p_up = w_batch * batch_p
        if online is not None:
            cached, p_online = online
            components.append(
                Component(ONLINE_SESSION, ONLINE, cached.session_id, w_online, p_online)
            )
            session_info = SessionInfo(
                cached.session_id, cached.samples_seen, cached.checkpoint_age_s()
            )
            p_up += w_online * p_online
        prediction = Prediction.served(
            symbol,
            p_up,
            strategy=strategy,
            regime=regime,
            components=tuple(components),
            session=session_info,
            served_at=served_at,
            features=features,
        )
        if strategy == "champion_challenger" and online is not None and self.shadow is not None:
            served_online = w_online > 0
            self.shadow.record(ShadowRow(
                prediction.prediction_id, symbol,
                ONLINE if served_online else BATCH, prediction.p_up,
                BATCH if served_online else ONLINE, batch_p if served_online else online[1],
                versions, online[0].session_id, served_at,
            ))  # fmt: skip
        return prediction

    # -- upkeep ---------------------------------------------------------------------------
    def refresh_caches(self) -> None:
        """Re-read the specialists' performance and the sessions seen (background thread)."""
        self.performance.refresh(self.holder.model_ids)
        if self.sessions is not None:
            self.sessions.refresh()

    def close(self) -> None:
        """Write the shadow rows still queued and stop the ledger's thread."""
        if self.shadow is not None:
            self.shadow.close()
