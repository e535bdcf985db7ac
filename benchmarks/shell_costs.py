"""Benchmark 1's account of the shell's cost: its parts, each beside what it adds to.

* :func:`isolation_row`: a backward restricted to the optimizer's own parameters
  (``torch.autograd.backward(loss, inputs=params)``, the shell's isolation of several
  optimizers on one graph) vs a plain ``loss.backward()`` over the same forward: what it
  costs in torch's engine alone;
* :func:`bookkeeping_row`: ``step()`` on micro-steps that do not update vs the restricted
  backward of ``loss / accum_grad`` it runs, both with their forward: what the shell adds in
  Python (its checks, the MicroStep record, the gradient snapshot, the window's detached
  loss, the report).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import micros_range, ratio_range, seconds_range
from benchmarks.results import Row
from benchmarks.timing import CPU, interleaved, paired, timed
from benchmarks.training_loops import (
    ACCUM,
    ModelSize,
    make_batches,
    make_model,
    schedule,
    windows_per_round,
)
from optimsche import OptimScheduler


def _setup(
    size: ModelSize, config: BenchConfig
) -> tuple[nn.Module, tuple[nn.Parameter, ...], tuple[Tensor, Tensor], int]:
    """A fresh model of ``size``, its parameters, one batch, and how many micro-steps one
    round runs (about 0.1 s of the hand-written loop's)."""
    model = make_model(size)
    count = windows_per_round(size, 0.02 if config.quick else 0.1) * ACCUM
    return model, tuple(model.parameters()), make_batches(size, count=1)[0], count


def isolation_row(size: ModelSize, config: BenchConfig) -> Row:
    """Forward + backward with ``inputs=`` (every parameter) vs a plain ``backward()``: the
    cost in torch's engine of the shell's restricting each backward to its own parameters."""
    model, params, (x, y), count = _setup(size, config)

    def backwards(restricted: bool) -> None:
        for _ in range(count):
            loss = functional.mse_loss(model(x), y) / ACCUM
            if restricted:
                torch.autograd.backward(loss, inputs=params)
            else:
                loss.backward()  # type: ignore[no-untyped-call]
        for p in params:
            p.grad = None

    samples = interleaved(
        {
            "inputs": timed(lambda: backwards(True), CPU),
            "plain": timed(lambda: backwards(False), CPU),
        },
        rounds=config.rounds(21),
    )
    per_backward = {k: v.scaled(1 / count) for k, v in samples.items()}
    return Row(
        f"{size.name}: forward + backward(inputs=params) vs plain backward(), per micro-step "
        f"(the shell's isolation, in torch)",
        seconds_range(per_backward["inputs"]),
        seconds_range(per_backward["plain"]),
        ratio_range(paired(samples["inputs"], samples["plain"])),
    )


def bookkeeping_row(size: ModelSize, config: BenchConfig) -> Row:
    """``step(loss)`` on micro-steps that do not update vs ``backward(loss / accum_grad,
    inputs=params)``, forward included in both: what the shell adds in Python to a micro-step
    (its checks, the MicroStep record, the gradient snapshot, the window's detached loss, the
    report). Each round runs a fresh shell whose window is longer than the round."""
    model, params, (x, y), count = _setup(size, config)

    def shell_steps() -> float:
        shell = OptimScheduler(
            optimizer=torch.optim.AdamW(params, lr=1e-3), schedule=schedule(), accum_grad=count + 1
        )
        start = CPU()
        for _ in range(count):
            shell.step(functional.mse_loss(model(x), y))
        elapsed = CPU() - start
        for p in params:
            p.grad = None
        return elapsed

    def backwards() -> float:
        start = CPU()
        for _ in range(count):
            torch.autograd.backward(functional.mse_loss(model(x), y) / ACCUM, inputs=params)
        elapsed = CPU() - start
        for p in params:
            p.grad = None
        return elapsed

    samples = interleaved({"shell": shell_steps, "backward": backwards}, rounds=config.rounds(21))
    per_step = {k: v.scaled(1 / count) for k, v in samples.items()}
    return Row(
        f"{size.name}: a micro-step that does not update, step() vs backward(loss / "
        f"accum_grad, inputs=params)",
        seconds_range(per_step["shell"]),
        seconds_range(per_step["backward"]),
        micros_range(paired(per_step["shell"], per_step["backward"], op="difference")),
    )


MANY_TENSORS = 1000
GOAL_BOOKKEEPING_MICROS = 5.0


def many_tensors_row(config: BenchConfig) -> Row:
    """``step(loss)`` on micro-steps that do not update, with :data:`MANY_TENSORS` parameter
    tensors (a window in progress: every gradient present), vs the hand-written
    ``torch.autograd.backward(loss / accum_grad)``, the backward a no-op in both (patched for
    the measurement, put back after): the shell's own Python per micro-step."""
    params = [nn.Parameter(torch.randn(4)) for _ in range(MANY_TENSORS)]
    model = nn.Module()
    model.params = nn.ParameterList(params)
    loss = torch.stack([p.sum() for p in params]).sum()
    count = 500 if config.quick else 2000
    real_backward = torch.autograd.backward

    def no_backward(*args: object, **kwargs: object) -> None:
        del args, kwargs

    def shell_steps() -> float:
        shell = OptimScheduler(
            optimizer=torch.optim.AdamW(params, lr=1e-3), model=model, accum_grad=count + 2
        )
        shell.step(loss)  # the window's first micro-step (its gradients were None)
        for p in params:
            p.grad = torch.zeros(4)
        start = CPU()
        for _ in range(count):
            shell.step(loss)
        elapsed = CPU() - start
        for p in params:
            p.grad = None
        return elapsed

    def backwards() -> float:
        start = CPU()
        for _ in range(count):
            torch.autograd.backward(loss / ACCUM)
        return CPU() - start

    torch.autograd.backward = no_backward
    try:
        samples = interleaved(
            {"shell": shell_steps, "backward": backwards}, rounds=config.rounds(15)
        )
    finally:
        torch.autograd.backward = real_backward
    per_step = {k: v.scaled(1 / count) for k, v in samples.items()}
    overhead = paired(per_step["shell"], per_step["backward"], op="difference")
    return Row(
        f"{MANY_TENSORS} parameter tensors: a micro-step that does not update, step() vs "
        f"backward(loss / accum_grad), the backward a no-op in both",
        seconds_range(per_step["shell"]),
        seconds_range(per_step["backward"]),
        micros_range(overhead),
        f"overhead ≤ {GOAL_BOOKKEEPING_MICROS:g} µs",
        overhead.median * 1e6 <= GOAL_BOOKKEEPING_MICROS,
    )
