"""Rank bodies and references of the partial-window tests under 2-process DDP (gloo):
``flush()`` and ``step_num`` jumps. Module-level functions only (pickled into the processes);
float64 and SGD with momentum as in ``ddp_scenarios``."""

import traceback
from collections.abc import Callable
from typing import Any

import torch
from ddp_scenarios import (
    ACCUM,
    WORLD,
    Params,
    batch,
    make_model,
    make_optimizer,
    mean_loss,
    snapshot,
    sum_loss,
    token_batch,
)
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from optimsche import OptimScheduler

FLUSHED_WINDOWS = ((0, 1, 2), (0, 1, 2, 3), (0, 1))
"""The micro-batches run in each window; windows shorter than ACCUM end with ``flush()``."""


def reference_flushed(*, token_exact: bool) -> list[Params]:
    """Single process: one step per window on every rank's micro-batches of the window."""
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    make_batch = token_batch if token_exact else batch
    history = []
    for w, micro in enumerate(FLUSHED_WINDOWS):
        parts = [make_batch(r, w, k) for r in range(WORLD) for k in micro]
        x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        optimizer.zero_grad(set_to_none=True)
        loss = sum_loss(model, x, y) / x.shape[0] if token_exact else mean_loss(model, x, y)
        loss.backward()
        optimizer.step()
        history.append(snapshot(model))
    return history


def shell_flushed(rank: int, token_exact: bool) -> dict[str, Any]:
    ddp = DistributedDataParallel(make_model())
    osch = OptimScheduler(model=ddp, optimizer=make_optimizer(ddp.parameters()), accum_grad=ACCUM)
    history, flushed = [], []
    for w, micro in enumerate(FLUSHED_WINDOWS):
        for k in micro:
            if token_exact:
                x, y = token_batch(rank, w, k)
                osch.step(sum_loss(ddp, x, y), num_items=x.shape[0])
            else:
                osch.step(mean_loss(ddp, *batch(rank, w, k)))
        report = osch.flush()
        flushed.append(None if report is None else report.updated)
        history.append(snapshot(ddp))
    return {"params": history, "flushed": flushed, "step_num": osch.step_num}


JUMP = (1, 2, 6, 7, 8)
"""The micro-steps run: 3..5 are skipped, so 6 jumps out of window 1."""


def _grads(model: torch.nn.Module, loss: Tensor) -> list[Tensor]:
    return list(torch.autograd.grad(loss, list(model.parameters())))


def reference_jump() -> list[Params]:
    """Single process: window 1 = the ranks' micro-batches 1-2 averaged; micro-batch 6's
    gradient at the weights before that update; window 2 = (g6 + g7 + g8) / ACCUM averaged
    over the ranks."""
    model = make_model()
    optimizer = make_optimizer(model.parameters())

    def mean_grad(n: int, divisor: int) -> list[Tensor]:
        total = [torch.zeros_like(p) for p in model.parameters()]
        for r in range(WORLD):
            for t, g in zip(total, _grads(model, mean_loss(model, *batch(r, 0, n))), strict=True):
                t.add_(g / (divisor * WORLD))
        return total

    g6 = mean_grad(6, ACCUM)
    window1 = [a + b for a, b in zip(mean_grad(1, 2), mean_grad(2, 2), strict=True)]
    for p, g in zip(model.parameters(), window1, strict=True):
        p.grad = g
    optimizer.step()
    history = [snapshot(model)]
    window2 = [
        a + b + c for a, b, c in zip(g6, mean_grad(7, ACCUM), mean_grad(8, ACCUM), strict=True)
    ]
    for p, g in zip(model.parameters(), window2, strict=True):
        p.grad = g
    optimizer.step()
    history.append(snapshot(model))
    return history


def shell_jump(rank: int) -> dict[str, Any]:
    ddp = DistributedDataParallel(make_model())
    osch = OptimScheduler(model=ddp, optimizer=make_optimizer(ddp.parameters()), accum_grad=ACCUM)
    history, flushed = [], []
    for n in JUMP:
        report = osch.step(mean_loss(ddp, *batch(rank, 0, n)), step_num=n)
        if report.flushed is not None:
            flushed.append(report.flushed.updated)
            history.append(snapshot(ddp))
    history.append(snapshot(ddp))
    return {"params": history, "flushed": flushed}


def guarded(scenario: Callable[[int], dict[str, Any]], rank: int) -> dict[str, Any]:
    try:
        return scenario(rank)
    except Exception:
        return {"error": traceback.format_exc()}


def flush_suite(rank: int, world_size: int) -> dict[str, Any]:
    """Every scenario of test_ddp_flush.py, once per rank in one process group."""
    assert world_size == WORLD
    return {
        "mean": guarded(lambda r: shell_flushed(r, token_exact=False), rank),
        "items": guarded(lambda r: shell_flushed(r, token_exact=True), rank),
        "jump": guarded(shell_jump, rank),
    }
