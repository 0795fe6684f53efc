"""PyTorch regime specialists: one small classifier per market regime.

A specialist predicts the direction of the next day's return (class 1 = up) from the causal
features of :mod:`online_learning.features`. Feature scaling lives inside the model as buffers,
so a registered version carries everything it needs to predict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["PredictsUp", "RegimeSpecialist"]


class PredictsUp:
    """``predict_proba``: the probability of an up move (``p_up``) per input, from a network's
    ``forward`` and its ``p_up(output)`` (see :mod:`online_learning.models.network`)."""

    @torch.no_grad()
    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``p_up`` per input (rows or sequences), in eval mode, the mode restored after."""
        was_training = self.training
        self.eval()
        try:
            # Copy only a read-only input (a pandas view): torch warns on sharing one.
            array = np.asarray(features, dtype=np.float32)
            x = torch.from_numpy(array if array.flags.writeable else array.copy())
            return self.p_up(self(x)).numpy()
        finally:
            self.train(was_training)


class RegimeSpecialist(PredictsUp, nn.Module):
    """A multilayer perceptron returning two logits (down, up).

    Parameters
    ----------
    feature_names : sequence of str
        Names of the input columns, in order; kept with the model so callers can check them.
    hidden : sequence of int, default (32, 16)
        Widths of the hidden layers.
    regime : str or None
        The regime this model specialises in (informational).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = RegimeSpecialist(["a", "b", "c"], hidden=(4,))
    >>> model(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    >>> p = model.predict_proba(np.zeros((2, 3), dtype=np.float32))
    >>> p.shape, bool(((p > 0) & (p < 1)).all())
    ((2,), True)
    """

    def __init__(
        self,
        feature_names: Sequence[str],
        hidden: Sequence[int] | None = None,
        regime: str | None = None,
    ) -> None:
        super().__init__()
        if not feature_names:
            raise ValueError("feature_names must name at least one input column")
        hidden = (32, 16) if hidden is None else tuple(hidden)
        if any(int(width) < 1 for width in hidden):
            raise ValueError(f"hidden widths must be positive, got {hidden}")
        self.feature_names = tuple(feature_names)
        self.hidden = hidden
        self.regime = regime
        n_features = len(self.feature_names)
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            width = int(size)
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def set_normalization(self, features: np.ndarray) -> None:
        """Fit the input scaling on training features (rows x columns)."""
        values = torch.tensor(np.asarray(features, dtype=np.float32))
        if values.ndim != 2 or values.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected a (rows, {len(self.feature_names)}) array, got {tuple(values.shape)}"
            )
        if values.shape[0] < 2:
            raise ValueError("need at least two rows to fit the input scaling")
        self.feature_mean.copy_(values.mean(dim=0))
        self.feature_std.copy_(values.std(dim=0).clamp_min(1e-6))

    #: Under the model contract (:mod:`online_learning.models.network`): two logits over rows.
    target = "direction"
    sequence_length = None

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.feature_mean) / self.feature_std)

    def p_up(self, output: Tensor) -> Tensor:
        """The probability of an up move: the softmax of the second logit."""
        return torch.softmax(output, dim=-1)[:, 1]


def relative_change(before: nn.Module, after: nn.Module) -> float:
    """``||theta_after - theta_before|| / ||theta_before||`` over the parameters of two copies.

    Examples
    --------
    >>> import copy
    >>> a = nn.Linear(2, 1); b = copy.deepcopy(a)
    >>> relative_change(a, b)
    0.0
    >>> with torch.no_grad():
    ...     _ = [p.mul_(2.0) for p in b.parameters()]
    >>> round(relative_change(a, b), 6)
    1.0
    """
    old = dict(before.named_parameters())
    diff = sum(
        float((p.detach() - old[n].detach()).pow(2).sum()) for n, p in after.named_parameters()
    )
    norm = sum(float(p.detach().pow(2).sum()) for p in old.values())
    return math.sqrt(diff) / max(math.sqrt(norm), 1e-12)


def parameters_finite(model: nn.Module) -> bool:
    """True when every parameter and buffer of ``model`` is finite."""
    tensors = [*model.parameters(), *model.buffers()]
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())
