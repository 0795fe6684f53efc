"""A plain supervised training loop with penalty hooks, and training from scratch.

Penalties (such as :class:`online_learning.ewc.EWCPenalty`) are callables ``penalty(model) ->
Tensor`` added to the task loss before ``backward``; the loop knows nothing about EWC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

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


def to_tensors(x: np.ndarray, y: np.ndarray, target: str = "direction") -> tuple[Tensor, Tensor]:
    """Inputs as float32; labels as class ids (long) for ``direction``, float32 for ``return``."""
    inputs = torch.tensor(np.asarray(x, dtype=np.float32))
    if target == "direction":
        return inputs, torch.tensor(np.asarray(y, dtype=np.int64))
    return inputs, torch.tensor(np.asarray(y, dtype=np.float32))


def make_loader(
    x: np.ndarray,
    y: np.ndarray,
    *,
    target: str = "direction",
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
) -> DataLoader:
    """A seeded :class:`DataLoader` over inputs (rows or sequences) and their labels."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(*to_tensors(x, y, target)),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
    )


def task_loss(target: str = "direction") -> Callable[[Tensor, Tensor], Tensor]:
    """The loss a target trains with: cross-entropy on two logits, or squared error of one
    output (see :mod:`online_learning.models.network`)."""
    if target == "direction":
        return nn.functional.cross_entropy
    return lambda output, y: nn.functional.mse_loss(output.reshape(-1), y)


def fit(
    model: nn.Module,
    loader: DataLoader,
    *,
    epochs: int,
    learning_rate: float,
    penalties: Sequence[Penalty] = (),
    weight_decay: float = 0.0,
    on_epoch: Callable[[int, float], None] | None = None,
    target: str = "direction",
) -> TrainingReport:
    """Train ``model`` in place with Adam on its target's loss plus ``penalties``.

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
    loss_fn = task_loss(target)
    report = TrainingReport()
    model.train()
    for epoch in range(epochs):
        total, count, penalty_total = 0.0, 0, 0.0
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            batch_loss = float(loss.detach())
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
            total += batch_loss * len(y)
            count += len(y)
        epoch_loss = total / max(count, 1)
        report.epoch_losses.append(epoch_loss)
        report.penalty = penalty_total / max(len(loader), 1)
        if on_epoch is not None:
            on_epoch(epoch, epoch_loss)
    model.eval()
    return report


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, x: np.ndarray, y: np.ndarray, target: str = "direction"
) -> float:
    """Mean loss of ``model`` on inputs and labels (its target's loss)."""
    inputs, labels = to_tensors(x, y, target)
    model.eval()
    return float(task_loss(target)(model(inputs), labels))


def train_from_scratch(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    target: str = "direction",
    epochs: int = 40,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainingReport:
    """Train a fresh ``model`` on inputs ``x`` and labels ``y`` ("full retrain").

    The input scaling (and, for a ``return`` target, the output scale) is fitted on ``x`` and
    ``y`` and then frozen; later incremental updates keep it. Seed torch before building the
    model for a reproducible initialisation.
    """
    model.set_normalization(x)
    if target == "return":
        model.set_target_scale(y)
    loader = make_loader(x, y, target=target, batch_size=batch_size, seed=seed)
    return fit(
        model,
        loader,
        epochs=epochs,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        on_epoch=on_epoch,
        target=target,
    )
