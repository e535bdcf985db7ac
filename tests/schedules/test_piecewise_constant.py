"""piecewise_constant: values[#{b in boundaries : b <= s}] (optax piecewise_constant_schedule)."""

from __future__ import annotations

import bisect
import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import piecewise_constant

STAIRS = functools.partial(
    piecewise_constant, boundaries=[2, 5, 10**11], values=[3.0, 2.0, 1.0, 0.5]
)
HAND_CHECKED = [
    (0, 3.0),
    (1, 3.0),
    (2, 2.0),
    (4, 2.0),
    (5, 1.0),
    (6, 1.0),
    (10**11 - 1, 1.0),
    (10**11, 0.5),
    (10**12, 0.5),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert STAIRS(step) == expected
    assert STAIRS(torch.tensor([step], dtype=torch.int64)).item() == expected


def test_a_boundary_belongs_to_the_next_value() -> None:
    schedule = functools.partial(piecewise_constant, boundaries=[3.5], values=[1.0, 2.0])
    assert [schedule(s) for s in (3.0, 3.4999, 3.5, 3.6)] == [1.0, 1.0, 2.0, 2.0]


def test_no_boundaries_is_a_constant() -> None:
    schedule = functools.partial(piecewise_constant, boundaries=[], values=[7.0])
    assert schedule(0) == schedule(10**12) == 7.0
    assert torch.equal(
        schedule(torch.tensor([0, 10**12])), torch.full((2,), 7.0, dtype=torch.float64)
    )


def test_boundaries_at_or_before_zero_are_already_passed() -> None:
    schedule = functools.partial(
        piecewise_constant, boundaries=[-1, 0, 3], values=[9.0, 8.0, 7.0, 6.0]
    )
    assert schedule(0) == 7.0
    assert schedule(-5) == 7.0  # negative steps behave as step 0


def test_tensor_steps_agree_with_python_steps() -> None:
    steps = [*range(12), 10**11 - 1, 10**11, 10**12]
    expected = torch.tensor([STAIRS(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = STAIRS(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        assert torch.equal(got, expected)


def test_float32_steps_give_float32_values() -> None:
    got = STAIRS(torch.tensor([0.0, 2.0, 5.0], dtype=torch.float32))
    assert got.dtype == torch.float32
    assert got.tolist() == [3.0, 2.0, 1.0]


def test_negative_steps_behave_as_step_zero() -> None:
    assert STAIRS(-1) == STAIRS(-(10**12)) == 3.0
    assert STAIRS(torch.tensor([-3, -(10**12)])).tolist() == [3.0, 3.0]


def test_vmap() -> None:
    steps = torch.arange(0, 12, dtype=torch.int64)
    assert torch.equal(torch.func.vmap(STAIRS)(steps), STAIRS(steps))


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return STAIRS(step)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph.
    steps = torch.tensor([0, 2, 4, 5, 10**11, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True)
    assert torch.equal(compiled(steps), schedule(steps))


@settings(max_examples=80, deadline=None)
@given(
    boundaries=st.lists(st.integers(0, 10**12), max_size=8, unique=True).map(sorted),
    data=st.data(),
)
def test_counts_the_boundaries_passed(boundaries: list[int], data: st.DataObject) -> None:
    values = [float(i) for i in range(len(boundaries) + 1)]
    step = data.draw(st.one_of(st.sampled_from([*boundaries, 0]), st.integers(0, 10**12)))
    expected = float(bisect.bisect_right(boundaries, step))
    assert piecewise_constant(step, boundaries, values) == expected
    assert piecewise_constant(torch.tensor(step), boundaries, values).item() == expected


@pytest.mark.parametrize(
    ("boundaries", "values", "match"),
    [
        ([5, 2], [1.0, 2.0, 3.0], r"boundaries must be strictly increasing, got \[5, 2\]"),
        ([2, 2], [1.0, 2.0, 3.0], r"boundaries must be strictly increasing, got \[2, 2\]"),
        ([2, math.nan], [1.0, 2.0, 3.0], r"boundaries\[1\] must be finite, got nan"),
        (3, [1.0, 2.0], r"boundaries must be a sequence of numbers, got 3"),
        ([2, 5], [1.0, 2.0], r"values must have len\(boundaries\) \+ 1 = 3 entries, got 2"),
        (
            [2, 5],
            [1.0, 2.0, 3.0, 4.0],
            r"values must have len\(boundaries\) \+ 1 = 3 entries, got 4",
        ),
        ([], [], r"values must have len\(boundaries\) \+ 1 = 1 entries, got 0"),
        ([2], 1.0, r"values must be a sequence of numbers, got 1.0"),
        ([2], [1.0, "x"], r"values\[1\] must be a number, got str"),
        ([2], "ab", r"values must be a sequence of numbers, got 'ab'"),
        ([True], [1.0, 2.0], r"boundaries\[0\] must be a number, got bool"),
        (
            [2],
            torch.tensor(1.0),
            r"values must have len\(boundaries\) \+ 1 = 2 entries \(along "
            r"its first dimension, for a Tensor\), got shape \(\)",
        ),
        (
            [2],
            torch.ones(3),
            r"= 2 entries \(along its first dimension, for a Tensor\), got "
            r"shape \(3,\)",
        ),
        (
            [2],
            torch.ones(2, dtype=torch.int64),
            r"values must be a number or a floating-point "
            r"Tensor, got a Tensor of dtype torch.int64",
        ),
    ],
)
def test_bad_hyperparameters_raise(boundaries: Any, values: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        piecewise_constant(1, boundaries, values)
    with pytest.raises(ValueError, match=match):
        schedules.bind(piecewise_constant, boundaries=boundaries, values=values)
