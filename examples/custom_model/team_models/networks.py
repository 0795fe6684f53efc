"""The team's network, under the platform's contract: ``make_gru(n_features, **params)`` returns
a ``torch.nn.Module`` that takes sequences ``(batch, sequence_length, n_features)`` (already
scaled by the platform) and returns two logits ``(batch, 2)``: down, up."""

from __future__ import annotations

import torch
from torch import nn


class DirectionGRU(nn.Module):
    def __init__(self, n_features: int, hidden: int = 16, layers: int = 1) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.gru = nn.GRU(n_features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # An explicit initial state lets the platform compute EWC's per-sample Fisher with
        # torch.func (vmap) instead of one backward pass per sample (about 20x slower).
        h0 = x.new_zeros(self.layers, x.shape[0], self.hidden)
        out, _ = self.gru(x, h0)
        return self.head(out[:, -1])


def make_gru(n_features: int, hidden: int = 16, layers: int = 1) -> nn.Module:
    return DirectionGRU(n_features, hidden, layers)
