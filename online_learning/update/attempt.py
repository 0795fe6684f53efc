"""One update in progress (:class:`Attempt`): what it has measured so far, and how it ends,
registered and promoted or rejected (a rejection, like a deferral, raises :class:`Ended`)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from online_learning.ewc import EWCState
from online_learning.models.estimator import ContractEstimator
from online_learning.registry.base import CandidateRecord, LoadedModel, ModelRegistry
from online_learning.update.challenger import SINCE_TAG
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.gate import StabilityReport
from online_learning.update.outcomes import (
    NAMED,
    RollbackResult,
    UpdateDeferred,
    UpdateOutcome,
    UpdateSuccess,
)
from online_learning.update.run_record import gate_fields, numbers, run_metrics, run_tags
from online_learning.update.training import TrainingReport
from online_learning.update.window import UpdateWindow

__all__ = ["Accepted", "Attempt", "Ended"]


class Ended(Exception):
    """A step decided the update (a rejection or a deferral): the outcome it ends with."""

    def __init__(self, outcome: UpdateOutcome) -> None:
        self.outcome = outcome


@dataclass(frozen=True)
class Accepted:
    """A candidate that passed the gate: what registering it needs. ``state`` is the EWC
    state it carries (None for an estimator), ``fisher_weight`` the share of new days its
    Fisher was weighted by."""

    candidate: nn.Module | ContractEstimator
    training: TrainingReport
    stability: StabilityReport
    state: EWCState | None = None
    fisher_weight: float = 0.0


@dataclass
class Attempt:
    """One update in progress: its config, the champion, the window, and what was measured.

    ``steps`` holds seconds per step (``data``, ``fisher``, ``training``, ``gate``,
    ``registry``); ``measured`` the losses and the update's size once training ran, logged
    with the run either way. The steps fill in the window, the EWC state the candidate
    trains against and the gate's report as they go.
    """

    config: IncrementalUpdateConfig
    champion: LoadedModel
    regime: str | None
    started: float = field(default_factory=time.perf_counter)
    steps: dict[str, float] = field(default_factory=dict)
    measured: dict[str, float | str] = field(default_factory=dict)
    window: UpdateWindow | None = None
    #: The EWC state the candidate trained against, and the gate's report on it.
    penalty_state: EWCState | None = None
    stability: StabilityReport | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - begin

    def common(self, stability: StabilityReport | None = None) -> dict[str, Any]:
        """The fields every outcome of this attempt shares."""
        window = self.window
        return {
            "model_id": self.config.model_id,
            "sharpe_pre": stability.sharpe_pre if stability else math.nan,
            "sharpe_post": stability.sharpe_post if stability else math.nan,
            "degradation_pct": stability.degradation_pct if stability else math.nan,
            "duration_s": time.perf_counter() - self.started,
            "n_train": len(window.train),
            "n_validation": len(window.validation),
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "judged_start": days[0].isoformat() if (days := window.validation_days) else None,
            "judged_end": days[-1].isoformat() if days else None,
            "held_back": tuple(d.isoformat() for d in window.held_back),
            "timings": dict(self.steps),
        }

    def promote(self, registry: ModelRegistry, accepted: Accepted) -> UpdateSuccess:
        """Register the accepted candidate with its EWC state (an estimator has none) and make
        it the champion."""
        record = self._register(registry, accepted)
        with self.step("registry"):
            promotion = registry.promote(model_id=self.config.model_id, version=record.version)
        return UpdateSuccess(
            **self._accepted(accepted),
            version=promotion.version,
            previous_version=promotion.previous_version,
            run_id=record.run_id,
        )

    def name_challenger(self, registry: ModelRegistry, accepted: Accepted) -> UpdateDeferred:
        """Register the accepted candidate with its EWC state as the model's ``challenger``;
        the champion stays until the challenger period decides (see
        :mod:`online_learning.update.challenger`)."""
        since = self.window.end.isoformat()
        record = self._register(
            registry, accepted, decision="challenger", extra_tags={SINCE_TAG: since}
        )
        with self.step("registry"):
            registry.name_challenger(model_id=self.config.model_id, version=record.version)
        return UpdateDeferred(
            **self._accepted(accepted),
            champion_version=self.champion.version,
            reason=NAMED,
            detail=f"v{record.version} passed the gate and is the challenger from {since}; "
            f"promoted once the days after show it better (at most "
            f"{self.config.challenger_horizon_days} trading days)",
            run_id=record.run_id,
            challenger_version=record.version,
            challenger_days=0,
        )

    def _register(
        self,
        registry: ModelRegistry,
        accepted: Accepted,
        decision: str = "promoted",
        extra_tags: dict[str, str] | None = None,
    ) -> CandidateRecord:
        config, stability, state = self.config, accepted.stability, accepted.state
        with self.step("registry"):
            return registry.log_candidate(
                model_id=config.model_id,
                model=accepted.candidate,
                ewc_state=state,
                definition=self.champion.definition,
                params=config.to_params(),
                metrics=run_metrics(stability, accepted.training.final_loss, state)
                | numbers(self.measured)
                | {"fisher_weight": accepted.fisher_weight},
                tags=run_tags(
                    self.window, self.regime, decision, stability.reason, self.champion.version
                )
                | (extra_tags or {}),
                register=True,
            )

    def _accepted(self, accepted: Accepted) -> dict[str, Any]:
        """The fields of an outcome whose candidate passed the gate."""
        return {
            **self.common(accepted.stability),
            "fisher_stats": accepted.state.stats() if accepted.state is not None else {},
            "weight_change": float(self.measured.get("weight_change", math.nan)),
            **gate_fields(accepted.stability, self.config, self.measured),
            "fisher_weight": accepted.fisher_weight,
        }

    def reject(
        self,
        registry: ModelRegistry,
        reason: str,
        detail: str,
        stability: StabilityReport | None = None,
        **extra: Any,
    ) -> None:
        """Log the rejected candidate's numbers (never a version), keep the champion and end
        the update with the :class:`RollbackResult`."""
        config, champion, measured = self.config, self.champion, self.measured
        with self.step("registry"):
            record = registry.log_candidate(
                model_id=config.model_id,
                model=champion.model,
                ewc_state=None,
                params=config.to_params(),
                metrics=run_metrics(stability, math.nan, None) | numbers(measured),
                tags=run_tags(
                    self.window,
                    champion.tags.get("regime"),
                    "rolled_back",
                    reason,
                    champion.version,
                ),
                register=False,
            )
        raise Ended(
            RollbackResult(
                **self.common(stability),
                champion_version=champion.version,
                reason=reason,
                detail=detail,
                weight_change=float(measured.get("weight_change", math.nan)),
                **gate_fields(stability, config, measured),
                run_id=record.run_id,
                **extra,
            )
        )
