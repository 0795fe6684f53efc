"""Sums over a batch of squared per-sample gradients, two ways: ``torch.func`` and a loop.

Both evaluate every sample alone, as a batch of one, and return
``{name: sum_i (d loss(model(x_i[None]), y_i[None]) / d param)**2}`` in float64 on CPU for the
parameters with ``requires_grad``; :func:`online_learning.ewc.compute_fisher_information`
averages them. The vmap version is one vectorised pass; the loop is one forward and backward
per sample and works wherever the network runs at all (recurrent layers that have no batching
rule, ``.item()``, data-dependent control flow).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

__all__ = ["PerSampleLoss", "loop_squared_gradients", "vmap_squared_gradients"]

PerSampleLoss = Callable[[Tensor, Tensor], Tensor]
"""``loss(output, target) -> scalar`` for one sample, both with a leading batch dimension of 1."""


def _trainable(model: nn.Module) -> dict[str, nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def vmap_squared_gradients(
    model: nn.Module, loss: PerSampleLoss, x: Tensor, y: Tensor
) -> dict[str, Tensor]:
    """Squared per-sample gradients summed over the batch, with ``vmap(grad(...))``.

    Raises whatever ``vmap`` raises on layers it cannot batch (a ``RuntimeError``).

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(3, 2)
    >>> x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    >>> fast = vmap_squared_gradients(model, F.cross_entropy, x, y)
    >>> slow = loop_squared_gradients(model, F.cross_entropy, x, y)
    >>> all(torch.allclose(fast[n], slow[n]) for n in slow), fast["bias"].dtype
    (True, torch.float64)
    """
    trainable = {n: p.detach() for n, p in _trainable(model).items()}
    # Frozen parameters and buffers (e.g. normalisation mean/std) ride along unchanged.
    fixed = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    fixed.update(dict(model.named_buffers()))

    def sample_loss(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        output = functional_call(model, (params, fixed), (xi.unsqueeze(0),))
        return loss(output, yi.unsqueeze(0))

    grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))(trainable, x, y)
    return {n: g.detach().to("cpu", torch.float64).pow(2).sum(dim=0) for n, g in grads.items()}


def loop_squared_gradients(
    model: nn.Module, loss: PerSampleLoss, x: Tensor, y: Tensor
) -> dict[str, Tensor]:
    """Squared per-sample gradients summed over the batch, one forward and backward per sample.

    ``torch.autograd.grad`` returns the gradients instead of accumulating them, so the
    parameters' ``.grad`` stay as they were. A parameter the loss does not reach gets zeros, as
    under vmap.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from torch import nn
    >>> model = nn.Linear(1, 1)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(2.0), model.bias.fill_(0.0)
    >>> x, y = torch.tensor([[1.0], [3.0]]), torch.tensor([1.0, 5.0])
    >>> def squared_error(out, target):
    ...     return (out.reshape(()) - target.reshape(())) ** 2
    >>> # d/dw (w x - y)**2 = 2 (w x - y) x: 2 for the first sample, 6 for the second.
    >>> loop_squared_gradients(model, squared_error, x, y)["weight"].item()
    40.0
    """
    trainable = _trainable(model)
    names, params = list(trainable), list(trainable.values())
    sums = {n: torch.zeros(p.shape, dtype=torch.float64) for n, p in trainable.items()}
    if not params:
        return sums
    # As torch.func.grad does, compute gradients even inside a caller's torch.no_grad().
    with torch.enable_grad():
        for i in range(len(x)):
            value = loss(model(x[i : i + 1]), y[i : i + 1])
            grads = torch.autograd.grad(value, params, allow_unused=True)
            for name, g in zip(names, grads, strict=True):
                if g is not None:
                    sums[name] += g.detach().to("cpu", torch.float64).pow(2)
    return sums
