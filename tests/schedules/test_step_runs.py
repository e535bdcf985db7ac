"""schedules.step_runs: sorted steps written run by run give the intervals' values, and
anything that does not come in runs (unsorted, NaN, short, batched, traced, with a gradient,
past a closed top) is refused before a write; the families that use it agree with their
general formula (the same steps, unsorted) to a few ulps of the curve's scale, the step
functions bit for bit."""

from __future__ import annotations

import functools
import math
from typing import Any

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

import schedules
import schedules.testing
from schedules.step_runs import MIN_RUN_STEPS, by_runs

BOUNDS = [100.0, 5000.0, 40_000.0]
LEVELS = [1.0, 2.0, 3.0, 4.0]


def _fill_levels(calls: list[int]) -> schedules.step_runs.Fill:
    def fill(k: int, out: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        calls.append(k)
        return out.fill_(LEVELS[k])

    return fill


def _reference(steps: torch.Tensor) -> torch.Tensor:
    index = torch.bucketize(steps, torch.tensor(BOUNDS, dtype=steps.dtype), right=True)
    return torch.tensor(LEVELS, dtype=steps.dtype)[index]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32])
def test_sorted_steps_are_written_run_by_run(dtype: torch.dtype) -> None:
    steps = torch.arange(-10, 60_000, dtype=dtype).reshape(2, -1)
    calls: list[int] = []
    got = by_runs(steps, BOUNDS, _fill_levels(calls))
    floating = dtype if dtype.is_floating_point else torch.float64  # integer steps: float64
    assert got is not None and got.shape == steps.shape and got.dtype == floating
    assert torch.equal(got, _reference(steps.to(floating))) and calls == [0, 1, 2, 3]


def test_integer_steps_come_to_fill_as_float64_in_the_result_itself() -> None:
    seen: list[tuple[torch.dtype, bool]] = []

    def fill(k: int, out: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        seen.append((steps.dtype, steps.data_ptr() == out.data_ptr()))
        return torch.mul(steps, 2.0, out=out)

    got = by_runs(torch.arange(40_000), [20_000.5], fill)
    assert got is not None and torch.equal(got, torch.arange(40_000, dtype=torch.float64) * 2)
    assert seen == [(torch.float64, True)] * 2


def test_values_a_fill_returns_apart_are_copied_into_the_result() -> None:
    steps = torch.arange(40_000.0)
    got = by_runs(steps, [20_000.0], lambda k, out, part: part * 3.0 + k)  # new Tensors
    assert got is not None
    assert torch.equal(got, torch.where(steps < 20_000, steps * 3.0, steps * 3.0 + 1))


def test_empty_runs_are_skipped() -> None:
    steps = torch.linspace(200.0, 4000.0, MIN_RUN_STEPS)
    calls: list[int] = []
    got = by_runs(steps, BOUNDS, _fill_levels(calls))
    assert got is not None and calls == [1] and bool((got == 2.0).all())


def _refused(steps: torch.Tensor, *, open_top: bool = True) -> None:
    calls: list[int] = []
    assert by_runs(steps, BOUNDS, _fill_levels(calls), open_top=open_top) is None
    assert calls == []  # nothing written


def test_steps_that_do_not_come_in_runs_are_refused_before_a_write() -> None:
    steps = torch.arange(60_000.0)
    _refused(steps.flip(0))
    swapped = steps.clone()
    swapped[[10, 50_000]] = swapped[[50_000, 10]]
    _refused(swapped)
    with_nan = steps.clone()
    with_nan[30_000] = math.nan
    _refused(with_nan)
    _refused(steps[:1000])  # too short to pay
    _refused(steps.flip(0).long())  # integer steps too
    _refused(steps[::2].clone().reshape(-1, 2).t())  # not contiguous
    _refused(steps.clone().requires_grad_(True))
    _refused(steps, open_top=False)  # the last interval holds steps


def test_short_runs_take_the_general_formula() -> None:
    steps = torch.arange(60_000.0)
    many = [float(b) for b in range(100, 60_000, 100)]  # 600 intervals of 100 steps
    assert by_runs(steps, many, lambda k, out, _: out.fill_(float(k))) is None
    few = [float(b) for b in range(1500, 60_000, 1500)]  # 40 intervals of 1500 steps
    got = by_runs(steps, few, lambda k, out, _: out.fill_(float(k)))
    assert got is not None and float(got[-1]) == len(few)


def test_vmap_and_compile_take_the_general_formula() -> None:
    rows = torch.arange(2 * 60_000.0).reshape(2, -1)
    seen: list[bool] = []

    def probe(row: torch.Tensor) -> torch.Tensor:
        seen.append(by_runs(row, BOUNDS, _fill_levels([])) is None)
        return row

    torch.func.vmap(probe)(rows)
    assert seen == [True]


_bind = schedules.bind
_RESTARTS = {"peak": 1e-3, "final": 1e-5}
_WARMUP_COSINE = {"peak": 1e-3, "steps": 50_000}
CURVES = [
    _bind(schedules.piecewise_constant, boundaries=[7, 900, 40_000], values=[1.0, 0.5, 0.2, 0.1]),
    _bind(schedules.multistep, start=1.0, milestones=[100, 30_000], gamma=0.3),
    _bind(schedules.cosine_restarts, period=7_000, **_RESTARTS),
    _bind(schedules.cosine_restarts, period=3_000, mult=2.0, decay=0.5, **_RESTARTS),
    _bind(schedules.cosine_restarts, period=5_000, mult=1.5, warmup=300, **_RESTARTS),
    _bind(schedules.cosine_restarts, peak=1e-3, period=9_000, final=2e-3, warmup=100),
    _bind(schedules.warmup_cosine, warmup=600, **_WARMUP_COSINE),
    _bind(schedules.warmup_cosine, warmup=600, start=1e-5, final=1e-5, **_WARMUP_COSINE),
    _bind(schedules.warmup_cosine, warmup=0, final=1e-4, exponent=2.0, **_WARMUP_COSINE),
    _bind(schedules.warmup_cosine, warmup=500, start=2e-3, final=3e-3, **_WARMUP_COSINE),
    _bind(schedules.warmup_cosine, warmup=500, cycles=1.25, **_WARMUP_COSINE),
    _bind(schedules.polynomial, start=1e-3, end=1e-5, steps=30_000, power=2.0, begin=5_000),
    _bind(schedules.polynomial, start=1e-3, end=0.0, steps=60_000, power=0.5),
    _bind(schedules.linear, start=1e-5, end=1e-3, steps=30_000, begin=5_000),
    _bind(schedules.piecewise_linear, points=[(0, 1.0), (1000, 2.0), (1000, 0.5), (50_000, 0.0)]),
    _bind(
        schedules.piecewise_linear,
        points=[(5, 1e-5), (700, 1e-3), (60_000, 1e-4)],
        interpolation="cosine",
    ),
]


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: repr(c)[:60])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_families_agree_with_their_general_formula(
    curve: schedules.BoundSchedule, dtype: torch.dtype
) -> None:
    steps = torch.arange(-5, 70_000, dtype=dtype)
    by_run = curve(steps)
    general = curve(steps.flip(0)).flip(0)  # descending steps: no runs
    assert by_run.dtype == general.dtype == (dtype if dtype.is_floating_point else torch.float64)
    scale = float(general.abs().max())
    eps = torch.finfo(by_run.dtype).eps
    torch.testing.assert_close(by_run, general, rtol=0, atol=16 * eps * scale)
    python = torch.tensor([curve(float(s)) for s in steps[::997].tolist()], dtype=torch.float64)
    torch.testing.assert_close(by_run[::997].double(), python, rtol=0, atol=64 * eps * scale)


