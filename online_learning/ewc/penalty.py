"""The EWC penalty ``(lambda / 2) * sum_j F_j (theta_j - theta*_j)**2``."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from online_learning.errors import ConfigError

__all__ = ["check_lambda", "ewc_loss", "quadratic_penalty"]


def check_lambda(ewc_lambda: float) -> float:
    try:
        value = float(ewc_lambda)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"ewc_lambda must be a number, got {ewc_lambda!r}") from exc
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"ewc_lambda must be finite and >= 0, got {ewc_lambda!r}")
    return value


def quadratic_penalty(
    model: nn.Module,
    anchor: Mapping[str, Tensor],
    fisher: Mapping[str, Tensor],
    ewc_lambda: float,
) -> Tensor:
    """``(ewc_lambda / 2) * sum_j F_j (theta_j - anchor_j)**2``; shared by every public entry."""
    scale = check_lambda(ewc_lambda) / 2
    params = dict(model.named_parameters())
    for name, f in fisher.items():
        if name not in params:
            raise ValueError(f"Fisher entry {name!r} is not a parameter of the model")
        if name not in anchor:
            raise ValueError(f"Fisher entry {name!r} has no anchor value")
        for what, t in (("Fisher", f), ("anchor", anchor[name])):
            if t.shape != params[name].shape:
                raise ValueError(
                    f"{what} shape {tuple(t.shape)} of parameter {name!r} does not match the "
                    f"model's {tuple(params[name].shape)}"
                )
    first = next(iter(params.values()), None)
    total = torch.zeros(
        (),
        device=first.device if first is not None else None,
        dtype=first.dtype if first is not None else None,
    )
    for name, f in fisher.items():
        p = params[name]
        diff = p - anchor[name].detach().to(device=p.device, dtype=p.dtype)
        total = total + (f.to(device=p.device, dtype=p.dtype) * diff.pow(2)).sum()
    return scale * total


def ewc_loss(
    model: nn.Module,
    old_model: nn.Module,
    fisher_dict: Mapping[str, Tensor],
    ewc_lambda: float,
) -> Tensor:
    """EWC penalty pulling ``model`` toward the parameters of ``old_model``.

    Returns ``(ewc_lambda / 2) * sum_j F_j (theta_j - theta*_j)**2`` over the parameters named in
    ``fisher_dict``, so its gradient is ``ewc_lambda * F * (theta - theta*)``.

    Parameters
    ----------
    model : nn.Module
        Model being trained; the result is differentiable with respect to its parameters.
    old_model : nn.Module
        Model holding the anchor parameters ``theta*`` (used detached).
    fisher_dict : Mapping of str to Tensor
        Diagonal Fisher per parameter name, e.g. from :func:`compute_fisher_information`.
    ewc_lambda : float
        Penalty strength, finite and ``>= 0``.

    Returns
    -------
    Tensor
        Scalar on the device and in the dtype of ``model``'s parameters.

    Raises
    ------
    ConfigError
        If ``ewc_lambda`` is negative or not finite.
    ValueError
        If a Fisher entry names a parameter missing from a model or its shape does not match.

    Examples
    --------
    >>> import copy, torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> old = nn.Linear(2, 1)
    >>> new = copy.deepcopy(old)
    >>> fisher = {"weight": torch.ones(1, 2), "bias": torch.ones(1)}
    >>> ewc_loss(new, old, fisher, ewc_lambda=10.0).item()
    0.0
    >>> with torch.no_grad():
    ...     _ = new.bias.add_(1.0)
    >>> ewc_loss(new, old, fisher, ewc_lambda=10.0).item()
    5.0
    """
    anchor = {name: p.detach() for name, p in old_model.named_parameters()}
    return quadratic_penalty(model, anchor, fisher_dict, ewc_lambda)
