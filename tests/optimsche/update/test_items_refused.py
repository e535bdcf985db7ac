"""A window whose items do not sum to more than 0 is a ValueError, never applied.

Python-int items are checked when the window's last micro-step is prepared (before its
backward); Tensor items are read in the update's one host sync (their total joins the
tensor it reads) and refused there: the window is closed without touching a parameter.
"""

from __future__ import annotations

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp
from shell_state import assert_same_state, shell_state

from optimsche import OptimScheduler, OptimSchedulerGroup


def _sum_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (model(x) - y).pow(2).sum()


@pytest.mark.parametrize("use_amp", [False, True])
@pytest.mark.parametrize("items", [-3, 0])
def test_tensor_items_that_sum_to_zero_or_less_are_refused(use_amp: bool, items: int) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, model, use_amp=use_amp)
    x, y = batches(1)[0]
    sche.step(_sum_loss(model, x, y), num_items=torch.tensor(4))  # momentum state exists now
    params = [p.detach().clone() for p in model.parameters()]
    optimizer_state = shell_state(sche)["optimizer"]
    with pytest.raises(ValueError, match=f"num_items: the items of window 2 sum to {items}"):
        sche.step(_sum_loss(model, x, y), num_items=torch.tensor(items))
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters(), strict=True))
    after = shell_state(sche)
    assert_same_state({"optimizer": optimizer_state}, {"optimizer": after["optimizer"]})
    assert all(p.grad is None for p in model.parameters())  # the window was closed
    report = sche.step(_sum_loss(model, x, y), num_items=torch.tensor(4))  # training goes on
    assert report.updated and report.real_step == 3


def test_int_items_that_sum_to_zero_are_refused_before_the_backward() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2)
    x, y = batches(1)[0]
    sche.step(_sum_loss(model, x, y) * 0.0, num_items=0)
    before = shell_state(sche)
    with pytest.raises(ValueError, match="num_items: the items of window 1 sum to 0"):
        sche.step(_sum_loss(model, x, y) * 0.0, num_items=0)
    assert_same_state(before, shell_state(sche))
    report = sche.step(_sum_loss(model, x, y), num_items=3)  # the same micro-step, retried
    assert report.updated


def test_a_micro_step_of_zero_items_in_a_window_with_items_is_fine() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2)
    x, y = batches(1)[0]
    sche.step(_sum_loss(model, x, y), num_items=torch.tensor(4))
    assert sche.step(_sum_loss(model, x, y) * 0.0, num_items=0).updated


def test_a_group_refusing_tensor_items_closes_every_members_window_consistently() -> None:
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="loss_a", updated_modules="encoder"
            ),
            "b": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="loss_b", updated_modules="head_b"
            ),
        }
    )
    params = [p.detach().clone() for p in model.parameters()]
    x, y = batches(1)[0]

    def losses() -> dict[str, torch.Tensor]:
        out_a, out_b = model(x)
        return {"loss_a": (out_a - y).pow(2).sum(), "loss_b": (out_b - y).pow(2).sum()}

    with pytest.raises(ValueError, match="sum to -3"):
        group.step(losses(), num_items={"a": torch.tensor(-3), "b": torch.tensor(-3)})
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters(), strict=True))
    assert group.step_num == 1 and all(member.step_num == 1 for member in group.values())
    assert all(p.grad is None for p in model.parameters())
    reports = group.step(losses(), num_items=torch.tensor(4))
    assert all(r.updated and r.real_step == 2 for r in reports.values())


def test_a_nonfinite_window_is_still_a_skip_not_an_error() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model)
    report = sche.step(mse(model, *batches(1)[0]) * float("nan"), num_items=torch.tensor(4))
    assert report.skipped == "nonfinite"
