"""Online EWC's state (accumulated Fisher and anchor weights) and the loss hook built on it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from online_learning.errors import ConfigError
from online_learning.ewc.penalty import check_lambda, quadratic_penalty

__all__ = ["EWCPenalty", "EWCState"]


def _check_same_layout(
    ref: Mapping[str, Tensor], other: Mapping[str, Tensor], ref_name: str, other_name: str
) -> None:
    if set(ref) != set(other):
        missing, extra = sorted(set(ref) - set(other)), sorted(set(other) - set(ref))
        raise ValueError(
            f"{other_name} keys differ from {ref_name}: missing {missing}, unexpected {extra}"
        )
    for name, t in ref.items():
        if t.shape != other[name].shape:
            raise ValueError(
                f"parameter {name!r}: {other_name} shape {tuple(other[name].shape)} does not "
                f"match {ref_name} shape {tuple(t.shape)}"
            )


def _copy(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {name: t.detach().to("cpu").clone() for name, t in tensors.items()}


@dataclass
class EWCState:
    """Accumulated Fisher and anchor weights of online EWC; travels with a model version.

    Parameters
    ----------
    fisher : dict of str to Tensor
        Decayed running sum of diagonal Fisher information per parameter name.
    anchor : dict of str to Tensor
        Parameter values ``theta*`` the penalty pulls toward (the latest accepted weights).
    decay : float, default 0.5
        Online-EWC decay ``gamma`` in ``(0, 1]``: what is left of the old Fisher after one
        window's worth of new days (see :meth:`consolidate`). With a constant per-window
        Fisher ``F`` the sum stays below ``F / (1 - gamma)`` for non-overlapping windows and
        near ``F / -ln(gamma)`` for daily, overlapping ones.
    n_updates : int, default 1
        Number of Fisher terms accumulated so far.

    Raises
    ------
    ConfigError
        If ``decay`` is outside ``(0, 1]`` or ``n_updates < 1``.
    ValueError
        If ``fisher`` and ``anchor`` differ in keys or shapes, or a Fisher value is negative.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(2, 1)
    >>> state = EWCState.from_model(model, {"weight": torch.ones(1, 2), "bias": torch.ones(1)})
    >>> state.penalty(model, ewc_lambda=1.0).item()
    0.0
    >>> state = state.consolidate(state.fisher, state.anchor)
    >>> state.n_updates, state.fisher["bias"].item()
    (2, 1.5)
    """

    fisher: dict[str, Tensor]
    anchor: dict[str, Tensor]
    decay: float = 0.5
    n_updates: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < float(self.decay) <= 1.0:  # also rejects NaN
            raise ConfigError(f"decay must be in (0, 1], got {self.decay!r}")
        self.decay = float(self.decay)
        if isinstance(self.n_updates, bool) or int(self.n_updates) != self.n_updates:
            raise ConfigError(f"n_updates must be an integer, got {self.n_updates!r}")
        self.n_updates = int(self.n_updates)
        if self.n_updates < 1:
            raise ConfigError(f"n_updates must be >= 1, got {self.n_updates}")
        _check_same_layout(self.fisher, self.anchor, "fisher", "anchor")
        for name, f in self.fisher.items():
            if bool((f < 0).any()):
                raise ValueError(f"Fisher of parameter {name!r} has negative values")

    @classmethod
    def from_model(
        cls, model: nn.Module, fisher: Mapping[str, Tensor], *, decay: float = 0.5
    ) -> EWCState:
        """Start a state anchored at a copy of ``model``'s current parameters.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Linear(2, 1)
        >>> state = EWCState.from_model(model, {"bias": torch.ones(1)}, decay=0.5)
        >>> torch.equal(state.anchor["bias"], model.bias.detach()), state.decay
        (True, 0.5)
        """
        params = dict(model.named_parameters())
        missing = sorted(set(fisher) - set(params))
        if missing:
            raise ValueError(f"Fisher entries {missing} are not parameters of the model")
        anchor = _copy({name: params[name] for name in fisher})
        return cls(fisher=_copy(fisher), anchor=anchor, decay=decay)

    def penalty(self, model: nn.Module, ewc_lambda: float) -> Tensor:
        """``(ewc_lambda / 2) * sum_j F_j (theta_j - anchor_j)**2``, as :func:`ewc_loss`.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Linear(1, 1)
        >>> state = EWCState(fisher={"bias": torch.tensor([2.0])}, anchor={"bias": torch.zeros(1)})
        >>> with torch.no_grad():
        ...     _ = model.bias.fill_(3.0)
        >>> state.penalty(model, ewc_lambda=1.0).item()
        9.0
        """
        return quadratic_penalty(model, self.anchor, self.fisher, ewc_lambda)

    def consolidate(
        self,
        fisher: Mapping[str, Tensor],
        anchor: Mapping[str, Tensor],
        *,
        weight: float = 1.0,
    ) -> EWCState:
        """Fold a new window's Fisher in, anchored at ``anchor``; returns a new state.

        ``weight`` is the share of the new window's training days that the previous accepted
        update did not train on: the result is ``decay ** weight * self.fisher + weight *
        fisher``. Consecutive daily windows share almost all their days, so adding each one's
        full Fisher would count the same days again and again (with ``decay`` 0.9 the sum
        settles near ten windows' worth); weighted, a fixed schedule keeps the sum near
        ``1 / -ln(decay)`` windows' worth whatever its step, and ``weight = 1`` (windows that do
        not overlap) is plain online EWC. ``self`` is left unchanged.

        Examples
        --------
        >>> import torch
        >>> state = EWCState(fisher={"w": torch.ones(2)}, anchor={"w": torch.zeros(2)}, decay=0.5)
        >>> new = state.consolidate({"w": torch.ones(2)}, {"w": torch.full((2,), 3.0)})
        >>> new.fisher["w"].tolist(), new.anchor["w"].tolist(), new.n_updates
        ([1.5, 1.5], [3.0, 3.0], 2)
        >>> state.consolidate({"w": torch.ones(2)}, state.anchor, weight=0.25).fisher["w"].tolist()
        [1.0908..., 1.0908...]
        """
        try:
            share = float(weight)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"weight must be a number, got {weight!r}") from exc
        if not 0.0 <= share <= 1.0:  # also rejects NaN
            raise ConfigError(f"weight must be in [0, 1], got {weight!r}")
        _check_same_layout(self.fisher, fisher, "state Fisher", "new Fisher")
        _check_same_layout(self.fisher, anchor, "state Fisher", "new anchor")
        kept = self.decay**share
        merged = {}
        for name, old in self.fisher.items():
            new = fisher[name].detach().to("cpu", old.dtype)
            merged[name] = kept * old.detach().cpu() + share * new
        return EWCState(
            fisher=merged, anchor=_copy(anchor), decay=self.decay, n_updates=self.n_updates + 1
        )

    def is_finite(self) -> bool:
        """Whether every Fisher and anchor value is finite (no NaN or inf).

        Examples
        --------
        >>> import torch
        >>> EWCState(fisher={"w": torch.ones(2)}, anchor={"w": torch.zeros(2)}).is_finite()
        True
        >>> EWCState(fisher={"w": torch.ones(2)}, anchor={"w": torch.tensor([0.0, float("inf")])}
        ...          ).is_finite()
        False
        """
        return all(
            bool(torch.isfinite(t).all()) for t in (*self.fisher.values(), *self.anchor.values())
        )

    def stats(self) -> dict[str, float]:
        """Summary for logging: mean and max of the finite Fisher values, non-finite count, size.

        Examples
        --------
        >>> import torch
        >>> state = EWCState(fisher={"w": torch.tensor([1.0, 3.0, float("nan")])},
        ...                  anchor={"w": torch.zeros(3)})
        >>> state.stats()
        {'fisher_mean': 2.0, 'fisher_max': 3.0, 'fisher_nonfinite': 1, 'n_params': 3}
        """
        flat = torch.cat([f.detach().reshape(-1).cpu().double() for f in self.fisher.values()])
        finite = flat[torch.isfinite(flat)]
        return {
            "fisher_mean": finite.mean().item() if finite.numel() else 0.0,
            "fisher_max": finite.max().item() if finite.numel() else 0.0,
            "fisher_nonfinite": int(flat.numel() - finite.numel()),
            "n_params": int(flat.numel()),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain tensors, floats and ints, loadable with ``torch.load(weights_only=True)``.

        Examples
        --------
        >>> import torch
        >>> state = EWCState(fisher={"w": torch.ones(1)}, anchor={"w": torch.zeros(1)}, decay=0.5)
        >>> d = state.to_dict()
        >>> sorted(d), EWCState.from_dict(d).decay
        (['anchor', 'decay', 'fisher', 'n_updates'], 0.5)
        """
        return {
            "fisher": {name: t.detach().clone() for name, t in self.fisher.items()},
            "anchor": {name: t.detach().clone() for name, t in self.anchor.items()},
            "decay": self.decay,
            "n_updates": self.n_updates,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EWCState:
        """Inverse of :meth:`to_dict` (see its example); validates like the constructor."""
        missing = sorted({"fisher", "anchor", "decay", "n_updates"} - set(d))
        if missing:
            raise ValueError(f"EWC state dict lacks keys {missing}")
        return cls(
            fisher=dict(d["fisher"]),
            anchor=dict(d["anchor"]),
            decay=d["decay"],
            n_updates=d["n_updates"],
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state with ``torch.save``; read it back with :meth:`load`.

        Examples
        --------
        >>> import tempfile, torch
        >>> state = EWCState(fisher={"w": torch.ones(2)}, anchor={"w": torch.zeros(2)})
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     state.save(f"{tmp}/ewc.pt")
        ...     EWCState.load(f"{tmp}/ewc.pt").fisher["w"].tolist()
        [1.0, 1.0]
        """
        torch.save(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EWCState:
        """Read a state written by :meth:`save` (tensors land on CPU; no pickled code runs)."""
        return cls.from_dict(torch.load(path, map_location="cpu", weights_only=True))


class EWCPenalty:
    """Loss hook: ``loss = task_loss + EWCPenalty(state, ewc_lambda)(model)`` before backward.

    Parameters
    ----------
    state : EWCState
        Fisher and anchor to penalise against.
    ewc_lambda : float
        Penalty strength, finite and ``>= 0``.

    Raises
    ------
    ConfigError
        If ``ewc_lambda`` is negative or not finite.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(2, 1)
    >>> hook = EWCPenalty(EWCState.from_model(model, {"bias": torch.ones(1)}), ewc_lambda=4.0)
    >>> with torch.no_grad():
    ...     _ = model.bias.sub_(0.5)
    >>> hook(model).item()
    0.5
    """

    def __init__(self, state: EWCState, ewc_lambda: float) -> None:
        self.state = state
        self.ewc_lambda = check_lambda(ewc_lambda)

    def __call__(self, model: nn.Module) -> Tensor:
        return self.state.penalty(model, self.ewc_lambda)

    def __repr__(self) -> str:
        return (
            f"EWCPenalty(ewc_lambda={self.ewc_lambda}, decay={self.state.decay}, "
            f"n_updates={self.state.n_updates})"
        )
