"""piecewise_linear: linear between (step, value) points, constant outside them
(optax piecewise_interpolate_schedule("linear"))."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import piecewise_linear

TENT = functools.partial(piecewise_linear, points=[(2, 1.0), (6, 3.0), (8, 0.0), (10**11, 2.0)])
HAND_CHECKED = [
    (0, 1.0),
    (2, 1.0),
    (3, 1.5),
    (5, 2.5),
    (6, 3.0),
    (7, 1.5),
    (8, 0.0),
    (8 + (10**11 - 8) // 2, 1.0),
    (10**11, 2.0),
    (10**12, 2.0),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert TENT(step) == pytest.approx(expected, rel=1e-12, abs=0.0)
    got = TENT(torch.tensor([step], dtype=torch.int64)).item()
    assert got == pytest.approx(expected, rel=1e-12, abs=0.0)


def test_fractional_steps_interpolate() -> None:
    assert TENT(2.5) == pytest.approx(1.25, rel=1e-12)
    assert TENT(torch.tensor([7.25], dtype=torch.float64)).item() == pytest.approx(1.125)


def test_a_single_point_is_a_constant() -> None:
    schedule = functools.partial(piecewise_linear, points=[(5, 0.25)])
    assert [schedule(s) for s in (0, 5, 10**12)] == [0.25, 0.25, 0.25]


def test_a_repeated_step_is_a_right_continuous_jump() -> None:
    schedule = functools.partial(piecewise_linear, points=[(0, 0.0), (2, 1.0), (2, 5.0), (4, 5.0)])
    assert schedule(1) == 0.5
    assert schedule(1.999) == pytest.approx(0.9995, rel=1e-12)  # the left limit is 1.0
    assert schedule(2) == 5.0
    assert schedule(3) == 5.0
    assert schedule(torch.tensor([1, 2, 3])).tolist() == [0.5, 5.0, 5.0]


def test_three_points_on_one_step_keep_the_last() -> None:
    schedule = functools.partial(
        piecewise_linear, points=[(0, 0.0), (1, 1.0), (1, 9.0), (1, 2.0), (3, 0.0)]
    )
    assert [schedule(s) for s in (0.5, 1, 2, 3)] == pytest.approx([0.5, 2.0, 1.0, 0.0])


def test_a_jump_at_the_last_point_holds_the_last_value() -> None:
    schedule = functools.partial(piecewise_linear, points=[(0, 1.0), (4, 0.0), (4, 0.5)])
    assert [schedule(s) for s in (2, 4, 10**12)] == [0.5, 0.5, 0.5]


def test_tensor_steps_agree_with_python_steps() -> None:
    steps = [*range(12), 10**9, 10**11, 10**12]
    expected = torch.tensor([TENT(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = TENT(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-14, atol=0.0)


def test_negative_steps_behave_as_step_zero() -> None:
    schedule = functools.partial(piecewise_linear, points=[(-4, 0.0), (4, 1.0)])
    assert schedule(-2) == schedule(0) == 0.5
    assert schedule(torch.tensor([-(10**12), -1])).tolist() == [0.5, 0.5]


def test_vmap() -> None:
    steps = torch.arange(0, 12, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(TENT)(steps), TENT(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return TENT(step)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph.
    steps = torch.tensor([0, 3, 6, 7, 10**11, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-14, atol=0)


@settings(max_examples=80, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.integers(0, 1000), st.floats(-10.0, 10.0)), min_size=1, max_size=6
    ).map(sorted),
    step=st.integers(0, 1100),
)
def test_stays_within_neighbouring_points(points: list[tuple[int, float]], step: int) -> None:
    value = piecewise_linear(step, points)
    before = [v for x, v in points if x <= step]
    after = [v for x, v in points if x > step]
    if not before:
        assert value == points[0][1]
    elif not after:
        assert value == points[-1][1]
    else:
        low, high = sorted((before[-1], after[0]))
        assert low - 1e-12 <= value <= high + 1e-12
    if any(x == step for x, _ in points):  # at a point, its (last) value exactly
        assert value == pytest.approx([v for x, v in points if x == step][-1], abs=1e-12)


@pytest.mark.parametrize(
    ("points", "match"),
    [
        ([], r"points must be a non-empty sequence of \(step, value\) pairs, got \[\]"),
        (None, r"points must be a non-empty sequence of \(step, value\) pairs, got None"),
        ([(0, 1.0), (3,)], r"points\[1\] must be a \(step, value\) pair, got \(3,\)"),
        ([(0, 1.0), 2.0], r"points\[1\] must be a \(step, value\) pair, got 2.0"),
        ([(0, 1.0), (math.inf, 2.0)], r"points\[1\] step must be finite, got inf"),
        ([(0, "a")], r"points\[0\] value must be a number, got str"),
        ("ab", r"points must be a non-empty sequence of \(step, value\) pairs, got 'ab'"),
        ([(True, 1.0)], r"points\[0\] step must be a number, got bool: True"),
        ([(0, 1.0), "ab"], r"points\[1\] must be a \(step, value\) pair, got 'ab'"),
        ([(0, torch.tensor(1))], r"points\[0\] value must be a number or a floating-point Tensor"),
        (
            [(0, 1.0), (5, 2.0), (3, 0.0)],
            r"points must be sorted by step, but points\[2\] step 3 < points\[1\] step 5",
        ),
    ],
)
def test_bad_points_raise(points: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        piecewise_linear(1, points)
