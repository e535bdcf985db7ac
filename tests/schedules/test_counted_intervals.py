"""Interval lookups of a few boundaries counted by comparisons (schedules.intervals.
counted_interval, piece by piece) give torch.bucketize's intervals exactly, so that
piecewise_constant, multistep and piecewise_linear give the same values on either path: large
and small, contiguous or not, under vmap, NaN, infinite and boundary steps included."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

import schedules
from schedules.intervals import FEW_BOUNDS, counted_interval, tensor_interval
from schedules.tensor_values import PIECE

BOUND = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def _steps(bounds: list[float], dtype: torch.dtype, size: int, seed: int) -> torch.Tensor:
    """Random steps around the bounds, the bounds themselves and their float neighbours,
    NaN, ±inf and -0.0."""
    generator = torch.Generator().manual_seed(seed)
    low, high = (min(bounds) - 10, max(bounds) + 10) if bounds else (-10.0, 10.0)
    steps = torch.rand(size, dtype=torch.float64, generator=generator) * (high - low) + low
    table = torch.tensor(bounds, dtype=dtype)
    special = torch.cat(
        [
            table,
            torch.nextafter(table, torch.full_like(table, math.inf)),
            torch.nextafter(table, torch.full_like(table, -math.inf)),
            torch.tensor([math.nan, math.inf, -math.inf, -0.0, 0.0], dtype=dtype),
        ]
    )
    steps = steps.to(dtype)
    steps[: len(special)] = special
    return steps


@settings(max_examples=40, deadline=None)
@given(
    bounds=st.lists(BOUND, max_size=FEW_BOUNDS).map(sorted),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_counting_gives_the_search_intervals(
    bounds: list[float], dtype: torch.dtype, seed: int
) -> None:
    steps = _steps(bounds, dtype, 500, seed)
    counted = counted_interval(steps, bounds, torch.empty_like(steps), nan_past=True)
    searched = tensor_interval(steps, bounds)
    finite = ~torch.isnan(steps)
    assert counted.dtype == torch.int32
    assert torch.equal(counted[finite], searched[finite])
    assert bool((counted[~finite] == len(bounds) + 1).all())
    plain = counted_interval(steps, bounds, torch.empty_like(steps))
    assert bool((plain[~finite] == 0).all())


def _leaves() -> list[schedules.BoundSchedule]:
    return [
        schedules.bind(
            schedules.piecewise_constant,
            boundaries=[0, 7, 1000.5, 3000, 250_000],
            values=[5.0, 4.0, -3.0, 2.0, 1e-3, -0.0],
        ),
        schedules.bind(schedules.piecewise_constant, boundaries=[], values=[2.5]),
        schedules.bind(schedules.multistep, start=2.0, milestones=[0, 0, 17, 17, 9000], gamma=0.5),
        schedules.bind(schedules.piecewise_linear, points=[(0, 1.0), (300_000, 0.0)]),
        schedules.bind(
            schedules.piecewise_linear,
            points=[(-100, 1.0), (0, 2.0), (0, 3.0), (5000, 0.5), (300_000, 0.0)],
            interpolation="cosine",
        ),
    ]


def _agree(got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.dtype == expected.dtype and got.shape == expected.shape
    same = (got == expected) | (torch.isnan(got) & torch.isnan(expected))
    assert bool(same.all())
    assert torch.equal(torch.signbit(got), torch.signbit(expected))  # -0.0 kept


@pytest.mark.parametrize("leaf", _leaves(), ids=lambda leaf: repr(leaf)[:40])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_counted_and_searched_paths_agree_bit_for_bit(
    leaf: schedules.BoundSchedule, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The curve counted (in pieces, and in one piece), then searched (bucketize: no
    boundary count is few enough), and from a non-contiguous view of the steps."""
    steps = _steps([0, 7, 1000.5, 3000, 250_000], dtype, 3 * PIECE + 11, 0)
    counted, small = leaf(steps), leaf(steps[:1000])
    strided = leaf(torch.stack([steps, steps], dim=1)[:, 0])
    assert bool(torch.isnan(counted[torch.isnan(steps)]).all())
    monkeypatch.setattr("schedules.intervals.FEW_BOUNDS", -1)
    searched = leaf(steps)
    _agree(counted, searched)
    _agree(small, searched[:1000])
    _agree(strided, searched)


@pytest.mark.parametrize("leaf", _leaves(), ids=lambda leaf: repr(leaf)[:40])
def test_vmap_over_steps_takes_the_searched_path(leaf: schedules.BoundSchedule) -> None:
    steps = _steps([0, 7, 3000], torch.float32, 64, 1).reshape(4, 16)
    mapped = torch.func.vmap(leaf)(steps)
    expected = torch.stack([leaf(row.clone()) for row in steps])
    same = (mapped == expected) | (torch.isnan(mapped) & torch.isnan(expected))
    assert bool(same.all())


@pytest.mark.parametrize(
    "leaf",
    [
        schedules.bind(schedules.piecewise_linear, points=[(0, 1.0), (5000, 2.0), (300_000, 0.0)]),
        schedules.bind(schedules.warmup_cosine, peak=1e-3, warmup=3000, steps=300_000,
                       start=1e-5, final=1e-5),
        schedules.bind(schedules.linear, start=1.0, end=2.0, steps=300_000, begin=7),
    ],
    ids=lambda leaf: repr(leaf)[:40],
)  # fmt: skip
def test_a_step_that_requires_grad_gives_the_same_values_and_gradients(
    leaf: schedules.BoundSchedule,
) -> None:
    """The in-place paths write with ``out=``, which autograd refuses: a long step that
    requires grad takes the plain path, with the same values and the slopes of short calls."""
    steps = torch.arange(300_000, dtype=torch.float64).requires_grad_(True)
    values = leaf(steps)
    # (without the gradient, sorted steps may be written run by run: a few ulps of the
    # curve's scale apart, schedules.straight_segment)
    scale = float(values.detach().abs().max())
    atol = 16 * torch.finfo(torch.float64).eps * scale
    torch.testing.assert_close(values.detach(), leaf(steps.detach()), rtol=0, atol=atol)
    assert torch.equal(values.detach(), leaf(steps.detach().flip(0)).flip(0))
    values.sum().backward()
    short = steps.detach()[:2000].clone().requires_grad_(True)
    leaf(short).sum().backward()
    assert steps.grad is not None and short.grad is not None
    assert torch.allclose(steps.grad[:2000], short.grad)
