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
import torch
from torch import nn

from online_learning.data import DataSource
from online_learning.errors import DataError
from online_learning.ewc import EWCState, compute_fisher_information
from online_learning.execution import position_from_p_up
from online_learning.models.dataset import load_dataset
from online_learning.models.definition import ModelDefinition
from online_learning.models.estimator import ContractEstimator, build_estimator
from online_learning.models.feature_functions import FeatureFunction
from online_learning.models.network import build_network, loss_name
from online_learning.registry.base import ModelRegistry
from online_learning.stats import sharpe_ratio
from online_learning.update.training import evaluate_loss, make_loader, train_from_scratch


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


def fit_model(
    source: DataSource,
    definition: ModelDefinition,
    *,
    start: date | None = None,
    end: date | None = None,
    epochs: int = 40,
    learning_rate: float = 1e-3,
    seed: int = 0,
    fisher_decay: float = 0.5,
    min_rows: int = 50,
    where: str = "",
) -> tuple[nn.Module | ContractEstimator, EWCState | None, dict[str, object], ModelDefinition]:
    """Train the model of ``definition`` from scratch on its labelled days in ``[start, end]``
    (of its regime and symbols).

    A team's feature function is checked for look-ahead on the fetched prices first, and its
    network's output against its target. Returns the model, its initial EWC state (Fisher on
    the training rows, anchored at the trained weights; None for an estimator, which is
    fitted on the rows instead), a summary and the definition with the feature names the
    features produced. ``where`` says where the model was configured
    (``"<file>: [models.<id>]"``): a problem of its network or features names it.
    """
    features = FeatureFunction(definition.features, where=f"{where} features" if where else "")
    dataset = load_dataset(
        source, definition, start=start, end=end, features=features, check_look_ahead=True
    )
    definition = dataset.definition
    rows = dataset.usable(dataset.between(start, end))
    if definition.regime is not None:
        rows = rows[rows["regime_label"] == definition.regime].reset_index(drop=True)
    if len(rows) < min_rows:
        raise DataError(
            f"{source.name}: {len(rows)} labelled rows of regime {definition.regime!r} between "
            f"{start or 'the start'} and {end or 'the end'}; training {definition.model_id} "
            f"needs {min_rows}"
        )
    x, y = dataset.inputs(rows).x, rows["target"].to_numpy()
    if definition.kind == "estimator":
        model = build_estimator(
            definition, seed=seed, where=f"{where} estimator" if where else ""
        ).fit(x, y)
        state, train_loss = None, model.loss(x, y)
        p_up = model.predict_proba(x)
        non_finite = not np.isfinite(p_up).all()
    else:
        torch.manual_seed(seed)
        model = build_network(definition, where=f"{where} network" if where else "")
        report = train_from_scratch(
            model, x, y, target=definition.target, epochs=epochs, learning_rate=learning_rate,
            seed=seed,
        )  # fmt: skip
        loader = make_loader(x, y, target=definition.target, shuffle=False)
        fisher = compute_fisher_information(model, loader, loss=loss_name(definition.target))
        state = EWCState.from_model(model, fisher, decay=fisher_decay)
        train_loss = evaluate_loss(model, x, y, definition.target)
        p_up, non_finite = model.predict_proba(x), report.non_finite
    summary = {
        "n_train": len(rows),
        "train_loss": train_loss,
        "train_sharpe": sharpe_ratio(_in_sample_returns(p_up, rows)),
        "start": rows["date"].min().date().isoformat(),
        "end": rows["date"].max().date().isoformat(),
        "regime": definition.regime,
        "non_finite": non_finite,
    }
    return model, state, summary, definition


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
    definition: ModelDefinition | None = None,
    where: str = "",
) -> TrainingResult:
    """Full retrain of ``model_id``: train, register a version with its definition, and
    promote it to champion. Without ``definition`` the model is the platform's own network on
    its ten features (a specialist's regime for the three specialists) on ``source``."""
    began = time.perf_counter()
    definition = definition or ModelDefinition.builtin(model_id, data=source.name)
    model, state, summary, definition = fit_model(
        source,
        definition,
        start=start,
        end=end,
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        where=where,
    )
    if summary["non_finite"] or (state is not None and not state.is_finite()):
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
        definition=definition,
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
            **(state.stats() if state is not None else {}),
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


def _in_sample_returns(p_up: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """Per-row gross returns of the positions of ``p_up`` at ``same-close``: the training Sharpe
    of a retrain, an in-sample diagnostic only (decisions price at the executable timing)."""
    position = position_from_p_up(np.asarray(p_up, dtype=np.float64))
    return position * np.expm1(rows["forward_return"].to_numpy(dtype=np.float64))
