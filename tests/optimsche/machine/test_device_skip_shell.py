"""The shell's zero-sync update (:mod:`optimsche.update.device_skip`): with a fused optimizer
the skip decision stays on the device, no host read on any micro-step once the optimizer has
its state, parameters and state bit for bit those of the host path, a non-finite window still
skipped."""

from __future__ import annotations

import math

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, tiny_mlp

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.testing.host_syncs import counting_host_syncs

NAN_AT = 7  # a micro-step whose loss is NaN: its window must be skipped


def _shell(model: torch.nn.Module, use_amp: bool | str, *, host: bool) -> OptimScheduler:
    sche = OptimScheduler(
        "AdamW",
        {"lr": 0.01, "fused": True, "weight_decay": 0.1},
        model,
        accum_grad=2,
        use_amp=use_amp,
        grad_clip=0.5,
        schedule=lambda r: 0.01 / r,
    )
    if host:
        sche.machine.device_skip = False  # the host path, for the comparison
    return sche


def _run(
    use_amp: bool | str, *, host: bool
) -> tuple[list[torch.Tensor], list[str | None], list[list[str]]]:
    torch.manual_seed(0)
    model = tiny_mlp()
    sche = _shell(model, use_amp, host=host)
    reasons: list[str | None] = []
    reads: list[list[str]] = []
    for n, (x, y) in enumerate(batches(12), start=1):
        with sche.autocast():
            loss = (model(x) - y).float().pow(2).mean()
        if n == NAN_AT:
            loss = loss * math.nan
        with counting_host_syncs() as syncs:
            report = sche.step(loss)
        reads.append(list(syncs.reads))
        if n % 2 == 0:
            reasons.append(report.skipped)  # read after counting: the report's own sync
    return [p.detach().clone() for p in model.parameters()], reasons, reads


@pytest.mark.parametrize("use_amp", [False, "fp16"])
def test_bit_identical_to_the_host_path_and_no_read_after_the_first_update(
    use_amp: bool | str,
) -> None:
    device_params, device_reasons, device_reads = _run(use_amp, host=False)
    host_params, host_reasons, host_reads = _run(use_amp, host=True)
    for a, b in zip(device_params, host_params, strict=True):
        assert torch.equal(a, b)
    assert device_reasons == host_reasons
    assert device_reasons[(NAN_AT + 1) // 2 - 1] in ("nonfinite", "amp_overflow")
    # the host path reads once per update; the device path only while the optimizer's state
    # is still to be created (its first applied update), never afterwards
    assert [len(r) for r in host_reads[1::2]] == [1] * 6
    first_applied = next(i for i, r in enumerate(host_reasons) if r is None)
    later = device_reads[2 * first_applied + 2 :]
    assert all(r == [] for r in later), later


def test_a_non_fused_optimizer_keeps_the_host_path() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("AdamW", {"lr": 0.01}, model)
    assert sche.machine.device_skip is False
    compiled = OptimScheduler("AdamW", {"lr": 0.01, "fused": True}, tiny_mlp(), compile_step=True)
    assert compiled.machine.device_skip is False


def test_report_reads_its_device_values_only_when_read() -> None:
    model = tiny_mlp()
    sche = _shell(model, False, host=False)
    x, y = next(iter(batches(1)))
    for _ in range(4):  # two windows: the optimizer has its state after the first
        loss = (model(x) - y).pow(2).mean()
        report = sche.step(loss)
    with counting_host_syncs() as syncs:
        values = report.as_dict()
    assert syncs.count == 1
    assert values["updated"] == 1.0 and values["skipped"] == 0.0
    assert values["lr"] == pytest.approx(0.005)
    assert values["loss"] == pytest.approx(float(loss.detach()))


def test_a_group_of_fused_optimizers_on_one_loss_reads_nothing_after_their_first_updates() -> None:
    torch.manual_seed(0)
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "encoder": OptimScheduler(
                "AdamW", {"lr": 0.01, "fused": True}, model, updated_modules="encoder"
            ),
            "heads": OptimScheduler(
                "SGD",
                {"lr": 0.01, "momentum": 0.9, "fused": True},
                model,
                updated_modules=["head_a", "head_b"],
            ),
        }
    )
    reads = []
    for x, _ in batches(6):
        a, b = model(x)
        loss = a.pow(2).mean() + b.pow(2).mean()
        with counting_host_syncs() as syncs:
            group.step({"loss": loss})
        reads.append(syncs.reads)
    assert all(r == [] for r in reads[1:]), reads
