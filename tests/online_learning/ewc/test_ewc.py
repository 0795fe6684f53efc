"""Tests of online_learning.ewc with real torch models (no mocks)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from online_learning.errors import ConfigError
from online_learning.ewc import EWCPenalty, EWCState, compute_fisher_information, ewc_loss
from tests.utils.two_tasks import make_two_tasks

# Five fixed samples, three features, two classes.
X = torch.tensor(
    [
        [0.5, -1.0, 2.0],
        [1.5, 0.3, -0.7],
        [-2.0, 1.0, 0.1],
        [0.0, -0.4, 1.2],
        [1.1, 2.2, -1.3],
    ]
)
Y = torch.tensor([0, 1, 1, 0, 1])


def _linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def _hand_fisher(weight: Tensor, bias: Tensor, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Closed form of the per-sample cross-entropy gradient of a linear layer, squared and averaged.

    For logits ``z = W x + b``: ``dL/dz = softmax(z) - onehot(y)``, ``dL/dW = outer(dL/dz, x)``.
    """
    gw, gb = [], []
    for xi, yi in zip(x, y, strict=True):
        dz = torch.softmax(weight @ xi + bias, dim=0) - F.one_hot(yi, 2).float()
        gw.append(torch.outer(dz, xi) ** 2)
        gb.append(dz**2)
    return {"weight": torch.stack(gw).mean(0), "bias": torch.stack(gb).mean(0)}


def _loader(x: Tensor, y: Tensor, batch_size: int) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def _assert_dicts_close(a: dict[str, Tensor], b: dict[str, Tensor], **tol: float) -> None:
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], **tol)


# --------------------------------------------------------------------------- Fisher


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_fisher_matches_hand_computation_for_any_batch_size(batch_size: int) -> None:
    model = _linear()
    expected = _hand_fisher(model.weight.detach(), model.bias.detach(), X, Y)

    fisher = compute_fisher_information(model, _loader(X, Y, batch_size))

    _assert_dicts_close(fisher, expected, rtol=1e-5, atol=1e-7)
    for name, param in model.named_parameters():
        assert fisher[name].shape == param.shape
        assert fisher[name].dtype == torch.float32
        assert fisher[name].device.type == "cpu"
        assert not fisher[name].requires_grad


def test_squared_batch_mean_gradient_would_underestimate_the_fisher() -> None:
    model = _linear()
    fisher = compute_fisher_information(model, _loader(X, Y, batch_size=5))

    F.cross_entropy(model(X), Y).backward()
    squared_batch = {name: p.grad.detach() ** 2 for name, p in model.named_parameters()}

    for name in fisher:
        # (mean_i g_i)^2 <= mean_i g_i^2 elementwise, and here far from equal.
        assert torch.all(squared_batch[name] <= fisher[name] + 1e-7)
    total_fisher = sum(f.sum() for f in fisher.values())
    total_batch = sum(s.sum() for s in squared_batch.values())
    assert total_batch < 0.5 * total_fisher


def test_fisher_matches_autograd_one_sample_at_a_time_for_an_mlp() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    expected = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    for xi, yi in zip(X, Y, strict=True):
        model.zero_grad()
        F.cross_entropy(model(xi[None]), yi[None]).backward()
        for name, p in model.named_parameters():
            expected[name] += p.grad.detach() ** 2 / len(X)
    model.zero_grad(set_to_none=True)

    fisher = compute_fisher_information(model, _loader(X, Y, batch_size=3))

    _assert_dicts_close(fisher, expected, rtol=1e-5, atol=1e-7)


def test_fisher_max_samples_truncates_inside_a_batch() -> None:
    model = _linear()
    expected = _hand_fisher(model.weight.detach(), model.bias.detach(), X[:3], Y[:3])

    fisher = compute_fisher_information(model, _loader(X, Y, batch_size=2), max_samples=3)

    _assert_dicts_close(fisher, expected, rtol=1e-5, atol=1e-7)


