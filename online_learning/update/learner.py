"""One incremental update of one model: window, Fisher, EWC training, gate, registry.

:class:`OnlineLearner` is the product's update path; the daily Prefect flow, the CLI and the
backtest harness all call :meth:`OnlineLearner.incremental_update`. The update is a list of
named steps over one :class:`Attempt`; a step that rejects the candidate (or defers the
update) ends it with that outcome.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from online_learning.data import DataSource
from online_learning.errors import ConfigError
from online_learning.ewc import EWCPenalty, EWCState, compute_fisher_information
from online_learning.models import parameters_finite, relative_change
from online_learning.models.definition import ModelDefinition
from online_learning.models.estimator import ContractEstimator, build_estimator
from online_learning.models.network import loss_name
from online_learning.registry.base import ModelRegistry
from online_learning.specialists import regime_of
from online_learning.update.attempt import Accepted, Attempt, Ended
from online_learning.update.challenger import challenger_test, read_period, settle
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.gate import StabilityGate, StabilityReport
from online_learning.update.integrity import describe_inconsistency
from online_learning.update.outcomes import (
    AWAITING,
    UNJUDGEABLE,
    UpdateDeferred,
    UpdateOutcome,
    UpdateSuccess,
)
from online_learning.update.price_checks import describe_price_faults
from online_learning.update.run_record import (
    explain,
    new_day_share,
    opening_book,
    unjudgeable,
)
from online_learning.update.training import TrainingReport, evaluate_loss, fit, make_loader
from online_learning.update.window import UpdateWindow, update_window

Progress = Callable[[str], None]


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
        definition: ModelDefinition | None = None,
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

        The model is the champion's: its definition (network, features, sequence length,
        target and horizon, data source, symbols) comes with its version. ``definition`` is
        what the caller was told the model is (its configuration): when it differs from the
        champion's in any of these, the update is refused with a
        :class:`~online_learning.errors.ConfigError` that says how (no silent change of
        market or of model).

        ``transform_train`` rewrites the training rows before anything is computed from them;
        the backtest harness and the tests use it to inject faults (shuffled labels, corrupted
        features). The validation rows are never transformed.

        Returns :class:`UpdateSuccess`, :class:`RollbackResult` or, when it waited for new
        validation days, :class:`UpdateDeferred` (no MLflow run: nothing was trained). Raises
        :class:`~online_learning.errors.ModelNotFoundError` when there is no champion and
        :class:`~online_learning.errors.DataError` when the source cannot supply the window.
        """
        attempt = self._load_champion(config)
        if definition is not None:
            problem = attempt.champion.definition.mismatch(definition)
            if problem is not None:
                raise ConfigError(
                    f"{config.model_id}: the update's configuration does not match its "
                    f"champion v{attempt.champion.version}: {problem}; train a new version "
                    "(online-learning train) to change the model"
                )
        try:
            self._settle_challenger(attempt)
        except Ended as ended:
            return ended.outcome
        self._fetch_window(attempt, transform_train)
        try:
            self._check_window(attempt)
            self._wait_for_new_days(attempt)
            if attempt.champion.definition.kind == "estimator":
                policy = (definition or attempt.champion.definition).policy
                candidate, training = self._fit_estimator(attempt, policy)
                stability = self._judge(attempt, candidate)
                return self._accept(attempt, Accepted(candidate, training, stability))
            candidate, training = self._train(attempt)
            stability = self._judge(attempt, candidate)
            state, weight = self._consolidate(attempt, candidate)
            return self._accept(attempt, Accepted(candidate, training, stability, state, weight))
        except Ended as ended:
            return ended.outcome

    # -- the steps, in order --------------------------------------------------------------
    def _load_champion(self, config: IncrementalUpdateConfig) -> Attempt:
        self._say(f"{config.model_id}: loading champion")
        begin = time.perf_counter()
        champion = self.registry.load_champion(config.model_id)
        regime = champion.tags.get("regime") or regime_of(config.model_id)
        attempt = Attempt(config=config, champion=champion, regime=regime, started=begin)
        attempt.steps["registry"] = time.perf_counter() - begin
        return attempt

    def _settle_challenger(self, attempt: Attempt) -> None:
        """A pending challenger is judged instead of training another candidate: promoted,
        retired, or still pending (see :mod:`online_learning.update.challenger`)."""
        config = attempt.config
        version = self.registry.challenger_version(config.model_id)
        if version is None:
            return
        if version == attempt.champion.version:
            # Promoted by an update that stopped before removing the alias: nothing pends.
            self.registry.clear_challenger(model_id=config.model_id)
            return
        self._say(f"{config.model_id}: pricing challenger v{version} against the champion")
        with attempt.step("registry"):
            challenger = self.registry.load_version(config.model_id, version)
        with attempt.step("gate"):
            reading = read_period(
                source=self.data_source,
                champion=attempt.champion,
                challenger=challenger,
                test=challenger_test(config),
                as_of=config.as_of,
                execution=config.execution,
                cost_bps=config.cost_bps,
                regime=attempt.regime,
            )
        attempt.window = reading.window
        # A bad print in the period could promote or retire on a return nobody earned: the
        # period waits until the feed is right (the same checks an update's window gets).
        universe = reading.window.universe
        suspect = describe_price_faults(universe if universe is not None else reading.window.train)
        outcome = settle(
            self.registry,
            config=config,
            champion=attempt.champion,
            challenger=challenger,
            reading=reading,
            common=attempt.common(),
            hold=suspect,
        )
        self._say(f"{config.model_id}: challenger v{version} {outcome.reason}")
        raise Ended(outcome)

    def _fetch_window(
        self, attempt: Attempt, transform_train: Callable[[pd.DataFrame], pd.DataFrame] | None
    ) -> None:
        config = attempt.config
        self._say(f"{config.model_id}: fetching {config.data_window}-day window")
        with attempt.step("data"):
            window = update_window(
                self.data_source,
                definition=attempt.champion.definition,
                data_window=config.data_window,
                validation_days=config.validation_days,
                as_of=config.as_of,
                regime=attempt.regime,
                execution=config.execution,
                judged_through=config.judged_through,
            )
            if transform_train is not None:
                window = dataclasses.replace(window, train=transform_train(window.train.copy()))
        attempt.window = window

    def _check_window(self, attempt: Attempt) -> None:
        """Rows that must never reach a model: non-finite, inconsistent, suspect prices."""
        window = attempt.window
        if not window.finite:
            self._reject(
                attempt, "non_finite_data", "the window holds NaN or infinite feature values"
            )
        problem = describe_inconsistency(
            window.train,
            window.validation,
            trading_days=window.trading_days,
            regime=attempt.regime,
            target=window.target,
        )
        if problem is not None:
            self._reject(attempt, "inconsistent_data", problem)
        universe = window.universe if window.universe is not None else window.train
        suspect = describe_price_faults(universe)
        if suspect is not None:
            self._reject(attempt, "suspect_prices", suspect)

    def _wait_for_new_days(self, attempt: Attempt) -> None:
        """Days an earlier decision judged are not judged again (the champion already won or
        lost on them): until enough new days have come in, nothing is trained. Nor is it
        when the new days hold too few of the model's rows to judge (a regime specialist
        whose regime is absent): that is no evidence against a candidate, so the update is
        deferred, not rolled back."""
        config, window = attempt.config, attempt.window
        fresh = len(window.validation_days)
        if fresh < config.min_validation_days:
            self._defer(
                attempt,
                AWAITING,
                f"{fresh} validation day(s) new since the decision judged through "
                f"{config.judged_through}; the gate needs {config.min_validation_days}",
            )
        rows, days = len(window.validation), window.validation["date"].nunique()
        if rows < config.min_validation_samples or days < config.min_validation_days:
            self._defer(attempt, UNJUDGEABLE, unjudgeable(rows, days, config))

    def _train(self, attempt: Attempt) -> tuple[nn.Module, TrainingReport]:
        """Fine-tune a copy of the champion with the EWC penalty; reject a candidate whose
        training diverged or moved the weights too far to be an increment."""
        config, champion, window = attempt.config, attempt.champion, attempt.window
        self._require_training_rows(attempt)
        target = attempt.champion.definition.target
        x, y = window.inputs(window.train), window.labels(window.train)
        torch.manual_seed(config.seed)
        loader = make_loader(x, y, target=target, batch_size=config.batch_size, seed=config.seed)
        penalty_state = champion.ewc_state
        if penalty_state is None:
            # A version registered without EWC state (e.g. by another tool): estimate the
            # importance of its weights on this window instead.
            with attempt.step("fisher"):
                penalty_state = EWCState.from_model(
                    champion.model,
                    compute_fisher_information(
                        champion.model, self._fisher_loader(window), loss=loss_name(target)
                    ),
                    decay=config.fisher_decay,
                )
        if not penalty_state.is_finite():
            self._reject(attempt, "non_finite", "the champion's Fisher information is not finite")
        attempt.penalty_state = penalty_state

        self._say(f"{config.model_id}: training {config.epochs} epochs with EWC")
        with attempt.step("training"):
            candidate = copy.deepcopy(champion.model)
            report = fit(
                candidate,
                loader,
                epochs=config.epochs,
                learning_rate=config.learning_rate,
                penalties=[EWCPenalty(penalty_state, config.ewc_lambda)],
                target=target,
            )
        if report.non_finite or not parameters_finite(candidate):
            self._reject(attempt, "non_finite", "training produced a non-finite loss or weights")
        with attempt.step("training"):
            loss_before = evaluate_loss(champion.model, x, y, target)
            loss_after = evaluate_loss(candidate, x, y, target)
            weight_change = relative_change(champion.model, candidate)
        attempt.measured.update(
            train_loss_champion=loss_before,
            train_loss_candidate=loss_after,
            weight_change=weight_change,
        )
        if not loss_after <= loss_before + config.max_train_loss_increase:
            # Training starts at the champion and descends on this loss (the EWC penalty is
            # zero there), so ending higher means the optimiser diverged, e.g. a learning rate
            # far too high; the gate's few validation days might not notice.
            self._reject(
                attempt,
                "training_diverged",
                f"training loss rose {loss_before:.4f} -> {loss_after:.4f} on the training "
                f"rows (tolerance {config.max_train_loss_increase})",
            )
        if not weight_change <= config.max_weight_change:
            # A step far too large can still fit the training rows (a small window is easy to
            # memorise) and pass a noisy gate; it is not an incremental update.
            self._reject(
                attempt,
                "update_too_large",
                f"the update moved the weights by {weight_change:.3g}x their norm "
                f"(limit {config.max_weight_change})",
            )
        return candidate, report

    def _fit_estimator(
        self, attempt: Attempt, policy: str
    ) -> tuple[ContractEstimator, TrainingReport]:
        """An estimator's candidate: refitted from scratch on the window (``retrain``) or the
        champion continued on it (``warm_start``); rejected if it predicts non-finite."""
        config, champion, window = attempt.config, attempt.champion, attempt.window
        self._require_training_rows(attempt)
        definition = champion.definition
        x, y = window.inputs(window.train), window.labels(window.train)
        self._say(f"{config.model_id}: {policy} of the estimator on {len(x)} rows")
        with attempt.step("training"):
            fresh = build_estimator(definition, seed=config.seed)
            if policy == "warm_start":
                candidate = champion.model.continued(x, y, fresh=fresh.estimator)
            elif policy == "retrain":
                candidate = fresh.fit(x, y)
            else:
                raise ConfigError(
                    f"{config.model_id}: policy {policy!r} needs a network; an estimator: "
                    "retrain or warm_start"
                )
            p_up = candidate.predict_proba(x)
        if not np.isfinite(p_up).all():
            self._reject(attempt, "non_finite", "the candidate predicts non-finite values")
        with attempt.step("training"):
            loss_before, loss_after = champion.model.loss(x, y), candidate.loss(x, y)
        attempt.measured.update(train_loss_champion=loss_before, train_loss_candidate=loss_after)
        return candidate, TrainingReport(steps=1, epoch_losses=[loss_after])

    def _judge(self, attempt: Attempt, candidate: nn.Module) -> StabilityReport:
        """Price champion and candidate on the held-out days; reject a worse candidate."""
        config, champion, window = attempt.config, attempt.champion, attempt.window
        self._say(f"{config.model_id}: stability gate on {len(window.validation)} rows")
        with attempt.step("gate"):
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
                inputs=window.inputs(window.validation),
                execution=window.execution,
                cost_bps=config.cost_bps,
                previous=opening_book(champion.model, window),
            )
        if stability.reason in ("passed", "sharpe_degradation"):
            attempt.measured["judged_through"] = window.end.isoformat()
        if stability.reason == UNJUDGEABLE:
            # Rows whose executed return is unknown left too few: nothing to judge on.
            self._defer(attempt, UNJUDGEABLE, explain(stability, config))
        if stability.reason == "non_finite" or (config.stability_check and not stability.passed):
            self._reject(attempt, stability.reason, explain(stability, config), stability)
        attempt.stability = stability
        return stability

    def _consolidate(self, attempt: Attempt, candidate: nn.Module) -> tuple[EWCState, float]:
        """Online EWC: the importance of the accepted weights on the data they were trained
        on joins the decayed Fisher of earlier versions, anchored at the new weights."""
        config, window = attempt.config, attempt.window
        self._say(f"{config.model_id}: Fisher information of the accepted weights")
        with attempt.step("fisher"):
            weight = new_day_share(window, attempt.champion.tags)
            decayed = dataclasses.replace(attempt.penalty_state, decay=config.fisher_decay)
            state = decayed.consolidate(
                compute_fisher_information(
                    candidate,
                    self._fisher_loader(window),
                    loss=loss_name(window.dataset.definition.target),
                ),
                {n: p.detach().clone() for n, p in candidate.named_parameters()},
                weight=weight,
            )
        if not state.is_finite():
            self._reject(
                attempt,
                "non_finite",
                "the Fisher information of the new weights is not finite",
                attempt.stability,
                fisher_stats=state.stats(),
            )
        return state, weight

    def _accept(self, attempt: Attempt, accepted: Accepted) -> UpdateSuccess | UpdateDeferred:
        """Register the accepted candidate: the champion, or with ``challenger_period`` the
        challenger."""
        model_id = attempt.config.model_id
        if attempt.config.challenger_period:
            self._say(f"{model_id}: registering the candidate as challenger")
            return attempt.name_challenger(self.registry, accepted)
        self._say(f"{model_id}: registering and promoting")
        return attempt.promote(self.registry, accepted)

    def _defer(self, attempt: Attempt, reason: str, detail: str) -> None:
        self._say(f"{attempt.config.model_id}: deferred ({reason}); champion stays")
        window = attempt.window
        raise Ended(
            UpdateDeferred(
                **attempt.common(),
                execution=window.execution,
                cost_bps=attempt.config.cost_bps,
                champion_version=attempt.champion.version,
                reason=reason,
                detail=detail,
            )
        )

    def _reject(self, attempt: Attempt, reason: str, *args: Any, **extra: Any) -> None:
        self._say(f"{attempt.config.model_id}: rejected ({reason}); champion stays")
        attempt.reject(self.registry, reason, *args, **extra)

    # -- helpers --------------------------------------------------------------------------
    def _require_training_rows(self, attempt: Attempt) -> None:
        config, window = attempt.config, attempt.window
        if len(window.train) < config.min_train_samples:
            self._reject(
                attempt,
                "insufficient_training_data",
                f"{len(window.train)} training rows in regime {attempt.regime!r}, "
                f"need {config.min_train_samples}",
            )

    @staticmethod
    def _fisher_loader(window: UpdateWindow):
        target = window.target
        x, y = window.inputs(window.train), window.labels(window.train)
        return make_loader(x, y, target=target, batch_size=256, shuffle=False)
