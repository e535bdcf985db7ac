"""``scale(schedule, factor)``: ``factor · schedule(s)``, the fine-tuning factor."""

from __future__ import annotations

import functools
import math
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import noam, scale
from schedules.testing import (
    assert_scalar_tensor_agree,
    assert_vmappable,
    schedules_with_kwargs,
    steps,
)

NOAM = functools.partial(noam, d_model=512, warmup=4000)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


def test_hand_checked_values() -> None:
    schedule = scale(NOAM, factor=0.5)
    assert schedule(0) == 0.0
    # at the peak s = warmup: 0.5 · 512^-½ · 4000^-½
    assert math.isclose(schedule(4000), 0.5 / math.sqrt(512 * 4000), rel_tol=1e-12)
    assert scale(NOAM, 0)(4000) == 0.0
    assert isinstance(scale(lambda s: 1, 2)(3), float)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    pair=schedules_with_kwargs(max_steps=10**4),
    factor=st.floats(0.0, 10.0),
    step=steps(),
)
def test_is_the_factor_times_the_schedule_for_every_family(
    pair: tuple[Any, dict[str, Any]], factor: float, step: int
) -> None:
    fn, kwargs = pair
    inner = functools.partial(fn, **kwargs)
    schedule = scale(inner, factor)
    assert schedule(step) == factor * inner(step)
    assert_scalar_tensor_agree(schedule, [0, 1, step])
    assert_vmappable(schedule, [0, 1, step])


def test_repr_equality_hash_and_pickle() -> None:
    schedule = scale(NOAM, factor=0.5)
    assert repr(schedule) == "scale(schedule=bind(noam, d_model=512, warmup=4000), factor=0.5)"
    assert eval(repr(schedule), NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule) and copy(10) == schedule(10)
    assert scale(NOAM, 0.25) != schedule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": NOAM, "factor": -0.1}, "factor must be >= 0, got -0.1"),
        ({"schedule": NOAM, "factor": math.inf}, "factor must be finite"),
        ({"schedule": NOAM, "factor": "2"}, "factor must be a number"),
        ({"schedule": None, "factor": 2}, "schedule must be a schedule .* got NoneType"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scale(**kwargs)
