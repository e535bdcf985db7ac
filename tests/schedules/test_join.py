"""``join(schedules, boundaries)``: optax ``join_schedules`` (anchored in
test_combinator_anchors.py): ``schedules[i+1]`` runs from ``s == boundaries[i]`` on and sees
``s - boundaries[i]``."""

from __future__ import annotations

import functools
import math
import pickle
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import constant, cosine, join, linear
from schedules.testing import (
    assert_bounded,
    assert_continuous,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
    learning_rates,
)

UP = functools.partial(linear, start=0.0, end=1.0, steps=4)
DOWN = functools.partial(linear, start=0.5, end=0.0, steps=10)
FLOOR = functools.partial(constant, value=0.01)
THREE = join([UP, DOWN, FLOOR], [4, 10])
STEPS = [0, 1, 3, 4, 5, 9, 10, 11, 100, 10**12]
NAMESPACE = {**vars(schedules), "partial": functools.partial}


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (-2, 0.0),
        (0, 0.0),
        (3, 0.75),  # UP(3)
        (3.5, 0.875),
        (4, 0.5),  # DOWN(0): the switch happens at s == boundary
        (5, 0.45),  # DOWN(1)
        (9, 0.25),  # DOWN(5)
        (10, 0.01),  # FLOOR(0)
        (10**12, 0.01),
    ],
)
def test_hand_checked_values(step: float, expected: float) -> None:
    got = THREE(step)
    assert isinstance(got, float)
    assert math.isclose(got, expected, rel_tol=1e-12)


def test_each_child_sees_the_steps_since_its_boundary() -> None:
    seen: list[float] = []

    def probe(step: float) -> float:
        seen.append(step)
        return 0.0

    schedule = join([UP, probe, UP], [7, 20])
    schedule(7)
    schedule(12)
    schedule(19.5)
    assert seen == [0, 5, 12.5]


def test_tensor_steps_give_the_same_values() -> None:
    assert_scalar_tensor_agree(THREE, STEPS)
    assert_vmappable(THREE, STEPS)
    got = THREE(torch.tensor([[3, 4], [9, 10]]))
    expected = torch.tensor([[0.75, 0.5], [0.25, 0.01]], dtype=torch.float64)
    torch.testing.assert_close(got, expected)


def test_a_single_schedule_is_itself() -> None:
    schedule = join([DOWN], [])
    for step in STEPS:
        assert schedule(step) == DOWN(step)


@settings(max_examples=60, deadline=None)
@given(
    peak=learning_rates(),
    warmup=st.integers(1, 5000),
    decay=st.integers(1, 5000),
    final_fraction=st.floats(0.0, 1.0),
)
def test_warmup_joined_to_cosine_is_continuous_where_the_parts_meet(
    peak: float, warmup: int, decay: int, final_fraction: float
) -> None:
    final = peak * final_fraction
    schedule = join(
        [
            functools.partial(linear, start=0.0, end=peak, steps=warmup),
            functools.partial(cosine, peak=peak, steps=decay, final=final),
        ],
        [warmup],
    )
    assert_continuous(schedule, [warmup, warmup + decay])
    assert_monotone(schedule, 0, warmup, increasing=True, strict=True)
    assert_monotone(schedule, warmup, warmup + decay, increasing=False)
    assert_bounded(schedule, 0.0, peak, [0, warmup // 2, warmup, warmup + decay // 2, 10**12])
    assert_holds_after(schedule, warmup + decay)


def test_parts_that_do_not_meet_jump() -> None:
    with pytest.raises(AssertionError, match="jumps at step 4"):
        assert_continuous(THREE, [4])


def test_repr_equality_hash_and_pickle() -> None:
    text = repr(THREE)
    assert text == (
        "join(schedules=(bind(linear, start=0.0, end=1.0, steps=4), bind(linear, "
        "start=0.5, end=0.0, steps=10), bind(constant, value=0.01)), boundaries=(4, 10))"
    )
    assert eval(text, NAMESPACE) == THREE
    copy = pickle.loads(pickle.dumps(THREE))
    assert copy == THREE and hash(copy) == hash(THREE) and copy(5) == THREE(5)
    assert join((UP, DOWN, FLOOR), (4, 10)) == THREE  # lists and tuples alike
    assert isinstance(THREE.schedules, tuple) and isinstance(THREE.boundaries, tuple)
    assert join([UP, DOWN, FLOOR], [4, 11]) != THREE
    assert join([UP, FLOOR, DOWN], [4, 10]) != THREE


@pytest.mark.parametrize(
    ("schedules_", "boundaries", "message"),
    [
        ([UP, DOWN], [], "one boundary fewer than schedules: got 2 schedules and 0"),
        ([UP, DOWN], [3, 5], "got 2 schedules and 2 boundaries"),
        ([UP, DOWN, FLOOR], [5, 5], "boundaries must be strictly increasing"),
        ([UP, DOWN, FLOOR], [6, 5], "boundaries must be strictly increasing"),
        ([UP, DOWN], [0], r"boundaries must be > 0, got \[0\]"),
        ([UP, DOWN], [-3], "boundaries must be > 0"),
        ([UP, DOWN], [math.nan], r"boundaries\[0\] must be finite"),
        ([UP, DOWN], 4, "boundaries must be a sequence of numbers, got 4"),
        ([], [], "schedules must be a non-empty sequence of schedules"),
        (UP, [], "schedules must be a non-empty sequence of schedules"),
        ([UP, "cosine"], [3], r"schedules\[1\] must be a schedule .* got str: 'cosine'"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    schedules_: Any, boundaries: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        join(schedules_, boundaries)
