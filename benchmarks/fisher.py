"""Per-sample Fisher: ``compute_fisher_information`` (torch.func vmap) vs one backward a sample.

Both run on the same trained specialist and the same rows; the vmap version goes through the
loader the update uses (batches of 256), the loop gets the tensors directly. The two results
must agree (checked with ``torch.testing.assert_close``) before a time is reported.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from online_learning.ewc import compute_fisher_information
from online_learning.features import FEATURE_COLUMNS
from online_learning.update.training import make_loader, to_tensors


def fisher_loop(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """The baseline: squared gradients of one sample at a time, averaged (float64 sums)."""
    model = copy.deepcopy(model)
    model.eval()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    sums = {n: torch.zeros(p.shape, dtype=torch.float64) for n, p in params.items()}
    for i in range(len(y)):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        for name, p in params.items():
            sums[name] += p.grad.detach().to(torch.float64).pow(2)
    return {name: (s / len(y)).to(torch.float32) for name, s in sums.items()}


def _max_abs_diff(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    return max(float((a[n] - b[n]).abs().max()) for n in a)


def measure(
    model: nn.Module,
    rows: pd.DataFrame,
    *,
    sizes: Sequence[int],
    repeats: int,
    advance: Callable[[], None] = lambda: None,
) -> list[dict[str, object]]:
    results = []
    for size in sizes:
        if len(rows) < size:
            raise ValueError(f"need {size} rows for the Fisher benchmark, have {len(rows)}")
        frame = rows.iloc[:size]
        x, y = to_tensors(frame, FEATURE_COLUMNS)
        loader = make_loader(frame, FEATURE_COLUMNS, batch_size=256, shuffle=False)
        vmapped = compute_fisher_information(model, loader)  # warm-up, and the reference
        looped = fisher_loop(model, x, y)
        torch.testing.assert_close(vmapped, looped, rtol=1e-4, atol=1e-8)
        diff = _max_abs_diff(vmapped, looped)
        largest = max(float(t.abs().max()) for t in looped.values())
        vmap_s, loop_s = [], []
        for _ in range(repeats):  # interleaved, so load changes hit both
            begin = time.perf_counter()
            compute_fisher_information(model, loader)
            vmap_s.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            fisher_loop(model, x, y)
            loop_s.append(time.perf_counter() - begin)
            advance()
        results.append(
            {
                "rows": size,
                "repeats": repeats,
                "vmap_median_s": statistics.median(vmap_s),
                "loop_median_s": statistics.median(loop_s),
                "ratio_loop_over_vmap": statistics.median(loop_s) / statistics.median(vmap_s),
                "max_abs_diff": diff,
                "max_abs_value": largest,
                "n_params": sum(t.numel() for t in looped.values()),
            }
        )
    return results
