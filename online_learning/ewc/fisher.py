"""The diagonal empirical Fisher information of any network, from per-sample gradients."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from online_learning.errors import ConfigError
from online_learning.ewc.per_sample import (
    PerSampleLoss,
    loop_squared_gradients,
    vmap_squared_gradients,
)

__all__ = ["LOSSES", "PerSampleLoss", "compute_fisher_information"]

logger = logging.getLogger(__name__)


def _cross_entropy(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(output, target)


def _squared_error(output: Tensor, target: Tensor) -> Tensor:
    # Shapes are per sample here (also under vmap), so a network with two outputs on a return
    # target is refused instead of broadcasting into a wrong, larger loss.
    if output.numel() != 1 or target.numel() != 1:
        raise ValueError(
            "squared_error takes one output and one target per sample, got output shape "
            f"{tuple(output.shape)} and target shape {tuple(target.shape)} for a batch of one"
        )
    return (output.reshape(()) - target.reshape(()).to(output.dtype)).pow(2)


LOSSES: Mapping[str, PerSampleLoss] = MappingProxyType(
    {"cross_entropy": _cross_entropy, "squared_error": _squared_error}
)
"""The built-in per-sample losses: ``direction`` targets use ``cross_entropy``, ``return``
targets ``squared_error``."""


def _check_targets(loss: str | PerSampleLoss, y: Tensor) -> None:
    if loss == "cross_entropy" and (
        y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool
    ):
        raise ValueError(f"labels must be integer class ids, got dtype {y.dtype}")
    if loss == "squared_error" and not y.dtype.is_floating_point:
        raise ValueError(f"squared_error targets must be floating point, got dtype {y.dtype}")


def compute_fisher_information(
    model: nn.Module,
    data_loader: Iterable[tuple[Tensor, Tensor]],
    *,
    loss: str | PerSampleLoss = "cross_entropy",
    max_samples: int | None = None,
    method: Literal["auto", "vmap", "loop"] = "auto",
) -> dict[str, Tensor]:
    """Diagonal empirical Fisher information of a network, from per-sample gradients.

    ``F_j = mean_i (d/d theta_j loss(model(x_i), y_i))**2`` with the observed targets ``y_i``.
    Each sample's gradient is computed on its own and squared before averaging, on both paths
    below. Squaring the gradient of a batch-mean loss instead would give ``(mean_i g_i)**2``:
    at fitted weights the ``g_i`` average to about zero and are nearly independent, so that is
    about ``mean_i g_i**2 / batch_size``; the estimate would shrink with the loader's batch
    size. Here it does not depend on it.

    Per-sample gradients come from ``torch.func`` (``vmap(grad(...))`` over ``functional_call``)
    where the network's layers allow it, else from one backward pass per sample: the same
    quantity, slower. With ``method="auto"`` vmap is tried on a batch and, if it raises a
    ``RuntimeError`` or ``NotImplementedError``, that batch and the rest use the loop (logged at
    INFO). Trying is more reliable than a list of module types: measured with torch 2.13 on CPU,
    ``nn.LSTM`` and attention run under vmap while ``nn.GRU`` and ``nn.RNN`` without an explicit
    initial state, ``nn.GRUCell``, ``.item()``, data-dependent ``if`` and random ops in
    ``forward`` do not, and a ``nn.GRU`` given a batched ``h0`` does (``x.new_zeros(layers,
    x.shape[0], hidden)``: the same function, and about 20x faster here, see
    ``benchmarks/fisher.py``). A network that is wrong (say, a shape mismatch) fails in the
    loop too, and that error is raised.

    Parameters
    ----------
    model : nn.Module
        Any network taking a batch of rows ``(batch, n_features)`` or of sequences ``(batch,
        sequence_length, n_features)``; each sample is evaluated alone, as a batch of one. It
        is put in eval mode during the computation (dropout off, normalisation statistics
        frozen) and its previous mode is restored afterwards. Its parameters' ``.grad`` are not
        touched.
    data_loader : Iterable of (Tensor, Tensor)
        Batches ``(x, y)``, inputs of any rank with the samples along the first dimension.
        With vmap, memory grows with batch size times number of parameters, so the batch size
        is the knob for large models; the result does not depend on it.
    loss : {"cross_entropy", "squared_error"} or callable, default "cross_entropy"
        The per-sample loss, as the network is trained. ``"cross_entropy"``: logits ``(batch,
        n_classes)`` and integer class ids ``y`` (a ``direction`` target). ``"squared_error"``:
        ``(output - y)**2`` with one output per sample, ``(batch, 1)`` or ``(batch,)``, and
        float ``y`` (a ``return`` target); the Fisher of a Gaussian likelihood of variance 1/2,
        so ``ewc_lambda`` weighs the penalty against the task loss as it does for cross-entropy.
        A callable gets ``(model(x_i[None]), y_i[None])`` and returns a scalar; it must use
        torch operations only, for vmap.
    max_samples : int, optional
        Use at most this many samples (the first ones the loader yields).
    method : {"auto", "vmap", "loop"}, default "auto"
        How per-sample gradients are computed: vmap with the loop as fallback, vmap only (its
        errors are raised), or the loop only.

    Returns
    -------
    dict of str to Tensor
        One entry per parameter with ``requires_grad``, keyed by ``model.named_parameters()``
        names, with the parameter's shape, detached, float32 on CPU.

    Raises
    ------
    ValueError
        If the loader yields no samples, ``x`` and ``y`` differ in length, or the targets do
        not fit a built-in loss (class ids for ``"cross_entropy"``, floats and one output per
        sample for ``"squared_error"``).
    ConfigError
        If ``max_samples`` is not a positive integer, or ``loss`` or ``method`` is unknown.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(3, 2)
    >>> batches = [(torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))]
    >>> fisher = compute_fisher_information(model, batches)
    >>> sorted(fisher), tuple(fisher["weight"].shape)
    (['bias', 'weight'], (2, 3))
    >>> bool((fisher["weight"] >= 0).all())
    True

    A GRU over sequences of 5 days on a return target: vmap cannot batch it, so ``"auto"``
    takes the loop.

    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.gru, self.head = nn.GRU(3, 4, batch_first=True), nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.head(self.gru(x)[0][:, -1])
    >>> net = Net()
    >>> sequences = [(torch.randn(6, 5, 3), torch.randn(6))]
    >>> compute_fisher_information(net, sequences, loss="squared_error", method="vmap")
    Traceback (most recent call last):
    RuntimeError: ...
    >>> fisher = compute_fisher_information(net, sequences, loss="squared_error")
    >>> tuple(fisher["gru.weight_hh_l0"].shape), bool(fisher["head.bias"] > 0)
    ((12, 4), True)
    """
    if max_samples is not None and (isinstance(max_samples, bool) or max_samples < 1):
        raise ConfigError(f"max_samples must be a positive integer or None, got {max_samples!r}")
    if method not in ("auto", "vmap", "loop"):
        raise ConfigError(f"method must be 'auto', 'vmap' or 'loop', got {method!r}")
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ConfigError(f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}")
        loss_fn = LOSSES[loss]
    elif callable(loss):
        loss_fn = loss
    else:
        raise ConfigError(f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}")
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    device = next(iter(trainable.values())).device if trainable else torch.device("cpu")
    sums = {n: torch.zeros(p.shape, dtype=torch.float64) for n, p in trainable.items()}
    use_vmap = method != "loop"
    n_seen = 0
    was_training = model.training
    model.eval()
    try:
        for x, y in data_loader:
            _check_targets(loss, y)
            if len(x) != len(y):
                raise ValueError(f"a batch has {len(x)} inputs but {len(y)} targets")
            if max_samples is not None:
                x, y = x[: max_samples - n_seen], y[: max_samples - n_seen]
            if len(y) == 0:
                continue
            x, y = x.to(device), y.to(device)
            squares = None
            if use_vmap:
                try:
                    squares = vmap_squared_gradients(model, loss_fn, x, y)
                except (RuntimeError, NotImplementedError) as exc:
                    if method == "vmap":
                        raise
                    use_vmap = False
                    logger.info(
                        "per-sample gradients of %s: torch.func.vmap failed (%s: %s); one "
                        "backward per sample instead",
                        type(model).__name__,
                        type(exc).__name__,
                        str(exc).splitlines()[0] if str(exc) else "",
                    )
            if squares is None:
                squares = loop_squared_gradients(model, loss_fn, x, y)
            for name, s in squares.items():
                sums[name] += s
            n_seen += len(y)
            if max_samples is not None and n_seen >= max_samples:
                break
    finally:
        model.train(was_training)
    if n_seen == 0:
        raise ValueError("data_loader yielded no samples; cannot estimate the Fisher information")
    return {name: (s / n_seen).to(torch.float32) for name, s in sums.items()}
