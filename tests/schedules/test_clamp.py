"""``clamp(schedule, min, max)``: the schedule kept within bounds."""

from __future__ import annotations

import functools
import math
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import clamp, cyclic, linear
from schedules.testing import (
    assert_bounded,
    assert_scalar_tensor_agree,
    assert_vmappable,
    schedules_with_kwargs,
    steps,
)

RAMP = functools.partial(linear, start=0.0, end=1.0, steps=10)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.2, 0.7, [0.2, 0.2, 0.2, 0.3, 0.5, 0.7, 0.7]),
        (0.25, None, [0.25, 0.25, 0.25, 0.3, 0.5, 0.8, 1.0]),
        (None, 0.45, [0.0, 0.1, 0.2, 0.3, 0.45, 0.45, 0.45]),
        (None, None, [0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0]),
        (0.5, 0.5, [0.5] * 7),
    ],
)
def test_hand_checked_values(low: float | None, high: float | None, expected: list[float]) -> None:
    schedule = clamp(RAMP, min=low, max=high)
    got = [schedule(s) for s in (0, 1, 2, 3, 5, 8, 12)]
    assert all(isinstance(v, float) for v in got)
    assert all(
        math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-15) for g, e in zip(got, expected, strict=True)
    )


@settings(max_examples=60, deadline=None)
@given(
    pair=schedules_with_kwargs(max_steps=10**4),
    bounds=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(sorted),
    step=steps(),
)
def test_stays_within_bounds_and_agrees_elsewhere(
    pair: tuple[Any, dict[str, Any]], bounds: list[float], step: int
) -> None:
    fn, kwargs = pair
    inner = functools.partial(fn, **kwargs)
    low, high = bounds
    schedule = clamp(inner, low, high)
    assert_bounded(schedule, low, high, [0, 1, step], rtol=0.0)
    if low <= inner(step) <= high:
        assert schedule(step) == inner(step)
    assert_scalar_tensor_agree(schedule, [0, 1, step])
    assert_vmappable(schedule, [0, 1, step])


def test_cuts_a_cycle() -> None:
    schedule = clamp(functools.partial(cyclic, base=0.0, peak=1.0, up=10), max=0.5)
    assert [schedule(s) for s in (0, 5, 10, 15, 20)] == [0.0, 0.5, 0.5, 0.5, 0.0]


def test_repr_equality_hash_and_pickle() -> None:
    schedule = clamp(RAMP, min=0.2)
    text = "clamp(schedule=bind(linear, start=0.0, end=1.0, steps=10), min=0.2, max=None)"
    assert repr(schedule) == text
    assert eval(text, NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule) and copy(1) == schedule(1)
    assert clamp(RAMP, max=0.2) != schedule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min": 0.6, "max": 0.5}, "min must be <= max, got min=0.6 and max=0.5"),
        ({"min": math.nan}, "min must be finite"),
        ({"max": "1"}, "max must be a number"),
        ({"min": True}, "min must be a number"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clamp(RAMP, **kwargs)
    with pytest.raises(ValueError, match="schedule must be a schedule"):
        clamp(0.5, **kwargs)  # type: ignore[arg-type]
