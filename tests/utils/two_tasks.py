"""Two seeded binary-classification regimes that disagree, for forgetting tests.

Both regimes draw ``x ~ N(0, I)``; regime A labels ``1[x . w_A > 0]`` and regime B labels
``1[x . w_B > 0]`` with ``w_B`` equal to ``w_A`` rotated by ``angle_deg`` in the plane of the first
two coordinates. At 90 degrees the two labellings are independent, so fitting B overwrites A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TwoTasks:
    """Inputs, integer labels and rule vectors of regimes A and B."""

    x_a: Tensor
    y_a: Tensor
    x_b: Tensor
    y_b: Tensor
    w_a: Tensor
    w_b: Tensor


def make_two_tasks(
    *, n: int = 512, dim: int = 2, angle_deg: float = 90.0, seed: int = 0
) -> TwoTasks:
    """Build both regimes from one ``torch.Generator`` seeded with ``seed``."""
    if dim < 2:
        raise ValueError(f"dim must be >= 2 to rotate the rule, got {dim}")
    gen = torch.Generator().manual_seed(seed)
    w_a = torch.zeros(dim)
    w_a[0] = 1.0
    angle = math.radians(angle_deg)
    w_b = torch.zeros(dim)
    w_b[0], w_b[1] = math.cos(angle), math.sin(angle)
    x_a = torch.randn(n, dim, generator=gen)
    x_b = torch.randn(n, dim, generator=gen)
    return TwoTasks(
        x_a=x_a,
        y_a=(x_a @ w_a > 0).long(),
        x_b=x_b,
        y_b=(x_b @ w_b > 0).long(),
        w_a=w_a,
        w_b=w_b,
    )
