"""polynomial: end + (start - end) · (1 - t / steps) ** power, t = clip(s - begin, 0, steps)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import linear, polynomial
from schedules.testing import (
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

# start 3, end 1, 4 steps, power 2: 1 + 2 · (1 - t/4)².
SQUARE = functools.partial(polynomial, start=3.0, end=1.0, steps=4, power=2.0)
HAND_CHECKED = [
    (0, 3.0),
    (1, 1 + 2 * 0.5625),  # (3/4)² = 0.5625
    (2, 1.5),  # (1/2)² = 1/4
    (3, 1.125),  # (1/4)² = 1/16
    (4, 1.0),
    (5, 1.0),
    (10**12, 1.0),
    (2.5, 1 + 2 * 0.140625),  # (3/8)²
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: float, expected: float) -> None:
    assert SQUARE(step) == pytest.approx(expected, rel=1e-15, abs=0.0)


def test_square_root_power_and_begin() -> None:
    # start 0 -> end 1 over 4 steps from step 2, power ½: 1 - √(1 - t/4).
    rise = functools.partial(polynomial, start=0.0, end=1.0, steps=4, power=0.5, begin=2)
    assert rise(0) == rise(2) == 0.0
    assert rise(3) == pytest.approx(1 - math.sqrt(0.75), rel=1e-15)
    assert rise(5) == pytest.approx(0.5, rel=1e-15)
    assert rise(6) == rise(10**12) == 1.0


def test_power_one_is_linear() -> None:
    for step in (0, 1, 2, 3, 7, 11, 12, 13, 50, 10**12):
        got = polynomial(step, 2.0, 0.5, 9, power=1.0, begin=3)
        assert got == pytest.approx(linear(step, 2.0, 0.5, 9, begin=3), rel=1e-15)


def test_torch_polynomial_lr_is_end_zero() -> None:
    # PolynomialLR(total_iters=5, power=3) on lr 0.2: 0.2 · (1 - min(t, 5)/5)³.
    for step in range(12):
        expected = 0.2 * (1 - min(step, 5) / 5) ** 3
        assert polynomial(step, 0.2, 0.0, 5, power=3.0) == pytest.approx(expected, abs=1e-16)


def test_holds_end_past_the_horizon_and_before_begin_holds_start() -> None:
    schedule = functools.partial(polynomial, start=1.0, end=0.01, steps=100, power=1.7, begin=50)
    assert_holds_after(schedule, 150)
    assert schedule(0) == schedule(49) == schedule(50) == 1.0


def test_huge_steps_python_and_int64_tensor() -> None:
    steps = torch.tensor([10**12, 10**12 + 1, 2**62], dtype=torch.int64)
    got = SQUARE(steps)
    assert torch.equal(got, torch.ones(3, dtype=torch.float64))
    assert SQUARE(10**12) == 1.0
    # A horizon of 10**12 steps: halfway is (1/2)² of the way from end to start.
    long = functools.partial(polynomial, start=3.0, end=1.0, steps=10**12, power=2.0)
    assert long(5 * 10**11) == pytest.approx(1.5, rel=1e-15)
    assert long(torch.tensor([5 * 10**11])).item() == pytest.approx(1.5, rel=1e-15)


def test_negative_steps_behave_as_step_zero() -> None:
    assert SQUARE(-1) == SQUARE(-(10**12)) == SQUARE(0) == 3.0
    got = SQUARE(torch.tensor([-5, 0], dtype=torch.int64))
    assert torch.equal(got, torch.tensor([3.0, 3.0], dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(
    start=st.floats(0.0, 10.0),
    fraction=st.floats(0.0, 1.0),
    steps=st.integers(1, 300),
    power=st.floats(0.1, 5.0),
)
def test_a_decay_never_rises_and_stays_between_its_ends(
    start: float, fraction: float, steps: int, power: float
) -> None:
    end = start * fraction
    schedule = functools.partial(polynomial, start=start, end=end, steps=steps, power=power)
    assert_monotone(schedule, 0, steps + 20, increasing=False)
    for step in (0, steps // 2, steps, 10**12):
        assert end <= schedule(step) <= start


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 2, 3, 4, 5, 17, 10**12]
    assert_scalar_tensor_agree(SQUARE, steps, rtol=1e-15, atol=0.0)
    assert_vmappable(SQUARE, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return polynomial(step, 3.0, 1.0, 4, power=2.0)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 1, 3, 4, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"start": 1.0, "end": 0.0, "steps": 10, "power": 1.0, "begin": 0}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"steps": 0}, r"steps must be > 0, got 0"),
        ({"steps": -10}, r"steps must be > 0, got -10"),
        ({"power": 0.0}, r"power must be > 0, got 0.0"),
        ({"power": -1.0}, r"power must be > 0, got -1.0"),
        ({"begin": -1}, r"begin must be >= 0, got -1"),
        ({"start": math.nan}, r"start must be finite, got nan"),
        ({"end": None}, r"end must be a number, got NoneType: None"),
        ({"steps": math.inf}, r"steps must be finite, got inf"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        polynomial(1, **{**GOOD, **bad})
