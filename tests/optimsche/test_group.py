"""OptimSchedulerGroup: several optimizers on several losses, isolated, on one scaler."""

from __future__ import annotations

import io

import pytest
import torch
from shell_models import D_IN, EncoderTwoHeads, batches
from torch import Tensor, nn

from optimsche import OptimScheduler, OptimSchedulerGroup


def _two_losses(model: EncoderTwoHeads, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """One forward, two losses sharing the encoder's graph; "a" also reaches head_b."""
    out_a, out_b = model(x)
    return {
        "loss_a": (out_a - y).pow(2).mean() + 0.5 * out_b.pow(2).mean(),
        "loss_b": (out_b + y).pow(2).mean(),
    }


def _group(model: EncoderTwoHeads, step_per_update_b: int = 1) -> OptimSchedulerGroup:
    return OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "SGD",
                {"lr": 0.1},
                model,
                optim_loss="loss_a",
                updated_modules=["encoder", "head_a"],
            ),
            "b": OptimScheduler(
                "Adam",
                {"lr": 0.01},
                model,
                optim_loss="loss_b",
                updated_modules="head_b",
                step_per_update=step_per_update_b,
            ),
        }
    )


def test_group_is_a_read_only_mapping() -> None:
    group = _group(EncoderTwoHeads())
    assert list(group) == ["a", "b"] and len(group) == 2
    assert isinstance(group["a"], OptimScheduler) and "b" in group
    with pytest.raises(TypeError):
        group["c"] = group["a"]  # type: ignore[index]
    assert repr(group).startswith("OptimSchedulerGroup({'a': OptimScheduler(optimizer=SGD")


@pytest.mark.parametrize("step_per_update_b", [1, 2])
def test_each_optimizer_gets_only_its_own_loss_gradient(step_per_update_b: int) -> None:
    """Equal to hand-written per-optimizer autograd.grad: no gradient leaks between them."""
    model, reference = EncoderTwoHeads(), EncoderTwoHeads()
    group = _group(model, step_per_update_b)
    own_a = [*reference.encoder.parameters(), *reference.head_a.parameters()]
    own_b = list(reference.head_b.parameters())
    opt_a = torch.optim.SGD(own_a, lr=0.1)
    opt_b = torch.optim.Adam(own_b, lr=0.01)
    for n, (x, y) in enumerate(batches(6), start=1):
        reports = group.step(_two_losses(model, x, y))
        assert list(reports) == ["a", "b"]
        losses = _two_losses(reference, x, y)
        b_takes_part = n % step_per_update_b == 0
        grads_a = torch.autograd.grad(losses["loss_a"], own_a, retain_graph=True)
        grads_b = torch.autograd.grad(losses["loss_b"], own_b) if b_takes_part else None
        for p, g in zip(own_a, grads_a, strict=True):
            p.grad = g
        opt_a.step()
        if grads_b is not None:
            for p, g in zip(own_b, grads_b, strict=True):
                p.grad = g
            opt_b.step()
        assert reports["b"].updated is b_takes_part
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


class EmbedEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(D_IN, 8)
        self.encoder = nn.Linear(8, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(torch.tanh(self.embed(x)))


def test_all_backwards_run_before_any_update() -> None:
    """ "b"'s backward goes through the encoder that "a" updates in place, on a shared graph:
    stepping the members one by one fails, the group does not (all backwards first, retaining
    the graph until the last one)."""
    x, y = batches(1)[0]

    def losses(model: EmbedEncoder) -> dict[str, Tensor]:
        out = model(x)
        return {"a": (out - y).pow(2).mean(), "b": out.abs().mean()}

    def members(model: EmbedEncoder) -> dict[str, OptimScheduler]:
        return {
            "a": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="a", updated_modules="encoder"
            ),
            "b": OptimScheduler("SGD", {"lr": 0.1}, model, optim_loss="b", updated_modules="embed"),
        }

    one_by_one = EmbedEncoder()
    separate = members(one_by_one)
    both = losses(one_by_one)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        for sche in separate.values():
            sche.step(both)

    model, reference = EmbedEncoder(), EmbedEncoder()
    OptimSchedulerGroup(members(model)).step(losses(model))
    ref = losses(reference)
    g_enc = torch.autograd.grad(ref["a"], list(reference.encoder.parameters()), retain_graph=True)
    g_emb = torch.autograd.grad(ref["b"], list(reference.embed.parameters()))
    reference_params = [*reference.encoder.parameters(), *reference.embed.parameters()]
    for p, g in zip(reference_params, g_enc + g_emb, strict=True):
        p.grad = g
    torch.optim.SGD(reference_params, lr=0.1).step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


