"""OptimScheduler.step(): the micro-step clock, participation, the lr, the loss, the timer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp
from torch import nn

import schedules
from optimsche import OptimScheduler, StepReport


@settings(max_examples=25, deadline=None)
@given(
    accum_grad=st.integers(1, 4),
    step_per_update=st.integers(1, 3),
    steps=st.integers(1, 14),
)
def test_updates_on_last_micro_step_of_participating_windows(
    accum_grad: int, step_per_update: int, steps: int
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 0.1}, model, accum_grad=accum_grad, step_per_update=step_per_update
    )
    for n, (x, y) in enumerate(batches(steps), start=1):
        before = [p.detach().clone() for p in model.parameters()]
        report = sche.step({"loss": mse(model, x, y)})
        assert report.step_num == n == sche.step_num
        assert report.real_step == schedules.real_step(n, accum_grad)
        due = schedules.is_update_step(n, accum_grad, step_per_update)
        assert report.updated is due
        assert report.skipped is None
        assert (report.grad_norm is not None) is due
        changed = any(
            not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)
        )
        assert changed is due
        takes_part = schedules.step_arithmetic.takes_part(n, accum_grad, step_per_update)
        holds_grads = all(p.grad is not None for p in model.parameters())
        # backward ran (and its gradients wait) exactly on participating non-final micro-steps
        assert holds_grads is (takes_part and not due)


def test_step_per_update_skips_backward_of_other_windows() -> None:
    """A window the optimizer takes no part in leaves no gradient behind (SpeeChain)."""
    model = tiny_mlp()
    reference = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2, step_per_update=2)
    hand = torch.optim.SGD(reference.parameters(), lr=0.1)
    for n, (x, y) in enumerate(batches(12), start=1):
        sche.step(mse(model, x, y))
        real = (n - 1) // 2 + 1
        if real % 2 == 0:
            (mse(reference, x, y) / 2).backward()
            if n % 2 == 0:
                hand.step()
                hand.zero_grad()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


def test_step_num_is_counted_or_checked() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2)
    data = batches(8)
    assert sche.step(mse(model, *data[0])).step_num == 1
    assert sche.step(mse(model, *data[1]), step_num=2).step_num == 2
    with pytest.raises(
        ValueError, match="step_num must increase: got step_num=2 after micro-step 2"
    ):
        sche.step(mse(model, *data[2]), step_num=2)
    with pytest.raises(ValueError, match="step_num must increase: got step_num=1"):
        sche.step(mse(model, *data[2]), step_num=1)
    assert sche.step_num == 2
    # jumping forward from a closed window is allowed
    assert sche.step(mse(model, *data[2]), step_num=5).real_step == 3
    # (jumping out of a window that holds gradients flushes it: tests/optimsche/test_flush.py)
    with pytest.raises(ValueError, match="step_num must be an int >= 1, got True"):
        sche.step(mse(model, *data[3]), step_num=True)  # type: ignore[arg-type]
    assert sche.step(mse(model, *data[3]), step_num=6).updated


def test_lr_is_ft_factor_times_update_lr_times_lr_scale() -> None:
    model = EncoderTwoHeads()
    optimizer = torch.optim.SGD(
        [
            {"params": model.encoder.parameters()},
            {"params": model.head_a.parameters(), "lr_scale": 0.25},
        ],
        lr=1.0,
    )
    sche = OptimScheduler(
        model=model,
        optimizer=optimizer,
        accum_grad=2,
        ft_factor=0.5,
        schedule=lambda r: 0.1 / r,
    )
    assert sche.get_lr() == 1.0  # before the first update: the optimizer's lr
    for n, (x, y) in enumerate(batches(6), start=1):
        report = sche.step((model(x)[0] - y).pow(2).mean())
        real = (n - 1) // 2 + 1
        if n % 2 == 0:
            expected = 0.5 * 0.1 / real
            assert report.lr == sche.get_lr() == expected
            assert optimizer.param_groups[0]["lr"] == expected
            assert optimizer.param_groups[1]["lr"] == expected * 0.25
        else:
            assert report.lr == sche.get_lr()  # the lr in effect, unchanged mid-window


def test_without_schedule_the_optimizers_own_lrs_are_kept() -> None:
    model = EncoderTwoHeads()
    optimizer = torch.optim.SGD(
        [{"params": model.encoder.parameters(), "lr": 0.2}, {"params": model.head_a.parameters()}],
        lr=0.01,
    )
    sche = OptimScheduler(model=model, optimizer=optimizer, ft_factor=0.5)
    for x, y in batches(3):
        report = sche.step((model(x)[0] - y).pow(2).mean())
        assert report.updated
        assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.005]
        assert report.lr == sche.get_lr() == 0.1


def test_schedule_sees_the_real_step() -> None:
    model = tiny_mlp()
    seen: list[int] = []

    def schedule(real_step: int) -> float:
        seen.append(real_step)
        return 0.01

    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=3, schedule=schedule)
    for x, y in batches(9):
        sche.step(mse(model, x, y))
    assert seen == [1, 2, 3]  # evaluated once per update, at its real step


def test_loss_is_picked_by_name_and_never_modified() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2, optim_loss="ce")
    x, y = batches(1)[0]
    loss = mse(model, x, y)
    value, version = loss.detach().clone(), loss._version
    other = torch.tensor(123.0, requires_grad=True)
    sche.step({"ce": loss, "other": other})
    assert torch.equal(loss.detach(), value) and loss._version == version
    assert other.grad is None
    # a bare tensor is the loss whatever optim_loss says
    sche.step(mse(model, x, y))
    assert sche.step_num == 2


def test_updated_modules_choose_the_parameters() -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, updated_modules=["encoder", "head_a"])
    owned = {id(p) for g in sche.optimizer.param_groups for p in g["params"]}
    assert owned == {id(p) for m in (model.encoder, model.head_a) for p in m.parameters()}
    head_b = [p.detach().clone() for p in model.head_b.parameters()]
    x, y = batches(1)[0]
    out_a, out_b = model(x)
    sche.step((out_a - y).pow(2).mean() + (out_b - y).pow(2).mean())
    # head_b took part in the loss but is not this optimizer's: untouched, and no gradient
    for p, before in zip(model.head_b.parameters(), head_b, strict=True):
        assert torch.equal(p, before) and p.grad is None


def test_frozen_parameters_are_skipped_by_backward() -> None:
    model = tiny_mlp()
    model[0].weight.requires_grad_(False)
    sche = OptimScheduler("SGD", {"lr": 0.1}, model)
    frozen = model[0].weight.detach().clone()
    sche.step(mse(model, *batches(1)[0]))
    assert torch.equal(model[0].weight, frozen) and model[0].weight.grad is None


def test_time_func_times_backward_and_update() -> None:
    entered: list[list[str]] = []

    @contextlib.contextmanager
    def time_func(names: list[str]) -> Iterator[None]:
        entered.append(names)
        yield

    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2)
    data = batches(2)
    sche.step(mse(model, *data[0]), time_func, "asr")
    assert entered == [["loss_backward_time", "asr"]]
    sche.step(mse(model, *data[1]), time_func, "asr")
    assert entered[1:] == [["loss_backward_time", "asr"], ["optim_time", "asr"]]
    sche.step(mse(model, *data[0]), time_func)
    assert entered[-1] == ["loss_backward_time"]


def test_step_report_is_a_frozen_record() -> None:
    report = StepReport(step_num=3, real_step=2, updated=True, skipped=None, lr=0.1, grad_norm=None)
    with pytest.raises(AttributeError):
        report.lr = 1.0  # type: ignore[misc]
    assert report == StepReport(
        step_num=3, real_step=2, updated=True, skipped=None, lr=0.1, grad_norm=None
    )


def test_repr_shows_the_configuration() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("AdamW", {"lr": 0.1}, model, accum_grad=4, grad_clip=1.0)
    text = repr(sche)
    assert text.startswith("OptimScheduler(optimizer=AdamW, optim_loss=None")
    assert "accum_grad=4" in text and "grad_clip=1.0" in text and "schedule" not in text
    with_schedule = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), schedule=schedules.constant)
    assert "schedule=<function constant" in repr(with_schedule)


def test_wrapping_an_optimizer_without_model() -> None:
    weight = nn.Parameter(torch.ones(3))
    sche = OptimScheduler(optimizer=torch.optim.SGD([weight], lr=0.5))
    report = sche.step((weight * torch.arange(3.0)).sum())
    assert report.updated
    assert torch.equal(weight.detach(), torch.tensor([1.0, 0.5, 0.0]))
