"""The kernel and pass counter of the benchmarks, and the budgets our eager Tensor curves keep
(counted, not timed: a formula that grows a kernel or a fresh buffer fails here)."""

from __future__ import annotations

import functools

import pytest
import torch

import schedules
from benchmarks.memory_passes import count_passes

N = 4096


def test_counts_kernels_passes_and_fresh_buffers() -> None:
    x = torch.rand(N)
    mask = x < 0.5
    assert count_passes(lambda: torch.clamp(x, 0.1, 0.9), N).fresh_buffers == 1
    inplace = count_passes(lambda: x.clone().mul_(2.0).add_(1.0), N)
    assert (inplace.kernels, inplace.passes, inplace.fresh_buffers) == (3, 6, 1)
    where = count_passes(lambda: torch.where(mask, x, 0.0 * x), N)
    assert where.operators == ("mul", "where") and where.passes == 2 + 4
    small = count_passes(lambda: x.new_full((), 1.0) + torch.ones(3), N)
    assert small.kernels == 0


BUDGETS = [
    # (schedule, dtype, at most kernels, at most fresh buffers)
    (functools.partial(schedules.cosine, peak=1e-3, steps=N), torch.float32, 6, 1),
    (functools.partial(schedules.warmup_cosine, peak=1e-3, warmup=N // 100, steps=N),
     torch.float32, 10, 1),
    (functools.partial(schedules.warmup_cosine, peak=1e-3, warmup=N // 100, steps=N),
     torch.int64, 12, 1),
    (functools.partial(schedules.warmup_cosine, peak=1e-3, warmup=N // 100, steps=N,
                       final=1e-5), torch.float32, 11, 2),
    (functools.partial(schedules.noam, d_model=512, warmup=N // 10), torch.float32, 6, 2),
    (functools.partial(schedules.linear, start=1.0, end=0.0, steps=N), torch.float32, 3, 2),
    (functools.partial(schedules.piecewise_constant, boundaries=list(range(1, N, 41)),
                       values=[1.0 / k for k in range(1, 102)]), torch.float32, 4, 4),
    (functools.partial(schedules.piecewise_constant, boundaries=list(range(1, N, 41)),
                       values=[1.0 / k for k in range(1, 102)]), torch.int64, 2, 2),
]  # fmt: skip


@pytest.mark.parametrize(("schedule", "dtype", "kernels", "fresh"), BUDGETS)
def test_eager_curves_keep_their_kernel_budget(
    schedule: functools.partial[torch.Tensor], dtype: torch.dtype, kernels: int, fresh: int
) -> None:
    steps = torch.arange(N, dtype=dtype)
    for form in (schedule, schedules.bind(schedule.func, **schedule.keywords)):
        counted = count_passes(lambda f=form: f(steps), N)  # type: ignore[misc]
        assert counted.kernels <= kernels, counted.describe()
        assert counted.fresh_buffers <= fresh, counted.describe()


RUNS = 1 << 16
"""Steps enough to be written run by run (schedules.step_runs.MIN_RUN_STEPS)."""


@pytest.mark.parametrize(
    ("schedule", "passes"),
    [
        (schedules.bind(schedules.piecewise_constant, boundaries=[RUNS * k // 11 for k in
                        range(1, 11)], values=[0.97**k for k in range(11)]), 4.5),
        (schedules.bind(schedules.cosine_restarts, peak=1e-3, period=RUNS // 15, mult=2.0,
                        decay=0.5, final=1e-5), 20),
    ],
)  # fmt: skip
def test_sorted_steps_are_written_run_by_run_in_few_passes(
    schedule: schedules.BoundSchedule, passes: float
) -> None:
    steps = torch.arange(RUNS, dtype=torch.float32)
    counted = count_passes(lambda: schedule(steps), RUNS)
    assert counted.passes <= passes and counted.fresh_buffers == 1, counted.describe()
    assert "searchsorted" in counted.operators
    general = count_passes(lambda: schedule(steps.flip(0).clone()), RUNS)
    assert general.passes > counted.passes and "aminmax" not in general.operators