def test_overlapping_updated_modules_are_rejected() -> None:
    model = EncoderTwoHeads()
    with pytest.raises(
        ValueError,
        match=r"'a' and 'b' share 2 parameter\(s\) \(updated_modules "
        r"\['encoder', 'head_a'\] and \['encoder'\]\)",
    ):
        OptimSchedulerGroup(
            {
                "a": OptimScheduler(
                    "SGD", {"lr": 0.1}, model, updated_modules=["encoder", "head_a"]
                ),
                "b": OptimScheduler("SGD", {"lr": 0.1}, model, updated_modules=["encoder"]),
            }
        )


def test_group_shares_one_scaler_updated_once_per_window() -> None:
    model = EncoderTwoHeads()
    members = {
        name: OptimScheduler(
            "SGD",
            {"lr": 0.1},
            model,
            optim_loss=loss,
            updated_modules=modules,
            use_amp="fp16",
            accum_grad=2,
        )
        for name, loss, modules in [
            ("a", "loss_a", ["encoder", "head_a"]),
            ("b", "loss_b", "head_b"),
        ]
    }
    group = OptimSchedulerGroup(members)
    scaler = group["a"].scaler
    assert scaler is not None and group["b"].scaler is scaler
    updates: list[int] = []
    original = scaler.update
    scaler.update = lambda *a, **k: (updates.append(group.step_num + 1), original(*a, **k))[1]  # type: ignore[method-assign]
    for x, y in batches(6):
        with group["a"].autocast():
            losses = _two_losses(model, x, y)
        reports = group.step(losses)
    assert updates == [2, 4, 6]  # once per window, not once per optimizer
    assert all(r.updated for r in reports.values())


def test_group_with_scaler_needs_every_member_on_fp16_and_one_accum_grad() -> None:
    model = EncoderTwoHeads()

    def member(modules: str, **kwargs: object) -> OptimScheduler:
        return OptimScheduler("SGD", {"lr": 0.1}, model, updated_modules=modules, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=r"\['a'\] use fp16 AMP .* but \['b'\] do not"):
        OptimSchedulerGroup({"a": member("head_a", use_amp=True), "b": member("head_b")})
    with pytest.raises(ValueError, match=r"need one accum_grad, got \{'a': 1, 'b': 2\}"):
        OptimSchedulerGroup(
            {"a": member("head_a", use_amp=True), "b": member("head_b", use_amp=True, accum_grad=2)}
        )


def test_group_state_dict_is_keyed_by_name_and_resumes() -> None:
    model, resumed_model = EncoderTwoHeads(), EncoderTwoHeads()
    group = _group(model)
    data = batches(5)
    for x, y in data[:3]:
        group.step(_two_losses(model, x, y))
    state = group.state_dict()
    assert list(state) == ["a", "b"] and state["a"]["counters"]["step_num"] == 3
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optim_sches": state}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    resumed_model.load_state_dict(loaded["model"])
    resumed = _group(resumed_model)
    resumed.load_state_dict(loaded["optim_sches"])
    assert resumed.step_num == 3
    for x, y in data[3:]:
        group.step(_two_losses(model, x, y))
        resumed.step(_two_losses(resumed_model, x, y))
    for p, q in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        resumed.load_state_dict({"a": state["a"], "c": state["b"]})


def test_group_step_checks_its_inputs_before_any_backward() -> None:
    model = EncoderTwoHeads()
    group = _group(model)
    x, y = batches(1)[0]
    losses = _two_losses(model, x, y)
    with pytest.raises(ValueError, match="losses has no 'loss_b'"):
        group.step({"loss_a": losses["loss_a"]})
    assert all(p.grad is None for p in model.parameters()) and group.step_num == 0
    with pytest.raises(ValueError, match="num_items has no entry for 'b'"):
        group.step(losses, num_items={"a": 3})
    group.step(losses, step_num=4)
    with pytest.raises(ValueError, match="step_num must increase"):
        group.step(_two_losses(model, x, y), step_num=4)
    assert group.get_lr() == {"a": 0.1, "b": 0.01}


def test_group_num_items_per_member() -> None:
    model = EncoderTwoHeads()
    group = _group(model)
    x, y = batches(1)[0]
    out_a, out_b = model(x)
    reports = group.step(
        {"loss_a": (out_a - y).pow(2).sum(), "loss_b": out_b.pow(2).sum()},
        num_items={"a": 4, "b": torch.tensor(4)},
    )
    assert all(r.updated for r in reports.values())
