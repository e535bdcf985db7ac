"""A non-finite loss or gradient norm skips the update, zeroes the gradients, and says so."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from shell_models import batches, mse, tiny_mlp
from torch import Tensor, nn

from optimsche import OptimScheduler

Poison = Callable[[nn.Module, Tensor], Tensor]


def _nan_loss(model: nn.Module, loss: Tensor) -> Tensor:
    return loss * float("nan")


def _inf_loss_finite_grads(model: nn.Module, loss: Tensor) -> Tensor:
    return loss + torch.tensor(math.inf)  # the constant has no gradient


class _NanBackward(torch.autograd.Function):
    """The identity forward; a NaN gradient backward."""

    @staticmethod
    def forward(ctx: object, x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> Tensor:
        return torch.full_like(grad, math.nan)


def _nan_gradient_finite_loss(model: nn.Module, loss: Tensor) -> Tensor:
    poisoned = _NanBackward.apply(loss)
    assert isinstance(poisoned, Tensor) and bool(torch.isfinite(poisoned))
    return poisoned


@pytest.mark.parametrize("poison", [_nan_loss, _inf_loss_finite_grads, _nan_gradient_finite_loss])
@pytest.mark.parametrize("bad_micro_step", [1, 3])
def test_a_nonfinite_window_is_skipped(poison: Poison, bad_micro_step: int) -> None:
    """One poisoned micro-step of a window of 3: the whole window is skipped; the next windows
    train exactly as a hand-written loop that never saw it (but whose lr clock moved on)."""
    model, reference = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler(
        "Adam", {"lr": 1.0}, model, accum_grad=3, grad_clip=1.0, schedule=lambda r: 0.01 / r
    )
    hand = torch.optim.Adam(reference.parameters(), lr=1.0)
    data = batches(9)
    for n, (x, y) in enumerate(data[:3], start=1):
        loss = mse(model, x, y)
        report = sche.step(poison(model, loss) if n == bad_micro_step else loss)
    assert report.skipped == "nonfinite" and not report.updated
    assert report.lr == 0.01  # the window counted: its lr was set
    assert all(p.grad is None for p in model.parameters())
    assert sche.optimizer.state == {}  # Adam never stepped
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)
    for n, (x, y) in enumerate(data[3:], start=4):
        sche.step(mse(model, x, y))
        (mse(reference, x, y) / 3).backward()
        if n % 3 == 0:
            hand.param_groups[0]["lr"] = 0.01 / (n // 3)
            torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
            hand.step()
            hand.zero_grad()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


def test_finite_windows_are_not_skipped() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, grad_clip=1e-3)
    for x, y in batches(3):
        report = sche.step(1e6 * mse(model, x, y))  # large but finite
        assert report.updated and report.skipped is None
        assert report.grad_norm is not None and bool(torch.isfinite(report.grad_norm))