class _Standardized(nn.Module):
    """Linear classifier on standardised inputs; mean and std are buffers, not parameters."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear((x - self.mean) / self.std)


def test_fisher_uses_registered_buffers() -> None:
    torch.manual_seed(0)
    mean, std = torch.tensor([1.0, -0.5, 0.2]), torch.tensor([2.0, 0.5, 1.5])
    model = _Standardized(mean, std)
    w, b = model.linear.weight.detach(), model.linear.bias.detach()
    with_buffers = _hand_fisher(w, b, (X - mean) / std, Y)
    without_buffers = _hand_fisher(w, b, X, Y)

    fisher = compute_fisher_information(model, _loader(X, Y, batch_size=2))

    assert set(fisher) == {"linear.weight", "linear.bias"}
    torch.testing.assert_close(fisher["linear.weight"], with_buffers["weight"])
    torch.testing.assert_close(fisher["linear.bias"], with_buffers["bias"])
    assert not torch.allclose(fisher["linear.weight"], without_buffers["weight"], rtol=0.05)


def test_fisher_skips_frozen_parameters() -> None:
    model = _linear()
    model.bias.requires_grad_(False)
    expected = _hand_fisher(model.weight.detach(), model.bias.detach(), X, Y)

    fisher = compute_fisher_information(model, _loader(X, Y, batch_size=2))

    assert set(fisher) == {"weight"}
    torch.testing.assert_close(fisher["weight"], expected["weight"])


@pytest.mark.parametrize("training", [True, False])
def test_fisher_runs_in_eval_mode_and_restores_mode_without_leaving_grads(training: bool) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Dropout(p=0.9), nn.Linear(3, 2))
    model.train(training)
    linear = model[1]
    expected = _hand_fisher(linear.weight.detach(), linear.bias.detach(), X, Y)

    fisher = compute_fisher_information(model, _loader(X, Y, batch_size=5))

    # Dropout was off: the result is the deterministic hand computation.
    torch.testing.assert_close(fisher["1.weight"], expected["weight"])
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_fisher_rejects_empty_loader_float_labels_and_bad_max_samples() -> None:
    model = _linear()
    with pytest.raises(ValueError, match="no samples"):
        compute_fisher_information(model, [])
    with pytest.raises(ValueError, match="integer class ids"):
        compute_fisher_information(model, [(X, Y.float())])
    with pytest.raises(ConfigError, match="max_samples"):
        compute_fisher_information(model, [(X, Y)], max_samples=0)


# --------------------------------------------------------------------------- penalty


def _perturbed_pair() -> tuple[nn.Linear, nn.Linear, dict[str, Tensor]]:
    old = _linear()
    new = copy.deepcopy(old)
    with torch.no_grad():
        new.weight.add_(torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.5, -0.4]]))
        new.bias.sub_(torch.tensor([0.25, -0.75]))
    fisher = compute_fisher_information(old, _loader(X, Y, batch_size=5))
    return old, new, fisher


def test_ewc_loss_is_zero_at_the_anchor() -> None:
    old, _, fisher = _perturbed_pair()
    same = copy.deepcopy(old)

    assert ewc_loss(same, old, fisher, ewc_lambda=100.0).item() == 0.0


def test_ewc_loss_value_and_gradient_match_the_formula() -> None:
    old, new, fisher = _perturbed_pair()
    lam = 7.0

    loss = ewc_loss(new, old, fisher, ewc_lambda=lam)
    loss.backward()

    expected = sum(
        (fisher[n] * (p.detach() - dict(old.named_parameters())[n].detach()) ** 2).sum()
        for n, p in new.named_parameters()
    )
    assert loss.shape == ()
    torch.testing.assert_close(loss, lam / 2 * expected)
    for name, p in new.named_parameters():
        theta_star = dict(old.named_parameters())[name].detach()
        torch.testing.assert_close(p.grad, lam * fisher[name] * (p.detach() - theta_star))
    assert all(p.grad is None for p in old.parameters())


def test_state_penalty_and_hook_agree_with_ewc_loss() -> None:
    old, new, fisher = _perturbed_pair()
    state = EWCState.from_model(old, fisher)

    reference = ewc_loss(new, old, fisher, ewc_lambda=3.0)

    torch.testing.assert_close(state.penalty(new, ewc_lambda=3.0), reference)
    torch.testing.assert_close(EWCPenalty(state, ewc_lambda=3.0)(new), reference)
    assert ewc_loss(new, old, fisher, ewc_lambda=0.0).item() == 0.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "strong"])
def test_bad_lambda_is_a_config_error(bad: object) -> None:
    old, new, fisher = _perturbed_pair()
    state = EWCState.from_model(old, fisher)
    with pytest.raises(ConfigError, match="ewc_lambda"):
        ewc_loss(new, old, fisher, ewc_lambda=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ewc_lambda"):
        state.penalty(new, ewc_lambda=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ewc_lambda"):
        EWCPenalty(state, ewc_lambda=bad)  # type: ignore[arg-type]


def test_ewc_loss_names_missing_or_misshapen_parameters() -> None:
    old, new, fisher = _perturbed_pair()
    with pytest.raises(ValueError, match=r"'missing\.weight'"):
        ewc_loss(new, old, {**fisher, "missing.weight": torch.ones(2)}, ewc_lambda=1.0)
    with pytest.raises(ValueError, match="'bias'"):
        ewc_loss(new, old, {**fisher, "bias": torch.ones(3)}, ewc_lambda=1.0)
    with pytest.raises(ValueError, match=r"anchor shape .* 'weight'"):
        ewc_loss(new, nn.Linear(3, 3), fisher, ewc_lambda=1.0)


# --------------------------------------------------------------------------- online EWC


def _state(decay: float = 0.9) -> EWCState:
    return EWCState(
        fisher={"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.5])},
        anchor={"w": torch.zeros(2), "b": torch.zeros(1)},
        decay=decay,
    )


def test_consolidate_decays_old_fisher_adds_new_and_moves_anchor() -> None:
    state = _state(decay=0.5)
    new_fisher = {"w": torch.tensor([4.0, 0.0]), "b": torch.tensor([1.0])}
    new_anchor = {"w": torch.tensor([1.0, -1.0]), "b": torch.tensor([2.0])}

    new = state.consolidate(new_fisher, new_anchor)

    torch.testing.assert_close(new.fisher["w"], torch.tensor([4.5, 1.0]))
    torch.testing.assert_close(new.fisher["b"], torch.tensor([1.25]))
    torch.testing.assert_close(new.anchor["w"], new_anchor["w"])
    assert new.n_updates == 2 and new.decay == 0.5
    # The old state is untouched, and the new one does not alias the caller's anchor.
    torch.testing.assert_close(state.fisher["w"], torch.tensor([1.0, 2.0]))
    assert state.n_updates == 1
    new_anchor["w"].add_(100.0)
    torch.testing.assert_close(new.anchor["w"], torch.tensor([1.0, -1.0]))


def test_many_consolidations_keep_one_bounded_penalty() -> None:
    gamma = 0.9
    state = _state(decay=gamma)
    per_window = {name: f.clone() for name, f in state.fisher.items()}
    anchor = state.anchor

    for _ in range(250):  # a year of daily updates
        state = state.consolidate(per_window, anchor)

    assert state.n_updates == 251
    assert set(state.fisher) == {"w", "b"}
    for name, f in per_window.items():
        limit = f / (1 - gamma)
        torch.testing.assert_close(state.fisher[name], limit, rtol=1e-5, atol=0.0)
        assert torch.all(state.fisher[name] <= limit * (1 + 1e-6))


def test_decay_one_is_plain_ewc_sum() -> None:
    state = _state(decay=1.0)
    for _ in range(3):
        state = state.consolidate(state.fisher, state.anchor)
    torch.testing.assert_close(state.fisher["w"], torch.tensor([8.0, 16.0]))


@pytest.mark.parametrize("decay", [0.0, -0.1, 1.5, math.nan])
def test_decay_outside_unit_interval_is_rejected(decay: float) -> None:
    with pytest.raises(ConfigError, match="decay"):
        _state(decay=decay)
    with pytest.raises(ConfigError, match="decay"):
        EWCState.from_model(nn.Linear(1, 1), {"bias": torch.ones(1)}, decay=decay)


def test_mismatched_keys_or_shapes_are_rejected() -> None:
    state = _state()
    with pytest.raises(ValueError, match="missing"):
        state.consolidate({"w": torch.ones(2)}, state.anchor)
    with pytest.raises(ValueError, match="'b'"):
        state.consolidate({"w": torch.ones(2), "b": torch.ones(2)}, state.anchor)
    with pytest.raises(ValueError, match="anchor"):
        state.consolidate(state.fisher, {"w": torch.zeros(2), "x": torch.zeros(1)})
    with pytest.raises(ValueError, match="anchor"):
        EWCState(fisher={"w": torch.ones(2)}, anchor={"v": torch.ones(2)})
    with pytest.raises(ValueError, match="'nope'"):
        EWCState.from_model(nn.Linear(1, 1), {"nope": torch.ones(1)})


def test_save_load_round_trip_is_exact(tmp_path) -> None:
    torch.manual_seed(0)
    state = EWCState(
        fisher={"a.weight": torch.rand(3, 4), "a.bias": torch.rand(4)},
        anchor={"a.weight": torch.randn(3, 4), "a.bias": torch.randn(4)},
        decay=0.37,
        n_updates=12,
    )
    path = tmp_path / "ewc_state.pt"

    state.save(path)
    loaded = EWCState.load(path)

    assert loaded.decay == state.decay and loaded.n_updates == state.n_updates
    for field in ("fisher", "anchor"):
        original, restored = getattr(state, field), getattr(loaded, field)
        assert set(original) == set(restored)
        for name in original:
            assert torch.equal(original[name], restored[name])
            assert restored[name].dtype == original[name].dtype


def test_stats_and_is_finite_detect_nonfinite_values() -> None:
    clean = _state()
    assert clean.is_finite()
    assert clean.stats() == {
        "fisher_mean": pytest.approx(3.5 / 3),
        "fisher_max": 2.0,
        "fisher_nonfinite": 0,
        "n_params": 3,
    }

    bad_fisher = EWCState(
        fisher={"w": torch.tensor([1.0, math.nan]), "b": torch.tensor([math.inf])},
        anchor=clean.anchor,
    )
    bad_anchor = EWCState(
        fisher=clean.fisher, anchor={"w": torch.zeros(2), "b": torch.tensor([math.nan])}
    )

    assert not bad_fisher.is_finite()
    assert not bad_anchor.is_finite()
    stats = bad_fisher.stats()
    assert stats["fisher_nonfinite"] == 2
    assert stats["n_params"] == 3
    assert stats["fisher_mean"] == 1.0 and stats["fisher_max"] == 1.0


# --------------------------------------------------------------------------- behaviour


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2)
    )


def _fit(model: nn.Module, x: Tensor, y: Tensor, penalty: EWCPenalty | None = None) -> None:
    """The caller's training loop: the EWC hook is added to the task loss before backward."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if penalty is not None:
            loss = loss + penalty(model)
        loss.backward()
        opt.step()


