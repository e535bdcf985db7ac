"""linear: start + (end - start) · t / steps, t = clip(s - begin, 0, steps)."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import linear
from schedules.testing import (
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

DOWN = functools.partial(linear, start=1.0, end=0.1, steps=20, begin=2)


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 1.0), (2, 1.0), (3, 0.955), (12, 0.55), (22, 0.1), (23, 0.1), (10**12, 0.1)],
)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert DOWN(step) == pytest.approx(expected, rel=1e-12)


def test_negative_steps_behave_as_step_zero() -> None:
    assert DOWN(-5) == DOWN(0) == 1.0
    assert torch.equal(
        DOWN(torch.tensor([-5, -(10**12)])), torch.tensor([1.0, 1.0], dtype=torch.float64)
    )


def test_end_points_are_exact() -> None:
    # start + (end - start) · 1 misses `end` by an ulp for some values; the schedule must not
    up = functools.partial(linear, start=0.999, end=0.2887734375, steps=3)
    assert up(3) == 0.2887734375 and up(0) == 0.999
    assert up(torch.tensor([3]))[0].item() == 0.2887734375


def test_huge_integer_tensor_steps_are_exact() -> None:
    ramp = functools.partial(linear, start=0.0, end=1.0, steps=2 * 10**12)
    got = ramp(torch.tensor([10**12, 2 * 10**12 - 1], dtype=torch.int64))
    assert got.dtype == torch.float64
    assert got[0].item() == 0.5 and got[1].item() == pytest.approx(1 - 0.5e-12, rel=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    start=st.floats(-10, 10),
    end=st.floats(-10, 10),
    steps=st.integers(1, 300),
    begin=st.integers(0, 50),
)
def test_monotone_bounded_and_holds(start: float, end: float, steps: int, begin: int) -> None:
    schedule = functools.partial(linear, start=start, end=end, steps=steps, begin=begin)
    assert_monotone(schedule, 0, begin + steps + 5, increasing=end >= start)
    low, high = min(start, end), max(start, end)
    for step in (0, begin, begin + steps // 2, begin + steps, 10**12):
        assert low <= schedule(step) <= high
    assert_holds_after(schedule, begin + steps)
    assert schedule(begin + steps) == end


def test_scalar_tensor_agree_and_vmap() -> None:
    assert_scalar_tensor_agree(DOWN, [0, 1, 2, 3, 11, 22, 23, 10**12])
    assert_vmappable(DOWN, range(0, 30))


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return linear(step, 1.0, 0.1, 20, begin=2)

    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    steps = torch.arange(30)
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, r"steps must be > 0, got 0"),
        ({"steps": -3}, r"steps must be > 0, got -3"),
        ({"begin": -1}, r"begin must be >= 0, got -1"),
        ({"start": float("nan")}, r"start must be finite, got nan"),
        ({"end": "1"}, r"end must be a number, got str: '1'"),
    ],
)
def test_bad_hyperparameters_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"start": 1.0, "end": 0.0, "steps": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        linear(0, **arguments)  # type: ignore[arg-type]
