"""A plain supervised training loop with penalty hooks, and training from scratch.

Penalties (such as :class:`online_learning.ewc.EWCPenalty`) are callables ``penalty(model) ->
Tensor`` added to the task loss before ``backward``; the loop knows nothing about EWC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from online_learning.models import RegimeSpecialist

Penalty = Callable[[nn.Module], Tensor]


@dataclass
class TrainingReport:
    """What a call to :func:`fit` did."""

    steps: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    penalty: float = 0.0
    non_finite: bool = False

    @property
    def final_loss(self) -> float:
        return self.epoch_losses[-1] if self.epoch_losses else math.nan


def to_tensors(frame: pd.DataFrame, feature_names: Sequence[str]) -> tuple[Tensor, Tensor]:
    """Features as float32 and the ``target`` column as class ids (long)."""
    missing = [name for name in (*feature_names, "target") if name not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    x = torch.tensor(frame.loc[:, list(feature_names)].to_numpy(dtype=np.float32))
    y = torch.tensor(frame["target"].to_numpy(dtype=np.int64))
    return x, y


def make_loader(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
) -> DataLoader:
    """A seeded :class:`DataLoader` over a labelled feature frame."""
    x, y = to_tensors(frame, feature_names)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=generator
    )


def fit(
    model: nn.Module,
    loader: DataLoader,
    *,
    epochs: int,
    learning_rate: float,
    penalties: Sequence[Penalty] = (),
    weight_decay: float = 0.0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainingReport:
    """Train ``model`` in place with Adam on cross-entropy plus ``penalties``.

    Stops at the first non-finite loss and reports it (``non_finite=True``) rather than raising,
    so the caller can reject the update; the model's weights are then not to be trusted.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(64, 2); y = (x[:, 0] > 0).long()
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=16)
    >>> model = nn.Linear(2, 2)
    >>> report = fit(model, loader, epochs=30, learning_rate=0.05)
    >>> report.epoch_losses[-1] < report.epoch_losses[0]
    True
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    report = TrainingReport()
    model.train()
    for epoch in range(epochs):
        total, count, penalty_total = 0.0, 0, 0.0
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            task_loss = float(loss.detach())
            for penalty in penalties:
                term = penalty(model)
                penalty_total += float(term.detach())
                loss = loss + term
            if not torch.isfinite(loss):
                report.non_finite = True
                model.eval()
                return report
            loss.backward()
            optimizer.step()
            report.steps += 1
            total += task_loss * len(y)
            count += len(y)
        epoch_loss = total / max(count, 1)
        report.epoch_losses.append(epoch_loss)
        report.penalty = penalty_total / max(len(loader), 1)
        if on_epoch is not None:
            on_epoch(epoch, epoch_loss)
    model.eval()
    return report


@torch.no_grad()
def evaluate_loss(model: nn.Module, frame: pd.DataFrame, feature_names: Sequence[str]) -> float:
    """Mean cross-entropy of ``model`` on a labelled feature frame."""
    x, y = to_tensors(frame, feature_names)
    model.eval()
    return float(nn.functional.cross_entropy(model(x), y))


def train_from_scratch(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    regime: str | None = None,
    hidden: Sequence[int] | None = None,
    epochs: int = 40,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> tuple[RegimeSpecialist, TrainingReport]:
    """Build a :class:`RegimeSpecialist` and train it on ``frame`` ("full retrain").

    The input scaling is fitted on ``frame`` and then frozen; later incremental updates keep it.
    """
    torch.manual_seed(seed)
    model = RegimeSpecialist(feature_names, hidden=hidden, regime=regime)
    model.set_normalization(frame.loc[:, list(feature_names)].to_numpy(dtype=np.float32))
    loader = make_loader(frame, feature_names, batch_size=batch_size, seed=seed)
    report = fit(
        model,
        loader,
        epochs=epochs,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        on_epoch=on_epoch,
    )
    return model, report