def _loss(model: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item()


def test_ewc_forgets_task_a_less_than_plain_fine_tuning() -> None:
    tasks = make_two_tasks(n=512, dim=2, angle_deg=90.0, seed=0)
    torch.manual_seed(0)
    model = _mlp()
    _fit(model, tasks.x_a, tasks.y_a)
    a_before = _loss(model, tasks.x_a, tasks.y_a)
    b_before = _loss(model, tasks.x_b, tasks.y_b)
    fisher = compute_fisher_information(model, _loader(tasks.x_a, tasks.y_a, batch_size=128))
    state = EWCState.from_model(model, fisher)

    plain, with_ewc = copy.deepcopy(model), copy.deepcopy(model)
    _fit(plain, tasks.x_b, tasks.y_b)
    _fit(with_ewc, tasks.x_b, tasks.y_b, penalty=EWCPenalty(state, ewc_lambda=1000.0))

    a_plain = _loss(plain, tasks.x_a, tasks.y_a)
    a_ewc = _loss(with_ewc, tasks.x_a, tasks.y_a)
    # Sanity: A was learned, and plain fine-tuning on B forgot it.
    assert a_before < 0.1
    assert a_plain > a_before + 1.0
    # EWC keeps A's loss clearly lower than plain fine-tuning does...
    assert a_ewc < 0.7 * a_plain
    # ...while still learning B, so the penalty is not just freezing the model.
    assert _loss(with_ewc, tasks.x_b, tasks.y_b) < 0.1 * b_before
