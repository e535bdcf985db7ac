"""One backward per loss: members of a group on the same loss tensor share one pass, each
member's gradients bit for bit what its own backward (or a hand-written loop) gives."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, same_params
from shell_state import assert_same_state, shell_state
from torch import Tensor, nn

from optimsche import OptimScheduler, OptimSchedulerGroup


class _CountBackward(torch.autograd.Function):
    """The identity; counts its backward calls in ``counter[0]`` and raises while
    ``counter[1]`` is true."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, counter: list[Any]) -> Tensor:
        ctx.counter = counter
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        ctx.counter[0] += 1
        if ctx.counter[1]:
            ctx.counter[1] = False
            raise RuntimeError("simulated failure inside backward")
        return grad, None


def _loss(model: EncoderTwoHeads, x: Tensor, y: Tensor, counter: list[Any] | None = None) -> Tensor:
    out_a, out_b = model(x)
    loss = (out_a - y).pow(2).mean() + (out_b + y).pow(2).mean()
    if counter is not None:
        loss = _CountBackward.apply(loss, counter)
    return loss


def _group(
    model: nn.Module,
    *,
    accum: tuple[int, int] = (2, 2),
    use_amp: bool = False,
) -> OptimSchedulerGroup:
    return OptimSchedulerGroup(
        {
            "sgd": OptimScheduler(
                "SGD", {"lr": 0.05, "momentum": 0.9}, model,
                updated_modules=["encoder", "head_a"], accum_grad=accum[0], use_amp=use_amp,
                grad_clip=1.0,
            ),
            "adamw": OptimScheduler(
                "AdamW", {"lr": 0.01}, model, updated_modules="head_b", accum_grad=accum[1],
                use_amp=use_amp, grad_clip=1.0,
            ),
        }
    )  # fmt: skip


def test_two_optimizers_on_one_loss_take_one_backward_and_match_the_hand_loop() -> None:
    model, reference = EncoderTwoHeads(), EncoderTwoHeads()
    group = _group(model)
    sgd = torch.optim.SGD(
        [*reference.encoder.parameters(), *reference.head_a.parameters()], lr=0.05, momentum=0.9
    )
    adamw = torch.optim.AdamW(reference.head_b.parameters(), lr=0.01)
    counter: list[Any] = [0, False]
    for n, (x, y) in enumerate(batches(8), start=1):
        group.step(_loss(model, x, y, counter))
        (_loss(reference, x, y) / 2).backward()
        if n % 2 == 0:
            for optimizer in (sgd, adamw):
                params = [p for g in optimizer.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                optimizer.zero_grad()
    assert counter[0] == 8  # one backward pass per micro-step, not one per optimizer
    assert same_params(model, reference)


def _separate_losses(loss: Tensor) -> dict[str, Tensor]:
    """The same loss as two tensors (``+ 0`` makes a new node): today's two passes."""
    return {"loss": loss, "other": loss + 0.0}


@pytest.mark.parametrize(
    ("accum", "use_amp", "items"),
    [((2, 2), False, False), ((1, 3), False, False), ((2, 2), False, True), ((2, 2), True, False)],
)
def test_the_shared_pass_gives_each_member_its_own_backwards_gradients_bit_for_bit(
    accum: tuple[int, int], use_amp: bool, items: bool
) -> None:
    """Different accum_grad (two passes: scaled differently), num_items, fp16: the shared
    group trains bit for bit as members each running their own backward."""
    model, reference = EncoderTwoHeads(), EncoderTwoHeads()
    shared = _group(model, accum=accum, use_amp=use_amp)
    separate = OptimSchedulerGroup(
        {
            name: OptimScheduler(
                type(member.optimizer).__name__,
                {k: v for k, v in member.optimizer.defaults.items() if k in ("lr", "momentum")},
                reference,
                optim_loss="loss" if name == "sgd" else "other",
                updated_modules=member.updated_modules,
                accum_grad=member.accum_grad,
                use_amp=use_amp,
                grad_clip=1.0,
            )
            for name, member in shared.items()
        }
    )
    for n, (x, y) in enumerate(batches(12), start=1):
        count = {"num_items": torch.tensor(n % 3 + 1)} if items else {}
        shared.step(_loss(model, x, y), **count)  # type: ignore[arg-type]
        separate.step(_separate_losses(_loss(reference, x, y)), **count)  # type: ignore[arg-type]
        assert same_params(model, reference), n
    assert same_params(model, reference)


def test_a_raising_shared_backward_leaves_every_member_as_before() -> None:
    model = EncoderTwoHeads()
    group = _group(model, accum=(1, 1))
    data = batches(3)
    group.step(_loss(model, *data[0]))
    before = {name: shell_state(member) for name, member in group.items()}
    with pytest.raises(RuntimeError, match="simulated failure"):
        group.step(_loss(model, *data[1], [0, True]))
    for name, member in group.items():
        assert_same_state(before[name], shell_state(member))
    assert group.step_num == 1
    assert all(report.updated for report in group.step(_loss(model, *data[1])).values())


def test_a_member_sitting_out_keeps_its_parameters_out_of_the_shared_backward() -> None:
    """step_per_update=2: in odd windows only one member takes part; the backward is then
    restricted to its parameters (the other's gradients stay None)."""
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler("SGD", {"lr": 0.1}, model, updated_modules=["encoder", "head_a"]),
            "b": OptimScheduler(
                "SGD", {"lr": 0.1}, model, updated_modules="head_b", step_per_update=2
            ),
        }
    )
    x, y = batches(1)[0]
    before = [p.detach().clone() for p in model.head_b.parameters()]
    reports = group.step(_loss(model, x, y))
    assert reports["a"].updated and not reports["b"].updated
    assert all(p.grad is None for p in model.head_b.parameters())
    assert all(torch.equal(b, p) for b, p in zip(before, model.head_b.parameters(), strict=True))
