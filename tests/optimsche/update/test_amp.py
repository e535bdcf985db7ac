"""AMP on CPU: the fp16 GradScaler path and the bf16 path, against hand-written loops."""

from __future__ import annotations

import pytest
import torch
from shell_models import batches, mse, tiny_mlp

from optimsche import OptimScheduler


@pytest.mark.parametrize("use_amp", [True, "fp16", "float16"])
def test_fp16_means_a_grad_scaler(use_amp: bool | str) -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), use_amp=use_amp)
    assert isinstance(sche.scaler, torch.amp.GradScaler)
    assert sche.amp_dtype == torch.float16
    assert "use_amp='fp16'" in repr(sche)


@pytest.mark.parametrize("use_amp", ["bf16", "bfloat16"])
def test_bf16_needs_no_scaler(use_amp: str) -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), use_amp=use_amp)
    assert sche.scaler is None and sche.amp_dtype == torch.bfloat16


@pytest.mark.parametrize("use_amp", [False, None])
def test_without_amp_autocast_is_a_no_op(use_amp: bool | None) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, use_amp=use_amp)  # type: ignore[arg-type]
    assert sche.scaler is None and sche.amp_dtype is None
    with sche.autocast():
        assert model(batches(1)[0][0]).dtype == torch.float32


@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_fp16_path_equals_the_hand_written_grad_scaler_loop(grad_clip: float | None) -> None:
    shell_model, hand_model = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler(
        "AdamW", {"lr": 1e-2}, shell_model, use_amp=True, accum_grad=2, grad_clip=grad_clip
    )
    hand = torch.optim.AdamW(hand_model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu")
    for n, (x, y) in enumerate(batches(10), start=1):
        with sche.autocast():
            shell_loss = mse(shell_model, x, y)
        assert shell_loss.dtype == torch.float32  # mse upcasts; the matmuls ran in fp16
        sche.step(shell_loss)
        with torch.autocast("cpu", dtype=torch.float16):
            hand_loss = mse(hand_model, x, y)
        scaler.scale(hand_loss / 2).backward()
        if n % 2 == 0:
            scaler.unscale_(hand)
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(hand_model.parameters(), grad_clip)
            scaler.step(hand)
            scaler.update()
            hand.zero_grad()
    assert sche.scaler is not None
    assert sche.scaler.get_scale() == scaler.get_scale()
    for p, q in zip(shell_model.parameters(), hand_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_fp16_overflow_skips_the_update_and_lowers_the_scale() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, use_amp="fp16", accum_grad=2)
    assert sche.scaler is not None
    data = batches(4)
    before = [p.detach().clone() for p in model.parameters()]
    scale = sche.scaler.get_scale()
    with sche.autocast():
        huge = mse(model, *data[0]) * 1e36  # finite in fp32, inf once scaled by 65536
    sche.step(huge)
    with sche.autocast():
        report = sche.step(mse(model, *data[1]))
    assert report.skipped == "amp_overflow" and not report.updated
    assert report.grad_norm is not None and not torch.isfinite(report.grad_norm)
    assert sche.scaler.get_scale() == scale * 0.5
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    for x, y in data[2:]:
        with sche.autocast():
            report = sche.step(mse(model, x, y))
    assert report.updated and report.skipped is None


def test_bf16_path_equals_the_hand_written_autocast_loop() -> None:
    shell_model, hand_model = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, shell_model, use_amp="bf16")
    hand = torch.optim.SGD(hand_model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches(5):
        with sche.autocast():
            assert shell_model(x).dtype == torch.bfloat16
            shell_loss = mse(shell_model, x, y)
        report = sche.step(shell_loss)
        assert report.updated
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hand_loss = mse(hand_model, x, y)
        hand_loss.backward()
        hand.step()
        hand.zero_grad()
    for p, q in zip(shell_model.parameters(), hand_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_unknown_use_amp_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"use_amp must be False, True \(= 'fp16'\), .* got 'fp8'"):
        OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), use_amp="fp8")
