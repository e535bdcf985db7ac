"""No host-device sync on micro-steps, at most one per optimizer update.

Every read of a value back to the host (``item``, ``tolist``, ``bool(t)``, ``float(t)``, ...,
and the reads only the dispatcher sees) is counted while the shell steps
(:func:`optimsche.testing.host_syncs.counting_host_syncs`, tested on its own). On a GPU these
are the calls that block the host until the device catches up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.testing.host_syncs import counting_host_syncs


@contextmanager
def counting_read_backs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The host reads made in the block (:mod:`optimsche.testing.host_syncs`: Python-level
    reads and those only the dispatcher sees)."""
    del monkeypatch  # the shared counter restores what it patches itself
    with counting_host_syncs() as syncs:
        yield syncs.reads


@pytest.mark.parametrize("use_amp", [False, "fp16"])
@pytest.mark.parametrize("num_items", [False, True])
def test_one_read_back_per_update_and_none_between(
    monkeypatch: pytest.MonkeyPatch, use_amp: bool | str, num_items: bool
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        model,
        accum_grad=3,
        use_amp=use_amp,
        grad_clip=1.0,
        schedule=lambda r: 0.1 / r,
    )
    for n, (x, y) in enumerate(batches(9), start=1):
        with sche.autocast():
            errors = (model(x) - y).float().pow(2)
        loss = errors.sum() if num_items else errors.mean()
        items = torch.tensor(len(x)) if num_items else None
        with counting_read_backs(monkeypatch) as calls:
            report = sche.step(loss, num_items=items)
        if n % 3:
            assert calls == [], f"micro-step {n} read back {calls}"
        else:
            assert report.skipped in (None, "amp_overflow")
            assert len(calls) == 1, f"update at micro-step {n} read back {calls}"


def test_a_group_reads_back_once_per_optimizer_update(monkeypatch: pytest.MonkeyPatch) -> None:
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "SGD",
                {"lr": 0.1},
                model,
                optim_loss="a",
                updated_modules=["encoder", "head_a"],
                accum_grad=2,
            ),
            "b": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="b", updated_modules="head_b", accum_grad=2
            ),
        }
    )
    for n, (x, y) in enumerate(batches(4), start=1):
        out_a, out_b = model(x)
        losses = {"a": (out_a - y).pow(2).mean(), "b": (out_b - y).pow(2).mean()}
        with counting_read_backs(monkeypatch) as calls:
            group.step(losses)
        assert len(calls) == (0 if n % 2 else 2)


@pytest.mark.parametrize("use_amp", [False, "fp16"])
def test_the_items_clock_reads_its_total_in_the_same_one_read_back(
    monkeypatch: pytest.MonkeyPatch, use_amp: bool | str
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 0.1}, model, accum_grad=2, use_amp=use_amp, clock="items",
        schedule=lambda t: 0.1 / (1 + t), plateau={"patience": 1},
    )  # fmt: skip
    for n, (x, y) in enumerate(batches(6), start=1):
        with sche.autocast():
            loss = (model(x) - y).float().pow(2).sum()
        with counting_read_backs(monkeypatch) as calls:
            sche.step(loss, epoch_num=1 + n // 4, num_items=torch.tensor(len(x)))
        assert len(calls) == (0 if n % 2 else 1), f"micro-step {n} read back {calls}"
    assert sche.items_seen == 24


def test_flush_and_a_jump_read_back_once_per_update(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=4, use_amp="fp16")
    data = batches(4)
    sche.step(mse(model, *data[0]))
    with counting_read_backs(monkeypatch) as calls:
        sche.flush()
    assert len(calls) == 1
    sche.step(mse(model, *data[1]))
    with counting_read_backs(monkeypatch) as calls:
        report = sche.step(mse(model, *data[2]), step_num=12)  # flushes window 2, ends window 3
    assert report.flushed is not None and report.updated and len(calls) == 2
