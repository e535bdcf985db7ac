"""An lr that is NaN, infinite, negative or not a number is refused before anything changes.

The lr of a window's update is computed and checked when the window's last micro-step is
prepared, before its backward: a refused step leaves parameters, gradients, optimizer state,
param groups and counters exactly as they were, in a single shell and in a group.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp
from shell_state import assert_same_state, shell_state

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.optimizer.checked_value import check_value


def _schedule_failing_at(bad: object, real: int) -> Any:
    def schedule(step: int) -> object:
        return bad if step >= real else 0.1

    return schedule


BAD_VALUES = [
    (math.nan, "gave nan at step 2"),
    (math.inf, "gave inf at step 2"),
    (-1e-3, "gave -0.001 at step 2"),
    (None, "gave NoneType None at step 2"),
    (torch.tensor([0.1, 0.2]), r"gave a Tensor of shape \(2,\) and dtype torch.float32 at step 2"),
    ("0.1", "gave str '0.1' at step 2"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_VALUES)
def test_a_bad_lr_from_the_schedule_is_refused_before_anything_changes(
    bad: object, message: str
) -> None:
    model = tiny_mlp()
    schedule = _schedule_failing_at(bad, 2)
    sche = OptimScheduler("Adam", {"lr": 1.0}, model, accum_grad=2, schedule=schedule)
    data = batches(4)
    for x, y in data[:3]:  # window 1 updates with lr 0.1; micro-step 3 opens window 2
        sche.step(mse(model, x, y))
    before = shell_state(sche)
    with pytest.raises(ValueError, match=r"lr: the schedule .*schedule.*" + message):
        sche.step(mse(model, *data[3]))
    assert_same_state(before, shell_state(sche))


def test_a_subclass_update_lr_is_checked_and_named() -> None:
    class Upside(OptimScheduler):
        def update_lr(self, real_step: int) -> float:
            return -0.1

    model = tiny_mlp()
    sche = Upside("SGD", {"lr": 0.1}, model)
    before = shell_state(sche)
    with pytest.raises(
        ValueError, match=re.escape("lr: the schedule Upside.update_lr gave -0.1 at step 1")
    ):
        sche.step(mse(model, *batches(1)[0]))
    assert_same_state(before, shell_state(sche))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("ft_factor", [-1.0, 0.0, math.nan, math.inf])
def test_ft_factor_must_be_positive_at_construction(ft_factor: float) -> None:
    with pytest.raises(ValueError, match="ft_factor must be"):
        OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), ft_factor=ft_factor)


def test_an_lr_that_overflows_with_ft_factor_is_refused() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, ft_factor=10.0, schedule=lambda r: 1e308)
    with pytest.raises(
        ValueError, match=r"lr: the schedule ft_factor=10.0 · .* gave inf at step 1"
    ):
        sche.step(mse(model, *batches(1)[0]))
    assert sche.step_num == 0 and all(p.grad is None for p in model.parameters())


def test_good_values_are_applied_as_before() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, ft_factor=0.5, schedule=lambda r: 0.2 * r)
    for x, y in batches(3):
        report = sche.step(mse(model, x, y))
    assert report.lr == 0.5 * (0.2 * 3) == sche.optimizer.param_groups[0]["lr"]
    zero_dim = OptimScheduler(
        "SGD", {"lr": 1.0}, tiny_mlp(), schedule=lambda r: torch.tensor(0.25, dtype=torch.float64)
    )
    assert zero_dim.step(mse(zero_dim.model, *batches(1)[0])).lr == 0.25  # type: ignore[arg-type]


def test_a_bad_lr_in_one_member_leaves_every_member_untouched() -> None:
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="loss_a", updated_modules="encoder"
            ),
            "b": OptimScheduler(
                "SGD",
                {"lr": 0.1},
                model,
                optim_loss="loss_b",
                updated_modules=["head_a", "head_b"],
                schedule=_schedule_failing_at(math.nan, 2),
            ),
        }
    )
    data = batches(2)

    def losses(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        out_a, out_b = model(x)
        return {"loss_a": (out_a - y).pow(2).mean(), "loss_b": (out_a + out_b - y).pow(2).mean()}

    group.step(losses(*data[0]))
    before = {name: shell_state(member) for name, member in group.items()}
    with pytest.raises(ValueError, match="gave nan at step 2"):
        group.step(losses(*data[1]))
    for name, member in group.items():
        assert_same_state(before[name], shell_state(member))
    assert group.step_num == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (3, 3.0), (0.5, 0.5), (torch.tensor(2.0), 2.0), (torch.tensor([7]), 7.0)],
)
def test_check_value_accepts_one_finite_number_at_least_zero(
    value: object, expected: float
) -> None:
    assert check_value("lr", value, schedule="s", t=1) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "lr: the schedule s gave bool True at step 4"),
        (-0.0 - 1e-300, "gave -1e-300 at step 4"),
        (torch.tensor(True), "gave a Tensor of shape () and dtype torch.bool"),
        (torch.tensor(1j), "gave a Tensor of shape () and dtype torch.complex64"),
        ([0.1], "gave list [0.1] at step 4"),
    ],
)
def test_check_value_refuses_the_rest(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_value("lr", value, schedule="s", t=4)


def test_an_epoch_clock_lr_is_checked_before_the_backward() -> None:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 0.1}, model, clock="epoch", schedule=_schedule_failing_at(-1.0, 2)
    )
    data = batches(2)
    sche.step(mse(model, *data[0]), epoch_num=1)
    before = shell_state(sche)
    with pytest.raises(ValueError, match=r"gave -1 at step 2"):
        sche.step(mse(model, *data[1]), epoch_num=2)
    assert_same_state(before, shell_state(sche))


def test_an_items_clock_lr_is_checked_after_the_sync_and_nothing_is_applied() -> None:
    """With clock="items" the lr is known only once the window's items are read: it is
    checked there, before optimizer.step() and any write; the window closes unapplied."""
    model = tiny_mlp()
    sche = OptimScheduler(
        "Adam", {"lr": 0.1}, model, clock="items", schedule=_schedule_failing_at(math.nan, 9)
    )
    x, y = batches(1)[0]
    sche.step((model(x) - y).pow(2).sum(), num_items=4)  # t = 4: fine
    params = [p.detach().clone() for p in model.parameters()]
    optimizer = shell_state(sche)["optimizer"]
    lr = sche.optimizer.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="gave nan at step 9"):
        sche.step((model(x) - y).pow(2).sum(), num_items=5)  # t = 9
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters(), strict=True))
    assert_same_state({"optimizer": optimizer}, {"optimizer": shell_state(sche)["optimizer"]})
    assert sche.optimizer.param_groups[0]["lr"] == lr and sche.items_seen == 4
    assert all(p.grad is None for p in model.parameters())  # the window was closed