@pytest.mark.parametrize("curve", CURVES[:2], ids=lambda c: repr(c)[:60])
def test_step_functions_are_bit_for_bit(curve: schedules.BoundSchedule) -> None:
    steps = torch.arange(-5, 70_000, dtype=torch.float32)
    assert torch.equal(curve(steps), curve(steps.flip(0)).flip(0))


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: repr(c)[:60])
def test_negative_steps_alone_are_step_zero(curve: schedules.BoundSchedule) -> None:
    steps = torch.linspace(-5e4, -1.0, MIN_RUN_STEPS + 10, dtype=torch.float64)
    assert torch.equal(curve(steps), torch.full_like(steps, curve(0)))


RUN_FAMILIES = ("piecewise_constant", "multistep", "cosine_restarts", "warmup_cosine", "linear",
                "polynomial", "piecewise_linear")  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    drawn=schedules.testing.schedules_with_kwargs(RUN_FAMILIES, max_steps=3 * MIN_RUN_STEPS),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.int64]),
)
def test_any_drawn_schedule_agrees_on_sorted_and_unsorted_steps(
    drawn: tuple[Any, dict[str, Any]], dtype: torch.dtype
) -> None:
    """Hyperparameters from the hypothesis kit, a long sorted curve (run by run, segments)
    against the same steps descending (the general formula) and Python steps."""
    function, kwargs = drawn
    curve = functools.partial(function, **kwargs)
    steps = torch.arange(-3, 4 * MIN_RUN_STEPS, 7, dtype=dtype)
    sorted_values = curve(steps)
    general = curve(steps.flip(0)).flip(0)
    scale = max(float(general.abs().max()), 1e-300)
    eps = torch.finfo(sorted_values.dtype).eps  # (integer steps: float64)
    torch.testing.assert_close(sorted_values, general, rtol=0, atol=16 * eps * scale)
    python = [curve(float(s)) for s in steps[::1009].tolist()]
    expected = torch.tensor(python, dtype=sorted_values.dtype)
    torch.testing.assert_close(sorted_values[::1009], expected, rtol=0, atol=64 * eps * scale)
