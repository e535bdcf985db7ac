"""step() checks every argument before any backward, and a backward that raises is undone.

A retried micro-step must train exactly as if the failed attempt had never happened; where
torch had already accumulated into existing gradients in place (which cannot be undone
without a copy), the window is skipped instead of being applied with wrong gradients.
"""

from __future__ import annotations

import gc
import re
import weakref
from typing import Any

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, mse, same_params, tiny_mlp
from shell_state import assert_same_state, shell_state
from torch import Tensor, nn

from optimsche import OptimScheduler, OptimSchedulerGroup


class _FailOnce(torch.autograd.Function):
    """The identity; its backward raises while ``armed[0]`` is true (then disarms)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, armed: list[bool]) -> Tensor:
        ctx.armed = armed
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        if ctx.armed[0]:
            ctx.armed[0] = False
            raise RuntimeError("simulated failure inside backward")
        return grad, None


def _loss_failing_midway(model: nn.Sequential, x: Tensor, y: Tensor, armed: list[bool]) -> Tensor:
    """mse through ``model`` with a failing node between its first and its last layer: the
    last layer's gradients are accumulated before the failure, the first layer's are not."""
    hidden = torch.tanh(model[0](x))
    hidden = _FailOnce.apply(hidden, armed)
    return (model[2](hidden) - y).pow(2).mean()


def _loss_failing_first(model: nn.Module, x: Tensor, y: Tensor, armed: list[bool]) -> Tensor:
    """mse whose very first backward node fails: no gradient is reached."""
    failing = _FailOnce.apply(mse(model, x, y), armed)
    assert isinstance(failing, Tensor)
    return failing


def _shell(model: nn.Module, accum_grad: int) -> OptimScheduler:
    return OptimScheduler("Adam", {"lr": 0.01}, model, accum_grad=accum_grad, grad_clip=1.0)


@pytest.mark.parametrize("accum_grad", [1, 3])
def test_a_backward_raising_on_a_windows_first_micro_step_is_undone_exactly(
    accum_grad: int,
) -> None:
    model, reference = tiny_mlp(), tiny_mlp()
    sche, clean = _shell(model, accum_grad), _shell(reference, accum_grad)
    data = batches(2 * accum_grad)
    for n, (x, y) in enumerate(data, start=1):
        if n == accum_grad + 1:  # the first micro-step of window 2 fails once, then is retried
            before = shell_state(sche)
            with pytest.raises(RuntimeError, match="simulated failure"):
                sche.step(_loss_failing_midway(model, x, y, [True]))  # type: ignore[arg-type]
            assert_same_state(before, shell_state(sche))
        sche.step(mse(model, x, y))
        clean.step(mse(reference, x, y))
    assert same_params(model, reference)


def test_a_later_micro_step_whose_backward_raised_marks_its_window_even_if_no_gradient_moved() -> (
    None
):
    """O(1) micro-steps (DESIGN "O(1) bookkeeping"): nothing is snapshotted before a later
    micro-step's backward, so one that raised is not known to have left the gradients alone:
    its window is marked (skipped, the exception says so), the counters and the weights are
    unchanged, and the next window trains as the clean run's does from the same weights."""
    model = tiny_mlp()
    sche = _shell(model, 3)
    data = batches(6)
    sche.step(mse(model, *data[0]))
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="simulated failure") as caught:
        sche.step(_loss_failing_first(model, *data[1], [True]))
    notes = " ".join(getattr(caught.value, "__notes__", []))
    assert "cannot be restored, so that window's update will be skipped" in notes
    assert sche.step_num == 1
    sche.step(mse(model, *data[1]))
    report = sche.step(mse(model, *data[2]))
    assert report.skipped == "nonfinite" and not report.updated
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    reference = tiny_mlp()
    reference.load_state_dict(model.state_dict())
    clean = _shell(reference, 3)
    clean.load_state_dict(sche.state_dict())
    for x, y in data[3:]:
        sche.step(mse(model, x, y))
        clean.step(mse(reference, x, y))
    assert same_params(model, reference)


def test_a_later_micro_step_that_accumulated_in_place_skips_its_window() -> None:
    """Micro-step 2 of 3 fails after the last layer's gradient was added in place: the window
    cannot be restored, the exception says so, and the window's update is skipped."""
    model = tiny_mlp()
    sche = _shell(model, 3)
    data = batches(6)
    sche.step(mse(model, *data[0]))
    with pytest.raises(RuntimeError, match="simulated failure") as caught:
        sche.step(_loss_failing_midway(model, *data[1], [True]))  # type: ignore[arg-type]
    notes = " ".join(getattr(caught.value, "__notes__", []))
    assert "cannot be restored, so that window's update will be skipped" in notes
    before = [p.detach().clone() for p in model.parameters()]
    sche.step(mse(model, *data[1]))
    report = sche.step(mse(model, *data[2]))
    assert report.real_step == 1 and report.skipped == "nonfinite" and not report.updated
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    for x, y in data[3:]:
        report = sche.step(mse(model, x, y))
    assert report.updated and report.real_step == 2


