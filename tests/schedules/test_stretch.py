"""``stretch(schedule, ratio)``: ``schedule(s / ratio)``, Composer's scale-schedule ratio."""

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
from schedules import cosine, stretch
from schedules.testing import (
    assert_holds_after,
    assert_scalar_tensor_agree,
    assert_vmappable,
    hyperparameters,
)

COSINE = functools.partial(cosine, peak=1.0, steps=100)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


def test_hand_checked_values() -> None:
    half = stretch(COSINE, ratio=0.5)  # the whole schedule in half the steps
    assert half(0) == 1.0
    assert math.isclose(half(25), 0.5, rel_tol=1e-12)  # COSINE(50)
    assert math.isclose(half(50), 0.0, abs_tol=1e-15)  # COSINE(100)
    double = stretch(COSINE, ratio=2)
    assert math.isclose(double(100), 0.5, rel_tol=1e-12)
    assert math.isclose(double(50), COSINE(25), rel_tol=1e-12)
    assert half(-4) == 1.0


def test_integer_tensor_steps_are_divided_in_float64() -> None:
    schedule = stretch(lambda s: s, ratio=3)
    got = schedule(torch.tensor([10**12, 10**12 + 3]))
    assert got.dtype == torch.float64
    assert got.tolist() == [10**12 / 3, (10**12 + 3) / 3]


@settings(max_examples=40, deadline=None)
@given(kwargs=hyperparameters("cosine", max_steps=10**4), ratio=st.floats(0.1, 10.0))
def test_moves_the_horizon_to_ratio_times_steps(kwargs: dict[str, Any], ratio: float) -> None:
    inner = functools.partial(cosine, **kwargs)
    schedule = stretch(inner, ratio)
    horizon = kwargs["steps"] * ratio
    assert math.isclose(schedule(horizon), kwargs["final"], rel_tol=1e-9, abs_tol=1e-15)
    assert_holds_after(schedule, horizon)
    assert_scalar_tensor_agree(schedule, [0, 1, 7, int(horizon) + 1, 10**12])
    assert_vmappable(schedule, [0, 1, 7, int(horizon) + 1])


def test_repr_equality_hash_and_pickle() -> None:
    schedule = stretch(COSINE, ratio=0.5)
    assert repr(schedule) == "stretch(schedule=bind(cosine, peak=1.0, steps=100), ratio=0.5)"
    assert eval(repr(schedule), NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule) and copy(10) == schedule(10)
    assert stretch(COSINE, 2.0) != schedule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": COSINE, "ratio": 0}, "ratio must be > 0, got 0"),
        ({"schedule": COSINE, "ratio": -1.5}, "ratio must be > 0, got -1.5"),
        ({"schedule": COSINE, "ratio": math.nan}, "ratio must be finite"),
        ({"schedule": "cosine", "ratio": 1}, "schedule must be a schedule"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stretch(**kwargs)
