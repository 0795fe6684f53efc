"""One incremental update of one model: window, Fisher, EWC training, gate, registry.

:class:`OnlineLearner` is the product's update path; the daily Prefect flow, the CLI and the
backtest harness all call :meth:`OnlineLearner.incremental_update`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
import torch

from online_learning.data import DataSource
from online_learning.ewc import EWCPenalty, EWCState, compute_fisher_information
from online_learning.features import FEATURE_COLUMNS
from online_learning.models import parameters_finite, regime_of, relative_change
from online_learning.registry.base import LoadedModel, ModelRegistry
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.decision import (
    explain,
    gate_fields,
    new_day_share,
    numbers,
    opening_book,
    run_metrics,
    run_tags,
)
from online_learning.update.gate import StabilityGate, StabilityReport
from online_learning.update.integrity import describe_inconsistency
from online_learning.update.outcomes import (
    RollbackResult,
    UpdateDeferred,
    UpdateOutcome,
    UpdateSuccess,
)
from online_learning.update.price_checks import describe_price_faults
from online_learning.update.training import evaluate_loss, fit, make_loader
from online_learning.update.window import UpdateWindow, update_window

Progress = Callable[[str], None]


class _Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.steps: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - begin

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class OnlineLearner:
    """Runs incremental updates against a registry and a data source.

    Parameters
    ----------
    registry : ModelRegistry
        Where champions are loaded from and accepted versions go.
    data_source : DataSource
        Market data for the update window.
    progress : callable, optional
        Called with a short message as each step starts (the CLI shows it).
    """

    def __init__(
        self,
        registry: ModelRegistry,
        data_source: DataSource,
        progress: Progress | None = None,
    ) -> None:
        self.registry = registry
        self.data_source = data_source
        self.progress = progress

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def incremental_update(
        self,
        config: IncrementalUpdateConfig,
        *,
        transform_train: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> UpdateOutcome:
        """Update ``config.model_id`` on its latest window; promote it or keep the champion.

        Steps: load the champion with its EWC state (accumulated Fisher, anchored at the
        champion's weights); fetch the window (the last ``data_window`` priced trading days;
        the final ``validation_days`` that no earlier decision judged are held out); check its
        rows and prices; wait, without training, when fewer than ``min_validation_days`` days
        are new; fine-tune a copy with the EWC penalty; price both on the held-out days (one
        execution rule, costs) and test whether the candidate is worse; if it is not, compute
        the Fisher of its weights on the training days, fold it into the decayed Fisher
        weighted by its share of new days (bounded online EWC), and register and promote it
        with that state. The Fisher is taken at the weights it protects, on the data they
        learned, as in EWC; a Fisher of the *old* weights on the *new* window would pin exactly
        the weights a regime change needs to move.

        ``transform_train`` rewrites the training rows before anything is computed from them;
        the backtest harness and the tests use it to inject faults (shuffled labels, corrupted
        features). The validation rows are never transformed.

        Returns :class:`UpdateSuccess`, :class:`RollbackResult` or, when it waited for new
        validation days, :class:`UpdateDeferred` (no MLflow run: nothing was trained). Raises
        :class:`~online_learning.errors.ModelNotFoundError` when there is no champion and
        :class:`~online_learning.errors.DataError` when the source cannot supply the window.
        """
        timer = _Timer()
        self._say(f"{config.model_id}: loading champion")
        with timer.step("registry"):
            champion = self.registry.load_champion(config.model_id)
        regime = champion.tags.get("regime") or regime_of(config.model_id)

        self._say(f"{config.model_id}: fetching {config.data_window}-day window")
        with timer.step("data"):
            window = update_window(
                self.data_source,
                data_window=config.data_window,
                validation_days=config.validation_days,
                as_of=config.as_of,
                regime=regime,
                execution=config.execution,
                judged_through=config.judged_through,
            )
            if transform_train is not None:
                window = dataclasses.replace(window, train=transform_train(window.train.copy()))

        # Losses and the update's size once training ran: logged with the run either way.
        measured: dict[str, float | str] = {}

        def reject(
            reason: str, detail: str, report: StabilityReport | None = None
        ) -> RollbackResult:
            return self._reject(config, champion, window, timer, reason, detail, report, measured)

        if not window.finite:
            return reject("non_finite_data", "the window holds NaN or infinite feature values")
        problem = describe_inconsistency(
            window.train, window.validation, trading_days=window.trading_days, regime=regime
        )
        if problem is not None:
            return reject("inconsistent_data", problem)
        universe = window.universe if window.universe is not None else window.train
        suspect = describe_price_faults(universe)
        if suspect is not None:
            return reject("suspect_prices", suspect)
        fresh = len(window.validation_days)
        if fresh < config.min_validation_days:
            # Days an earlier decision judged are not judged again: the champion already won
            # (or lost) on them. Nothing is trained until enough new days have come in.
            self._say(f"{config.model_id}: waiting for new validation days; champion stays")
            return UpdateDeferred(
                model_id=config.model_id,
                sharpe_pre=math.nan,
                sharpe_post=math.nan,
                degradation_pct=math.nan,
                duration_s=timer.elapsed,
                n_train=len(window.train),
                n_validation=len(window.validation),
                window_start=window.start.isoformat(),
                window_end=window.end.isoformat(),
                timings=dict(timer.steps),
                execution=window.execution,
                cost_bps=config.cost_bps,
                champion_version=champion.version,
                detail=f"{fresh} validation day(s) new since the decision judged through "
                f"{config.judged_through}; the gate needs {config.min_validation_days}",
            )
        if len(window.train) < config.min_train_samples:
            return reject(
                "insufficient_training_data",
                f"{len(window.train)} training rows in regime {regime!r}, "
                f"need {config.min_train_samples}",
            )
        torch.manual_seed(config.seed)
        loader = make_loader(
            window.train, FEATURE_COLUMNS, batch_size=config.batch_size, seed=config.seed
        )
        fisher_loader = make_loader(window.train, FEATURE_COLUMNS, batch_size=256, shuffle=False)

        penalty_state = champion.ewc_state
        if penalty_state is None:
            # A version registered without EWC state (e.g. by another tool): estimate the
            # importance of its weights on this window instead.
            with timer.step("fisher"):
                penalty_state = EWCState.from_model(
                    champion.model,
                    compute_fisher_information(champion.model, fisher_loader),
                    decay=config.fisher_decay,
                )
        if not penalty_state.is_finite():
            return reject("non_finite", "the champion's Fisher information is not finite")

        self._say(f"{config.model_id}: training {config.epochs} epochs with EWC")
        with timer.step("training"):
            candidate = copy.deepcopy(champion.model)
            report = fit(
                candidate,
                loader,
                epochs=config.epochs,
                learning_rate=config.learning_rate,
                penalties=[EWCPenalty(penalty_state, config.ewc_lambda)],
            )
        if report.non_finite or not parameters_finite(candidate):
            return reject("non_finite", "training produced a non-finite loss or weights")
        with timer.step("training"):
            loss_before = evaluate_loss(champion.model, window.train, FEATURE_COLUMNS)
            loss_after = evaluate_loss(candidate, window.train, FEATURE_COLUMNS)
            weight_change = relative_change(champion.model, candidate)
        measured.update(
            train_loss_champion=loss_before,
            train_loss_candidate=loss_after,
            weight_change=weight_change,
        )
        if not loss_after <= loss_before + config.max_train_loss_increase:
            # Training starts at the champion and descends on this loss (the EWC penalty is
            # zero there), so ending higher means the optimiser diverged, e.g. a learning rate
            # far too high; the gate's few validation days might not notice.
            return reject(
                "training_diverged",
                f"training loss rose {loss_before:.4f} -> {loss_after:.4f} on the training "
                f"rows (tolerance {config.max_train_loss_increase})",
            )
        if not weight_change <= config.max_weight_change:
            # A step far too large can still fit the training rows (a small window is easy to
            # memorise) and pass a noisy gate; it is not an incremental update.
            return reject(
                "update_too_large",
                f"the update moved the weights by {weight_change:.3g}x their norm "
                f"(limit {config.max_weight_change})",
            )

        self._say(f"{config.model_id}: stability gate on {len(window.validation)} rows")
        with timer.step("gate"):
            gate = StabilityGate(
                min_sharpe_threshold=config.min_sharpe_threshold,
                sharpe_floor=config.sharpe_floor,
                min_samples=max(config.min_validation_samples, 2),
                confidence=config.gate_confidence,
            )
            stability = gate.check(
                old_model=champion.model,
                new_model=candidate,
                validation=window.validation,
                feature_names=FEATURE_COLUMNS,
                execution=window.execution,
                cost_bps=config.cost_bps,
                previous=opening_book(champion.model, window.train),
            )
        if stability.reason in ("passed", "sharpe_degradation"):
            measured["judged_through"] = window.end.isoformat()
        if stability.reason == "non_finite" or (config.stability_check and not stability.passed):
            return reject(stability.reason, explain(stability, config), stability)

        self._say(f"{config.model_id}: Fisher information of the accepted weights")
        with timer.step("fisher"):
            # Online EWC: the importance of the accepted weights on the data they were trained
            # on joins the decayed Fisher of earlier versions, anchored at the new weights.
            weight = new_day_share(window, champion.tags)
            new_state = dataclasses.replace(penalty_state, decay=config.fisher_decay).consolidate(
                compute_fisher_information(candidate, fisher_loader),
                {n: p.detach().clone() for n, p in candidate.named_parameters()},
                weight=weight,
            )
        if not new_state.is_finite():
            result = reject("non_finite", "the Fisher information of the new weights is not finite")
            return dataclasses.replace(result, fisher_stats=new_state.stats())

        self._say(f"{config.model_id}: registering and promoting")
        with timer.step("registry"):
            record = self.registry.log_candidate(
                model_id=config.model_id,
                model=candidate,
                ewc_state=new_state,
                params=config.to_params(),
                metrics=run_metrics(stability, report.final_loss, new_state)
                | numbers(measured)
                | {"fisher_weight": weight},
                tags=run_tags(window, regime, "promoted", stability.reason, champion.version),
                register=True,
            )
            promotion = self.registry.promote(model_id=config.model_id, version=record.version)
        return UpdateSuccess(
            model_id=config.model_id,
            sharpe_pre=stability.sharpe_pre,
            sharpe_post=stability.sharpe_post,
            degradation_pct=stability.degradation_pct,
            duration_s=timer.elapsed,
            n_train=len(window.train),
            n_validation=len(window.validation),
            window_start=window.start.isoformat(),
            window_end=window.end.isoformat(),
            timings=dict(timer.steps),
            fisher_stats=new_state.stats(),
            weight_change=weight_change,
            **gate_fields(stability, config, measured),
            fisher_weight=weight,
            version=promotion.version,
            previous_version=promotion.previous_version,
            run_id=record.run_id,
        )

    def _reject(
        self,
        config: IncrementalUpdateConfig,
        champion: LoadedModel,
        window: UpdateWindow,
        timer: _Timer,
        reason: str,
        detail: str,
        stability: StabilityReport | None,
        measured: dict[str, float | str],
    ) -> RollbackResult:
        """Log the rejected candidate's numbers (never a version) and keep the champion."""
        self._say(f"{config.model_id}: rejected ({reason}); champion stays")
        nan = math.nan
        with timer.step("registry"):
            record = self.registry.log_candidate(
                model_id=config.model_id,
                model=champion.model,
                ewc_state=None,
                params=config.to_params(),
                metrics=run_metrics(stability, nan, None) | numbers(measured),
                tags=run_tags(
                    window, champion.tags.get("regime"), "rolled_back", reason, champion.version
                ),
                register=False,
            )
        return RollbackResult(
            model_id=config.model_id,
            sharpe_pre=stability.sharpe_pre if stability else nan,
            sharpe_post=stability.sharpe_post if stability else nan,
            degradation_pct=stability.degradation_pct if stability else nan,
            duration_s=timer.elapsed,
            n_train=len(window.train),
            n_validation=len(window.validation),
            window_start=window.start.isoformat(),
            window_end=window.end.isoformat(),
            timings=dict(timer.steps),
            champion_version=champion.version,
            reason=reason,
            detail=detail,
            weight_change=float(measured.get("weight_change", nan)),
            **gate_fields(stability, config, measured),
            run_id=record.run_id,
        )
