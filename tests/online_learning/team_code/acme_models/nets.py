"""A team's networks: a GRU over sequences of days, and a small MLP that predicts a return."""

from __future__ import annotations

import torch
from torch import nn


class DirectionGRU(nn.Module):
    """Two logits (down, up) from the last state of a GRU over ``(batch, days, features)``."""

    def __init__(self, n_features: int, hidden: int = 16) -> None:
        super().__init__()
        self.hidden = hidden
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # An explicit initial state keeps the per-sample Fisher on torch.func's fast path.
        h0 = x.new_zeros(1, x.shape[0], self.hidden)
        out, _ = self.gru(x, h0)
        return self.head(out[:, -1])


def make_gru(n_features: int, hidden: int = 16) -> nn.Module:
    return DirectionGRU(n_features, hidden)


def make_mlp(n_features: int, hidden: int = 8) -> nn.Module:
    """One output: the predicted log return over the model's horizon."""
    return nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def make_wrong_output(n_features: int, **params: object) -> nn.Module:
    """Three outputs: fits neither target."""
    return nn.Linear(n_features, 3)
