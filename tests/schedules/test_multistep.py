"""multistep: start · gamma ** #{milestones <= s} (torch MultiStepLR)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import multistep
from schedules.testing import (
    assert_changes_only_at,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

# MultiStepLR(milestones=[2, 5], gamma=0.1) on lr 1.
TWO = functools.partial(multistep, start=1.0, milestones=[2, 5], gamma=0.1)
HAND_CHECKED = [(0, 1.0), (1, 1.0), (1.5, 1.0), (2, 0.1), (4, 0.1), (5, 0.01), (10**12, 0.01)]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: float, expected: float) -> None:
    assert TWO(step) == pytest.approx(expected, rel=1e-15, abs=0.0)


def test_changes_only_at_milestones() -> None:
    milestones = [3, 4, 17, 40]
    schedule = functools.partial(multistep, start=1.0, milestones=milestones, gamma=0.5)
    assert_changes_only_at(schedule, milestones, 0, 60)


def test_a_repeated_milestone_counts_once_per_occurrence() -> None:
    # torch MultiStepLR counts milestones with a Counter: [3, 3] decays by gamma² at step 3.
    twice = functools.partial(multistep, start=1.0, milestones=[3, 3, 6], gamma=0.5)
    assert [twice(s) for s in range(8)] == [1.0, 1.0, 1.0, 0.25, 0.25, 0.25, 0.125, 0.125]


def test_milestone_zero_applies_from_step_zero() -> None:
    assert multistep(0, 1.0, [0], 0.5) == 0.5
    assert multistep(-7, 1.0, [0], 0.5) == 0.5


def test_no_milestones_is_constant_and_tuples_are_accepted() -> None:
    assert multistep(10**12, 0.3, [], 0.1) == 0.3
    assert multistep(torch.tensor([0, 10**12]), 0.3, (), 0.1).tolist() == [0.3, 0.3]
    assert multistep(6, 1.0, (2, 5), 0.1) == TWO(6)


def test_fractional_milestones() -> None:
    schedule = functools.partial(multistep, start=1.0, milestones=[2.5], gamma=0.5)
    assert [schedule(s) for s in (2, 2.5, 3)] == [1.0, 0.5, 0.5]


def test_huge_steps_and_huge_milestones() -> None:
    far = functools.partial(multistep, start=1.0, milestones=[10, 10**12], gamma=0.5)
    assert [far(s) for s in (0, 10, 10**12 - 1, 10**12, 2**62)] == [1.0, 0.5, 0.5, 0.25, 0.25]
    got = far(torch.tensor([0, 10, 10**12 - 1, 10**12, 2**62], dtype=torch.int64))
    assert got.tolist() == [1.0, 0.5, 0.5, 0.25, 0.25]


def test_negative_steps_behave_as_step_zero() -> None:
    assert TWO(-1) == TWO(-(10**12)) == 1.0
    assert TWO(torch.tensor([-(10**12), -5, 0])).tolist() == [1.0, 1.0, 1.0]


@settings(max_examples=40, deadline=None)
@given(
    milestones=st.lists(st.integers(0, 60), max_size=6).map(sorted),
    gamma=st.floats(0.01, 1.0),
)
def test_a_decay_never_rises(milestones: list[int], gamma: float) -> None:
    schedule = functools.partial(multistep, start=1.0, milestones=milestones, gamma=gamma)
    assert_monotone(schedule, 0, 70, increasing=False)
    assert schedule(10**12) == pytest.approx(gamma ** len(milestones), rel=1e-14)


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 2, 3, 4, 5, 6, 10**12]
    assert_scalar_tensor_agree(TWO, steps, rtol=1e-15, atol=0.0)
    assert_vmappable(TWO, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return multistep(step, 1.0, [2, 5, 5], 0.1)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 2, 4, 5, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"start": 1.0, "milestones": [10, 20], "gamma": 0.1}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"milestones": [20, 10]}, r"milestones must be sorted, got \[20, 10\]"),
        ({"milestones": [-1, 10]}, r"milestones must be >= 0, got \[-1, 10\]"),
        ({"milestones": [1, math.nan]}, r"milestones\[1\] must be finite, got nan"),
        ({"milestones": 10}, r"milestones must be a sequence of numbers, got 10"),
        ({"milestones": "10"}, r"milestones must be a sequence of numbers, got '10'"),
        ({"gamma": 0.0}, r"gamma must be > 0, got 0.0"),
        ({"gamma": -2.0}, r"gamma must be > 0, got -2.0"),
        ({"start": math.inf}, r"start must be finite, got inf"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        multistep(1, **{**GOOD, **bad})
