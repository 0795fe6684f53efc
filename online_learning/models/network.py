"""A team's network under the contract, and how any network's output becomes a position.

A network entry point is called as ``callable(n_features, **network_params)`` and returns a
``torch.nn.Module``. It is given rows ``(batch, n_features)``, or with ``sequence_length``
sequences ``(batch, sequence_length, n_features)``, already scaled (each feature by the mean
and standard deviation of the rows the model was first trained on). It returns:

* for ``target = "direction"``: two logits ``(batch, 2)`` (down, up), trained with
  cross-entropy; ``p_up`` is the softmax of the second;
* for ``target = "return"``: one output ``(batch, 1)`` or ``(batch,)``, the predicted log
  return over ``horizon_days``, trained with squared error; ``p_up = Phi(output / s)`` with
  ``s`` the standard deviation of the training targets.

Either way the position is ``2 * p_up - 1``, priced by the one rule of
:mod:`online_learning.execution` (executable timing, costs). :class:`ContractNetwork` carries
the network with its feature names, scaling, sequence length and target, so a registered
version is used the same way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from online_learning.entry_points import describe_error, import_entry_point
from online_learning.errors import ConfigError
from online_learning.models.definition import BUILTIN, ModelDefinition
from online_learning.models.specialist import PredictsUp, RegimeSpecialist

__all__ = ["ContractNetwork", "build_network", "loss_name"]


class ContractNetwork(PredictsUp, nn.Module):
    """A team's network with its feature names, input scaling, sequence length and target.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = ContractNetwork(nn.Linear(3, 1), feature_names=("a", "b", "c"), target="return")
    >>> model.predict_proba(np.zeros((2, 3), dtype=np.float32)).shape
    (2,)
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        feature_names: Sequence[str],
        target: str = "direction",
        sequence_length: int | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.feature_names = tuple(feature_names)
        self.target = target
        self.sequence_length = sequence_length
        n = len(self.feature_names)
        self.register_buffer("feature_mean", torch.zeros(n))
        self.register_buffer("feature_std", torch.ones(n))
        self.register_buffer("target_scale", torch.ones(()))

    def set_normalization(self, features: np.ndarray) -> None:
        """Fit the input scaling on training inputs (rows or sequences)."""
        values = torch.tensor(np.asarray(features, dtype=np.float32))
        flat = values.reshape(-1, values.shape[-1])
        if flat.shape[-1] != len(self.feature_names) or flat.shape[0] < 2:
            raise ValueError(
                f"expected inputs of {len(self.feature_names)} features on two rows or more, "
                f"got {tuple(values.shape)}"
            )
        self.feature_mean.copy_(flat.mean(dim=0))
        self.feature_std.copy_(flat.std(dim=0).clamp_min(1e-6))

    def set_target_scale(self, targets: np.ndarray) -> None:
        """For a ``return`` target: the spread of the training targets, which turns an
        output into ``p_up``."""
        values = np.asarray(targets, dtype=np.float64)
        scale = float(values.std(ddof=1)) if values.size > 1 else 1.0
        self.target_scale.fill_(max(scale, 1e-6) if math.isfinite(scale) else 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.feature_mean) / self.feature_std)

    def p_up(self, output: Tensor) -> Tensor:
        """The probability of an up move that an output stands for."""
        if self.target == "direction":
            return torch.softmax(output, dim=-1)[:, 1]
        z = output.reshape(-1) / self.target_scale
        return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def loss_name(target: str) -> str:
    """The training loss of a target (as :func:`online_learning.ewc.compute_fisher_information`
    names it)."""
    return "squared_error" if target == "return" else "cross_entropy"


def build_network(definition: ModelDefinition, *, where: str = "") -> nn.Module:
    """A fresh network of ``definition``, its output checked against its target.

    Raises
    ------
    ConfigError
        The entry point does not import, does not return a ``torch.nn.Module``, fails on an
        input of the contract's shape, or returns the wrong shape for its target; the message
        names ``where`` (the file, model and key) and what was wrong.
    """
    where = where or f"model {definition.model_id!r} network {definition.entry!r}"
    names = definition.feature_names
    if definition.entry == BUILTIN:
        return RegimeSpecialist(names, regime=definition.regime, **definition.params)
    try:
        factory = import_entry_point(definition.entry)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        net = factory(len(names), **definition.params)
    except Exception as exc:
        raise ConfigError(
            f"{where}: {definition.entry}({len(names)}, **{definition.params}) raised "
            f"{describe_error(exc)}"
        ) from exc
    if not isinstance(net, nn.Module):
        raise ConfigError(f"{where}: returned a {type(net).__name__}, not a torch.nn.Module")
    model = ContractNetwork(
        net,
        feature_names=names,
        target=definition.target,
        sequence_length=definition.sequence_length,
    )
    _check_output(model, definition, where)
    return model


def _check_output(model: ContractNetwork, definition: ModelDefinition, where: str) -> None:
    shape = (3, *((definition.sequence_length,) if definition.sequence_length else ()),
             len(definition.feature_names))  # fmt: skip
    try:
        with torch.no_grad():
            output = model.eval()(torch.zeros(shape))
    except Exception as exc:
        raise ConfigError(
            f"{where}: the network fails on an input of shape {shape} "
            f"({'sequences' if definition.sequence_length else 'rows'} of "
            f"{len(definition.feature_names)} features): {describe_error(exc)}"
        ) from exc
    finally:
        model.train()
    expected = {"direction": [(3, 2)], "return": [(3, 1), (3,)]}[definition.target]
    if not isinstance(output, Tensor) or tuple(output.shape) not in expected:
        got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise ConfigError(
            f"{where}: for target {definition.target!r} the network must return "
            f"{' or '.join(map(str, expected))} on an input of shape {shape}, got {got}"
        )
