"""The diagonal empirical Fisher information of a classifier, from per-sample gradients."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from online_learning.errors import ConfigError

__all__ = ["compute_fisher_information"]


def compute_fisher_information(
    model: nn.Module,
    data_loader: Iterable[tuple[Tensor, Tensor]],
    *,
    max_samples: int | None = None,
) -> dict[str, Tensor]:
    """Diagonal empirical Fisher information of a classifier, from per-sample gradients.

    ``F_j = mean_i (d/d theta_j CE(model(x_i), y_i))**2`` with the true labels ``y_i``. Each
    sample's gradient is computed separately with ``torch.func`` (``vmap(grad(...))`` over
    ``functional_call``) and squared before averaging. Squaring the gradient of a batch-mean loss
    instead would give ``(mean_i g_i)**2``: that mixes samples, lets their gradients cancel, and
    underestimates the Fisher by about the batch size, so the result would depend on the loader's
    batch size. Here it does not.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits of shape ``(batch, n_classes)``. It is put in eval mode during
        the computation (dropout off, normalisation statistics frozen) and its previous mode is
        restored afterwards. Its parameters' ``.grad`` are not touched.
    data_loader : Iterable of (Tensor, Tensor)
        Batches ``(x, y)`` with ``y`` integer class ids of shape ``(batch,)``. Memory grows with
        batch size times number of parameters, so the batch size is the knob for large models.
    max_samples : int, optional
        Use at most this many samples (the first ones the loader yields).

    Returns
    -------
    dict of str to Tensor
        One entry per parameter with ``requires_grad``, keyed by ``model.named_parameters()``
        names, with the parameter's shape, detached, float32 on CPU.

    Raises
    ------
    ValueError
        If the loader yields no samples or the labels are not integer class ids.
    ConfigError
        If ``max_samples`` is not a positive integer.

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
    """
    if max_samples is not None and (isinstance(max_samples, bool) or max_samples < 1):
        raise ConfigError(f"max_samples must be a positive integer or None, got {max_samples!r}")
    trainable = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    # Frozen parameters and buffers (e.g. normalisation mean/std) ride along unchanged.
    fixed = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    fixed.update(dict(model.named_buffers()))
    device = next(iter(trainable.values())).device if trainable else torch.device("cpu")

    def sample_loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        logits = functional_call(model, (params, fixed), (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    per_sample_grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    sums = {n: torch.zeros(p.shape, dtype=torch.float64) for n, p in trainable.items()}
    n_seen = 0
    was_training = model.training
    model.eval()
    try:
        for x, y in data_loader:
            if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
                raise ValueError(f"labels must be integer class ids, got dtype {y.dtype}")
            if max_samples is not None:
                x, y = x[: max_samples - n_seen], y[: max_samples - n_seen]
            if len(y) == 0:
                continue
            grads = per_sample_grads(trainable, x.to(device), y.to(device))
            for name, g in grads.items():
                sums[name] += g.detach().to("cpu", torch.float64).pow(2).sum(dim=0)
            n_seen += len(y)
            if max_samples is not None and n_seen >= max_samples:
                break
    finally:
        model.train(was_training)
    if n_seen == 0:
        raise ValueError("data_loader yielded no samples; cannot estimate the Fisher information")
    return {name: (s / n_seen).to(torch.float32) for name, s in sums.items()}
