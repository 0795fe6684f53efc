"""The per-sample Fisher of networks a team brings: MLPs, LSTMs and GRUs over sequences, on a
``direction`` (cross-entropy) or a ``return`` (squared error) target, through vmap or the
one-backward-per-sample fallback. Real torch models, no mocks."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from online_learning.errors import ConfigError
from online_learning.ewc import EWCPenalty, EWCState, compute_fisher_information

N_FEATURES, DAYS, N = 4, 20, 48
TARGETS = ("direction", "return")


def _loss_name(target: str) -> str:
    return "cross_entropy" if target == "direction" else "squared_error"


class Recurrent(nn.Module):
    """A recurrent layer over ``(batch, days, features)``, a head on the last day's state."""

    def __init__(self, cell: type[nn.RNNBase], n_outputs: int, **rnn_kwargs: object) -> None:
        super().__init__()
        self.rnn = cell(N_FEATURES, 8, batch_first=True, **rnn_kwargs)
        self.head = nn.Linear(8, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class SqueezedRegressor(nn.Module):
    """A return network answering ``(batch,)``, not ``(batch, 1)``; the contract allows both."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(N_FEATURES, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(-1)


def _mlp(n_outputs: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(N_FEATURES, 16),
        nn.LayerNorm(16),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(16, n_outputs),
    )


def _network(kind: str, target: str) -> nn.Module:
    torch.manual_seed(1)
    n_outputs = 2 if target == "direction" else 1
    if kind == "mlp":
        return _mlp(n_outputs)
    if kind == "lstm":
        return Recurrent(nn.LSTM, n_outputs)
    if kind == "gru":
        return Recurrent(nn.GRU, n_outputs)
    raise ValueError(kind)


def _data(kind: str, target: str, n: int = N, seed: int = 2) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shape = (n, N_FEATURES) if kind == "mlp" else (n, DAYS, N_FEATURES)
    x = torch.randn(shape, generator=gen)
    if target == "direction":
        return x, torch.randint(0, 2, (n,), generator=gen)
    return x, 0.1 * torch.randn(n, generator=gen)


def _loader(x: Tensor, y: Tensor, batch_size: int) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def _hand_fisher(model: nn.Module, x: Tensor, y: Tensor, target: str) -> dict[str, Tensor]:
    """Written apart from the library: eval mode, ``.backward()`` on one sample at a time."""
    model = copy.deepcopy(model).eval()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    sums = {n: torch.zeros_like(p, dtype=torch.float64) for n, p in params.items()}
    for xi, yi in zip(x, y, strict=True):
        model.zero_grad()
        out = model(xi[None])
        if target == "direction":
            loss = F.cross_entropy(out, yi[None])
        else:
            loss = (out.reshape(()) - yi) ** 2
        loss.backward()
        for name, p in params.items():
            sums[name] += p.grad.double() ** 2
    return {name: (s / len(x)).float() for name, s in sums.items()}


def _assert_close(a: dict[str, Tensor], b: dict[str, Tensor]) -> None:
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(
            a[name], b[name], rtol=1e-5, atol=1e-9, msg=lambda m, n=name: f"{n}: {m}"
        )


# --------------------------------------------------------------------------- vmap vs the loop


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_vmap_and_the_loop_agree_where_both_run(kind: str, target: str) -> None:
    model = _network(kind, target)
    x, y = _data(kind, target)
    loss = _loss_name(target)

    vmapped = compute_fisher_information(model, _loader(x, y, 16), loss=loss, method="vmap")
    looped = compute_fisher_information(model, _loader(x, y, 16), loss=loss, method="loop")

    _assert_close(vmapped, looped)
    _assert_close(looped, _hand_fisher(model, x, y, target))
    assert min(float(f.sum()) for f in looped.values()) > 0


def test_a_squeezed_return_output_gives_the_same_fisher_both_ways() -> None:
    torch.manual_seed(0)
    model = SqueezedRegressor()
    x, y = _data("mlp", "return")

    vmapped = compute_fisher_information(model, _loader(x, y, 16), loss="squared_error")
    looped = compute_fisher_information(
        model, _loader(x, y, 16), loss="squared_error", method="loop"
    )
    # The same weights answering (batch, 1).
    unsqueezed = compute_fisher_information(model.body, _loader(x, y, 16), loss="squared_error")

    _assert_close(vmapped, looped)
    _assert_close(vmapped, {f"body.{name}": f for name, f in unsqueezed.items()})


# --------------------------------------------------------------------------- recurrent fallback


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fallback_matches_a_hand_written_loop_on_recurrent_networks(cell: str, target: str) -> None:
    model = _network(cell, target)
    x, y = _data(cell, target)
    expected = _hand_fisher(model, x, y, target)

    looped = compute_fisher_information(
        model, _loader(x, y, 16), loss=_loss_name(target), method="loop"
    )
    auto = compute_fisher_information(model, _loader(x, y, 16), loss=_loss_name(target))

    _assert_close(looped, expected)
    _assert_close(auto, expected)
    assert set(looped) == {name for name, _ in model.named_parameters()}


def test_auto_falls_back_on_a_gru_says_so_and_leaves_the_model_as_it_was(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = _network("gru", "direction")
    before = {name: (p, p.detach().clone()) for name, p in model.named_parameters()}
    x, y = _data("gru", "direction")

    with pytest.raises(RuntimeError):  # measured: no vmap for a GRU's default initial state
        compute_fisher_information(model, _loader(x, y, 16), method="vmap")
    with caplog.at_level(logging.INFO, logger="online_learning.ewc.fisher"):
        compute_fisher_information(model, _loader(x, y, 16))

    fallbacks = [r for r in caplog.records if "vmap failed" in r.getMessage()]
    assert len(fallbacks) == 1  # decided once, not per batch
    assert "Recurrent" in fallbacks[0].getMessage()
    for name, p in model.named_parameters():
        assert p is before[name][0] and torch.equal(p, before[name][1])


@pytest.mark.parametrize("kind", ["mlp", "gru"])
def test_fisher_does_not_depend_on_the_batch_size(kind: str) -> None:
    model = _network(kind, "return")
    x, y = _data(kind, "return")

    results = [
        compute_fisher_information(model, _loader(x, y, size), loss="squared_error")
        for size in (1, 7, N)
    ]

    for other in results[1:]:
        _assert_close(results[0], other)


def test_fallback_runs_in_eval_mode_skips_frozen_parameters_and_leaves_grads() -> None:
    torch.manual_seed(0)
    model = Recurrent(nn.GRU, 2, num_layers=2, dropout=0.5)  # dropout between the GRU layers
    model.rnn.weight_ih_l0.requires_grad_(False)
    model.train()
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    x, y = _data("gru", "direction", n=12)
    expected = _hand_fisher(model, x, y, "direction")

    first = compute_fisher_information(model, _loader(x, y, 5), method="loop")
    second = compute_fisher_information(model, _loader(x, y, 5))

    assert "rnn.weight_ih_l0" not in first
    _assert_close(first, expected)  # dropout was off: the deterministic eval-mode answer
    _assert_close(second, expected)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters())


def test_fallback_truncates_at_max_samples_and_computes_inside_no_grad() -> None:
    model = _network("gru", "return")
    x, y = _data("gru", "return")
    expected = _hand_fisher(model, x[:10], y[:10], "return")

    with torch.no_grad():
        fisher = compute_fisher_information(
            model, _loader(x, y, 4), loss="squared_error", max_samples=10
        )

    _assert_close(fisher, expected)


def test_a_callable_loss_is_used_as_given_on_both_paths() -> None:
    model = _network("gru", "return")
    x, y = _data("gru", "return")

    def half_squared_error(output: Tensor, target: Tensor) -> Tensor:
        return 0.5 * (output.reshape(()) - target.reshape(())) ** 2

    squared = compute_fisher_information(model, _loader(x, y, 16), loss="squared_error")
    for method in ("auto", "loop"):
        half = compute_fisher_information(
            model, _loader(x, y, 16), loss=half_squared_error, method=method
        )
        # Half the loss, half the gradient, a quarter of its square.
        _assert_close({n: 4 * f for n, f in half.items()}, squared)


# --------------------------------------------------------------------------- refusals


def test_targets_and_outputs_that_do_not_fit_the_loss_are_refused() -> None:
    x, y_class = _data("mlp", "direction")
    _, y_return = _data("mlp", "return")
    classifier, regressor = _network("mlp", "direction"), _network("mlp", "return")

    with pytest.raises(ValueError, match="floating point"):
        compute_fisher_information(regressor, [(x, y_class)], loss="squared_error")
    for method in ("auto", "loop"):
        with pytest.raises(ValueError, match=r"one output .* output shape \(1, 2\)"):
            compute_fisher_information(
                classifier, [(x, y_return)], loss="squared_error", method=method
            )
    with pytest.raises(ValueError, match="integer class ids"):
        compute_fisher_information(classifier, [(x, y_return)])
    with pytest.raises(ValueError, match="12 inputs but 48 targets"):
        compute_fisher_information(classifier, [(x[:12], y_class)])
    with pytest.raises(ConfigError, match="loss"):
        compute_fisher_information(classifier, [(x, y_class)], loss="mse")
    with pytest.raises(ConfigError, match="loss"):
        compute_fisher_information(classifier, [(x, y_class)], loss=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="method"):
        compute_fisher_information(classifier, [(x, y_class)], method="jit")  # type: ignore[arg-type]


def test_a_broken_network_raises_its_own_error_rather_than_a_silent_fallback() -> None:
    model = _network("mlp", "direction")
    x, y = torch.randn(8, N_FEATURES + 1), torch.randint(0, 2, (8,))  # one feature too many

    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        compute_fisher_information(model, _loader(x, y, 16))


# --------------------------------------------------------------------------- EWC on a GRU


def test_consolidate_and_penalty_round_trip_on_a_gru(tmp_path) -> None:
    model = _network("gru", "direction")
    x, y = _data("gru", "direction")
    fisher = compute_fisher_information(model, _loader(x, y, 16))
    state = EWCState.from_model(model, fisher, decay=0.5)
    hook = EWCPenalty(state, ewc_lambda=10.0)
    assert hook(model).item() == 0.0

    # One training step with the hook added to the task loss, as the update's loop does.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    loss = F.cross_entropy(model(x), 1 - y) + hook(model)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()

    anchor = state.anchor
    expected = 5.0 * sum(
        (fisher[n] * (p.detach() - anchor[n]) ** 2).sum() for n, p in model.named_parameters()
    )
    penalty = hook(model)
    torch.testing.assert_close(penalty, expected)
    assert penalty.item() > 0
    penalty.backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, 10.0 * fisher[name] * (p.detach() - anchor[name]))

    new_fisher = compute_fisher_information(model, _loader(x, y, 16))
    current = {n: p.detach() for n, p in model.named_parameters()}
    merged = state.consolidate(new_fisher, current)
    path = tmp_path / "ewc_state.pt"
    merged.save(path)
    loaded = EWCState.load(path)

    assert loaded.n_updates == 2
    assert EWCPenalty(loaded, ewc_lambda=10.0)(model).item() == 0.0
    for name in fisher:
        torch.testing.assert_close(loaded.fisher[name], 0.5 * fisher[name] + new_fisher[name])


def test_ewc_on_a_gru_forgets_task_a_less_than_plain_fine_tuning() -> None:
    # Task A: is the first feature's sum over the days positive? Task B: the second feature's.
    gen = torch.Generator().manual_seed(0)
    x_a = torch.randn(256, DAYS, N_FEATURES, generator=gen)
    x_b = torch.randn(256, DAYS, N_FEATURES, generator=gen)
    y_a, y_b = (x_a[:, :, 0].sum(1) > 0).long(), (x_b[:, :, 1].sum(1) > 0).long()
    model = _network("gru", "direction")

    def fit(net: nn.Module, x: Tensor, y: Tensor, hook: EWCPenalty | None = None) -> None:
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-2)
        net.train()
        for _ in range(80):
            optimizer.zero_grad()
            loss = F.cross_entropy(net(x), y)
            if hook is not None:
                loss = loss + hook(net)
            loss.backward()
            optimizer.step()

    def loss_on(net: nn.Module, x: Tensor, y: Tensor) -> float:
        with torch.no_grad():
            return F.cross_entropy(net.eval()(x), y).item()

    fit(model, x_a, y_a)
    a_before, b_before = loss_on(model, x_a, y_a), loss_on(model, x_b, y_b)
    state = EWCState.from_model(model, compute_fisher_information(model, _loader(x_a, y_a, 64)))
    plain, with_ewc = copy.deepcopy(model), copy.deepcopy(model)
    fit(plain, x_b, y_b)
    fit(with_ewc, x_b, y_b, hook=EWCPenalty(state, ewc_lambda=500.0))

    a_plain, a_ewc = loss_on(plain, x_a, y_a), loss_on(with_ewc, x_a, y_a)
    # Seeds 0-3 gave: A learned to 0.004-0.013, forgotten to 1.8-2.2 by plain fine-tuning,
    # 0.34-0.54 with EWC, which took B from 3.0-3.2 to 0.43-0.75.
    assert a_before < 0.1
    assert a_plain > a_before + 1.0
    assert a_ewc < 0.5 * a_plain
    assert loss_on(with_ewc, x_b, y_b) < 0.5 * b_before  # still learned B: not a frozen model