def _group(model: EncoderTwoHeads, accum_grad: int = 1) -> OptimSchedulerGroup:
    return OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "SGD",
                {"lr": 0.1},
                model,
                optim_loss="loss_a",
                updated_modules=["encoder", "head_a"],
                accum_grad=accum_grad,
            ),
            "b": OptimScheduler(
                "Adam",
                {"lr": 0.01},
                model,
                optim_loss="loss_b",
                updated_modules="head_b",
                accum_grad=accum_grad,
            ),
        }
    )


def _losses(model: EncoderTwoHeads, x: Tensor, y: Tensor, armed: list[bool]) -> dict[str, Tensor]:
    out_a, out_b = model(x)
    loss_b = (_FailOnce.apply(out_b, armed) + y).pow(2).mean()
    return {"loss_a": (out_a - y).pow(2).mean(), "loss_b": loss_b}


def test_a_group_undoes_every_members_backward_when_a_later_one_raises() -> None:
    model, reference = EncoderTwoHeads(), EncoderTwoHeads()
    group, clean = _group(model), _group(reference)
    data = batches(3)
    for n, (x, y) in enumerate(data, start=1):
        if n == 2:
            before = {name: shell_state(member) for name, member in group.items()}
            with pytest.raises(RuntimeError, match="simulated failure"):
                group.step(_losses(model, x, y, [True]))
            for name, member in group.items():
                assert_same_state(before[name], shell_state(member))
            assert group.step_num == 1
        group.step(_losses(model, x, y, [False]))
        clean.step(_losses(reference, x, y, [False]))
    assert same_params(model, reference)


def test_a_group_checks_num_items_of_every_member_before_any_backward() -> None:
    model = EncoderTwoHeads()
    group = _group(model, accum_grad=2)
    x, y = batches(1)[0]
    group.step(_losses(model, x, y, [False]), num_items={"a": 4, "b": 4})
    before = {name: shell_state(member) for name, member in group.items()}
    with pytest.raises(ValueError, match="num_items missing on a micro-step"):
        group.step(_losses(model, x, y, [False]), num_items={"a": 4, "b": None})
    with pytest.raises(ValueError, match="num_items must be an int >= 0, got -1"):
        group.step(_losses(model, x, y, [False]), num_items={"a": 4, "b": -1})
    for name, member in group.items():
        assert_same_state(before[name], shell_state(member))


def test_time_func_and_optim_name_are_checked_first() -> None:
    model = tiny_mlp()
    sche = _shell(model, 1)
    loss = mse(model, *batches(1)[0])
    with pytest.raises(
        ValueError,
        match=re.escape("time_func must be None or SpeeChain's timer, a callable time_func("),
    ):
        sche.step(loss, time_func=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="optim_name must be None or the optimizer's name"):
        sche.step(loss, optim_name=7)  # type: ignore[arg-type]
    group = _group(EncoderTwoHeads())
    with pytest.raises(ValueError, match="got int: 3"):
        group.step({}, time_func=3)  # type: ignore[arg-type]
    assert sche.step_num == 0 and all(p.grad is None for p in model.parameters())


def test_an_optimizer_given_positionally_suggests_optimizer_keyword() -> None:
    model = tiny_mlp()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "optim_type (the first argument) got an optimizer (AdamW instance); did you mean "
            "optimizer=?"
        ),
    ) as caught:
        OptimScheduler(torch.optim.AdamW(model.parameters()))  # type: ignore[arg-type]
    assert "Parameter Group" not in str(caught.value)


def test_the_undo_snapshot_keeps_no_gradient_alive_after_the_update() -> None:
    """The snapshot holds references (never copies); once a micro-step is advanced it is let
    go, so the update's freed gradients are really freed."""
    model = tiny_mlp()
    sche = _shell(model, 2)
    data = batches(2)
    sche.step(mse(model, *data[0]))
    grads = [weakref.ref(p.grad) for p in model.parameters() if p.grad is not None]
    assert grads
    assert sche.step(mse(model, *data[1])).updated
    gc.collect()
    assert all(ref() is None for ref in grads)
