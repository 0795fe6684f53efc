"""All specialists in one forward pass: their weights stacked into batched matrix products.

Three small MLPs called one after the other cost three times PyTorch's per-call overhead,
which dominates at one row (measured here: ~465 us for three calls against ~79 us stacked, on
a loaded machine). When every champion is a plain
:class:`~online_learning.models.RegimeSpecialist` (scaling buffers, then Linear and ReLU
layers) of the same shape, their parameters are stacked once, when the champion set is
built, and a prediction runs ``baddbmm`` over the stack: the same arithmetic per model,
equal to each model's own forward to float32 rounding. Other models are called one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from online_learning.models import RegimeSpecialist

__all__ = ["StackedForward"]


def _layers(model: nn.Module) -> list[nn.Module] | None:
    if getattr(type(model), "forward", None) is not RegimeSpecialist.forward:
        return None
    net = getattr(model, "net", None)
    if not isinstance(net, nn.Sequential):
        return None
    layers = list(net)
    # Linear (ReLU Linear)*, ending in the two logits (down, up).
    pattern = [nn.Linear if i % 2 == 0 else nn.ReLU for i in range(len(layers))]
    if len(layers) % 2 == 0 or [type(x) for x in layers] != pattern:
        return None
    return layers if layers[-1].out_features == 2 else None


class StackedForward:
    """``p_up`` of every model for every row from one batched pass.

    Build with :meth:`build`, which returns None when the models cannot be stacked.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> models = [RegimeSpecialist(["a", "b"], hidden=(4,)).eval() for _ in range(3)]
    >>> stacked = StackedForward.build(models)
    >>> rows = np.array([[0.5, -1.0], [2.0, 0.0]], dtype=np.float32)
    >>> each = np.column_stack([m.predict_proba(rows) for m in models])
    >>> bool(np.allclose(stacked(rows), each, atol=1e-6)), stacked(rows).shape
    (True, (2, 3))
    """

    def __init__(self, mean, std, weights, biases, relu_after) -> None:
        self.mean = mean  # (k, 1, d)
        self.std = std  # (k, 1, d)
        self.weights = weights  # per linear layer: (k, in, out)
        self.biases = biases  # per linear layer: (k, 1, out)
        self.relu_after = relu_after  # per linear layer: followed by a ReLU?

    @classmethod
    def build(cls, models: Sequence[nn.Module]) -> StackedForward | None:
        """Stack ``models`` if they are all plain specialists of one shape, else None."""
        structures = [_layers(m) for m in models]
        if not models or any(s is None for s in structures):
            return None
        shape = [
            (type(x), tuple(getattr(x, "weight", torch.empty(0)).shape)) for x in structures[0]
        ]
        for layers in structures[1:]:
            if [
                (type(x), tuple(getattr(x, "weight", torch.empty(0)).shape)) for x in layers
            ] != shape:
                return None
        with torch.no_grad():
            mean = torch.stack([m.feature_mean.detach().clone() for m in models])[:, None, :]
            std = torch.stack([m.feature_std.detach().clone() for m in models])[:, None, :]
            linear = [i for i, layer in enumerate(structures[0]) if isinstance(layer, nn.Linear)]
            weights = [torch.stack([s[i].weight.detach().T.contiguous() for s in structures])
                       for i in linear]  # fmt: skip
            biases = [torch.stack([s[i].bias.detach().clone() for s in structures])[:, None, :]
                      for i in linear]  # fmt: skip
        n = len(structures[0])
        relu_after = [i + 1 < n and isinstance(structures[0][i + 1], nn.ReLU) for i in linear]
        return cls(mean, std, weights, biases, relu_after)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """``(n, k)`` float64 ``p_up`` for ``(n, d)`` float32 rows."""
        with torch.inference_mode():
            h = (torch.from_numpy(rows)[None] - self.mean) / self.std
            for weight, bias, relu in zip(self.weights, self.biases, self.relu_after, strict=True):
                h = torch.baddbmm(bias, h, weight)
                if relu:
                    h = torch.relu(h)
            p_up = torch.softmax(h, dim=-1)[..., 1]  # (k, n)
            return p_up.T.numpy().astype(np.float64)
