"""Per-sample Fisher: ``compute_fisher_information`` (torch.func vmap) vs one backward a sample.

:func:`measure`: both run on the same trained specialist and the same rows; the vmap version
goes through the loader the update uses (batches of 256), the loop gets the tensors directly.

:func:`measure_architectures`, the cost of a network a team brings: on an MLP over rows, the
library's vmap path against its own fallback (``method="loop"``); on a small GRU over 20-day
sequences, the fallback that ``method="auto"`` takes (vmap cannot batch a GRU's default initial
state) against vmap on the same weights given an explicit zero initial state, which is the same
function. Untrained, seeded networks on seeded random data: the cost does not depend on the
weights. ``python -m benchmarks.fisher [--quick]`` runs this part alone.

In both, the results compared must agree (``torch.testing.assert_close``) before a time is
reported, and the two sides of a ratio are timed interleaved in the same run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

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
        features, labels = frame.loc[:, list(FEATURE_COLUMNS)].to_numpy(), frame["target"]
        x, y = to_tensors(features, labels.to_numpy())
        loader = make_loader(features, labels.to_numpy(), batch_size=256, shuffle=False)
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


N_FEATURES, DAYS, BATCH = 10, 20, 256


class SequenceGRU(nn.Module):
    """One GRU layer (32 units) over ``(batch, days, features)``, two logits from the last day.

    With ``explicit_h0`` it passes the zero initial state itself, batched, which vmap accepts;
    without, ``nn.GRU`` makes its own and vmap fails. Same weights, same function.
    """

    def __init__(self, hidden: int = 32, *, explicit_h0: bool = False) -> None:
        super().__init__()
        self.gru = nn.GRU(N_FEATURES, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)
        self.explicit_h0 = explicit_h0

    def forward(self, x: Tensor) -> Tensor:
        if self.explicit_h0:
            h0 = x.new_zeros(1, x.shape[0], self.gru.hidden_size)
            out, _ = self.gru(x, h0)
        else:
            out, _ = self.gru(x)
        return self.head(out[:, -1])


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(N_FEATURES, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2)
    )


def _loader(size: int, sequences: bool, seed: int = 0) -> DataLoader:
    gen = torch.Generator().manual_seed(seed)
    shape = (size, DAYS, N_FEATURES) if sequences else (size, N_FEATURES)
    x, y = torch.randn(shape, generator=gen), torch.randint(0, 2, (size,), generator=gen)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=False)


def _timed(run: Callable[[DataLoader], object], loader: DataLoader) -> float:
    begin = time.perf_counter()
    run(loader)
    return time.perf_counter() - begin


def measure_architectures(
    *,
    sizes: Sequence[int],
    repeats: int,
    advance: Callable[[], None] = lambda: None,
) -> list[dict[str, object]]:
    """Median seconds of vmap (baseline) and the fallback, per network and number of samples."""
    torch.manual_seed(0)
    mlp = _mlp()
    gru = SequenceGRU()
    gru_h0 = SequenceGRU(explicit_h0=True)
    gru_h0.load_state_dict(gru.state_dict())
    cases = {
        # network: (loader of sequences?, baseline run, fallback run)
        "mlp": (
            False,
            lambda loader: compute_fisher_information(mlp, loader, method="vmap"),
            lambda loader: compute_fisher_information(mlp, loader, method="loop"),
        ),
        "gru": (
            True,
            lambda loader: compute_fisher_information(gru_h0, loader, method="vmap"),
            lambda loader: compute_fisher_information(gru, loader, method="auto"),
        ),
    }
    results = []
    for network, (sequences, baseline, fallback) in cases.items():
        n_params = sum(p.numel() for p in (mlp if network == "mlp" else gru).parameters())
        for size in sizes:
            loader = _loader(size, sequences)
            reference, fell_back = baseline(loader), fallback(loader)  # warm-up, and the check
            torch.testing.assert_close(reference, fell_back, rtol=1e-4, atol=1e-8)
            vmap_s, loop_s = [], []
            for _ in range(repeats):  # interleaved, so load changes hit both
                vmap_s.append(_timed(baseline, loader))
                loop_s.append(_timed(fallback, loader))
                advance()
            results.append(
                {
                    "network": network,
                    "input": f"sequences of {DAYS} days" if sequences else "rows",
                    "samples": size,
                    "repeats": repeats,
                    "n_params": n_params,
                    "vmap_median_s": statistics.median(vmap_s),
                    "fallback_median_s": statistics.median(loop_s),
                    "fallback_ms_per_sample": 1000 * statistics.median(loop_s) / size,
                    "ratio_fallback_over_vmap": statistics.median(loop_s)
                    / statistics.median(vmap_s),
                    "ratio_runs": [round(b / a, 2) for a, b in zip(vmap_s, loop_s, strict=True)],
                    "max_abs_diff": _max_abs_diff(reference, fell_back),
                    "max_abs_value": max(float(t.abs().max()) for t in reference.values()),
                }
            )
    return results


def print_architectures(results: list[dict[str, object]]) -> None:
    """One line per network and size, for ``benchmarks.run`` and ``main``."""
    print("\nPer-sample Fisher of other networks: vmap (baseline) vs the one-backward fallback")
    print("network  input                  samples  vmap      fallback  fallback/vmap  per sample")
    for r in results:
        print(
            f"{r['network']:7s}  {r['input']:21s}  {r['samples']:7d}  "
            f"{r['vmap_median_s']:7.3f}s  {r['fallback_median_s']:7.3f}s  "
            f"{r['ratio_fallback_over_vmap']:12.1f}x  {r['fallback_ms_per_sample']:.2f} ms"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Per-sample Fisher of an MLP and a GRU.")
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 9")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--threads", type=int, default=1, help="as benchmarks.run: default 1")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    results = measure_architectures(sizes=args.sizes, repeats=3 if args.quick else 9)
    print(json.dumps(results, indent=2))
    print_architectures(results)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs, "
        f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
