"""Full retrain: train a model from scratch on a period and register it as champion.

This is how the regime specialists are bootstrapped, and the expensive baseline that
incremental updates are compared against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from torch import nn

from online_learning.data import DataSource
from online_learning.errors import DataError
from online_learning.ewc import EWCState, compute_fisher_information
from online_learning.execution import position_from_p_up
from online_learning.features import FEATURE_COLUMNS
from online_learning.models import RegimeSpecialist
from online_learning.registry.base import ModelRegistry
from online_learning.specialists import regime_of
from online_learning.stats import sharpe_ratio
from online_learning.update.training import evaluate_loss, make_loader, train_from_scratch
from online_learning.update.window import labelled_features


@dataclass(frozen=True)
class TrainingResult:
    """A model trained from scratch and, unless asked not to, promoted."""

    model_id: str
    version: str
    promoted: bool
    n_train: int
    train_loss: float
    train_sharpe: float
    start: str
    end: str
    duration_s: float


def fit_specialist(
    source: DataSource,
    *,
    model_id: str,
    start: date | None = None,
    end: date | None = None,
    epochs: int = 40,
    learning_rate: float = 1e-3,
    seed: int = 0,
    fisher_decay: float = 0.5,
    min_rows: int = 50,
) -> tuple[RegimeSpecialist, EWCState, dict[str, object]]:
    """Train ``model_id`` from scratch on labelled days in ``[start, end]`` of its regime.

    Returns the model, its initial EWC state (Fisher on the training rows, anchored at the
    trained weights) and a summary.
    """
    regime = regime_of(model_id)
    rows = labelled_features(source, start=start, end=end)
    if regime is not None:
        rows = rows[rows["regime_label"] == regime].reset_index(drop=True)
    if len(rows) < min_rows:
        raise DataError(
            f"{source.name}: {len(rows)} labelled rows of regime {regime!r} between "
            f"{start or 'the start'} and {end or 'the end'}; training {model_id} needs {min_rows}"
        )
    model, report = train_from_scratch(
        rows, FEATURE_COLUMNS, regime=regime, epochs=epochs, learning_rate=learning_rate, seed=seed
    )
    fisher = compute_fisher_information(model, make_loader(rows, FEATURE_COLUMNS, shuffle=False))
    state = EWCState.from_model(model, fisher, decay=fisher_decay)
    summary = {
        "n_train": len(rows),
        "train_loss": evaluate_loss(model, rows, FEATURE_COLUMNS),
        "train_sharpe": sharpe_ratio(_in_sample_returns(model, rows)),
        "start": rows["date"].min().date().isoformat(),
        "end": rows["date"].max().date().isoformat(),
        "regime": regime,
        "non_finite": report.non_finite,
    }
    return model, state, summary


def train_and_register(
    *,
    registry: ModelRegistry,
    source: DataSource,
    model_id: str,
    start: date | None = None,
    end: date | None = None,
    epochs: int = 40,
    learning_rate: float = 1e-3,
    seed: int = 0,
    promote: bool = True,
) -> TrainingResult:
    """Full retrain of ``model_id``: train, register a version, and promote it to champion."""
    began = time.perf_counter()
    model, state, summary = fit_specialist(
        source,
        model_id=model_id,
        start=start,
        end=end,
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
    )
    if summary["non_finite"] or not state.is_finite():
        raise DataError(f"training {model_id} from scratch produced non-finite values")
    tags = {
        "kind": "full_retrain",
        "decision": "promoted" if promote else "registered",
        # The days this version learned: the next update weights its Fisher by the new ones.
        "train_start": str(summary["start"]),
        "train_end": str(summary["end"]),
    }
    if summary["regime"]:
        tags["regime"] = str(summary["regime"])
    record = registry.log_candidate(
        model_id=model_id,
        model=model,
        ewc_state=state,
        params={
            "start": summary["start"],
            "end": summary["end"],
            "epochs": epochs,
            "learning_rate": learning_rate,
            "seed": seed,
            "data_source": source.name,
        },
        metrics={
            "train_loss": float(summary["train_loss"]),
            "train_sharpe": float(summary["train_sharpe"]),
            "n_train": float(summary["n_train"]),
            **state.stats(),
        },
        tags=tags,
        register=True,
    )
    if promote:
        registry.promote(model_id=model_id, version=record.version)
    return TrainingResult(
        model_id=model_id,
        version=str(record.version),
        promoted=promote,
        n_train=int(summary["n_train"]),
        train_loss=float(summary["train_loss"]),
        train_sharpe=float(summary["train_sharpe"]),
        start=str(summary["start"]),
        end=str(summary["end"]),
        duration_s=time.perf_counter() - began,
    )


def _in_sample_returns(model: nn.Module, frame: pd.DataFrame) -> np.ndarray:
    """Per-row gross returns of ``model``'s positions at ``same-close``: the training Sharpe of
    a retrain, an in-sample diagnostic only (decisions price at the executable timing)."""
    features = frame.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype=np.float32)
    position = position_from_p_up(model.predict_proba(features).astype(np.float64))
    return position * np.expm1(frame["forward_return"].to_numpy(dtype=np.float64))
