"""``warmup(schedule, steps, start)``: a linear ramp to ``schedule(0)``, then ``schedule``
delayed by ``steps`` (timm ``warmup_prefix=True``; anchored in test_combinator_anchors.py)."""

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
from schedules import linear, warmup
from schedules.testing import (
    assert_continuous,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
    hyperparameters,
)

DECAY = functools.partial(linear, start=1.0, end=0.0, steps=10)
STEPS = [0, 1, 2, 3, 4, 5, 9, 13, 14, 15, 100, 10**12]
NAMESPACE = {**vars(schedules), "partial": functools.partial}


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (-3, 0.2),  # negative steps act as 0
        (0, 0.2),
        (1, 0.4),  # 0.2 + (1.0 - 0.2) · 1/4
        (2, 0.6),
        (3, 0.8),
        (4, 1.0),  # DECAY(0)
        (5, 0.9),  # DECAY(1)
        (9, 0.5),  # DECAY(5)
        (14, 0.0),  # DECAY(10)
        (10**12, 0.0),
        (2.5, 0.7),
    ],
)
def test_hand_checked_values(step: float, expected: float) -> None:
    schedule = warmup(DECAY, steps=4, start=0.2)
    got = schedule(step)
    assert isinstance(got, float)
    assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-15)


def test_tensor_steps_give_the_same_values() -> None:
    schedule = warmup(DECAY, steps=4, start=0.2)
    assert_scalar_tensor_agree(schedule, STEPS)
    assert_vmappable(schedule, STEPS)
    got = schedule(torch.tensor([[0, 2], [4, 9]]))
    expected = torch.tensor([[0.2, 0.6], [1.0, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(got, expected)


def test_the_target_is_evaluated_as_a_tensor_for_tensor_steps() -> None:
    seen: list[type] = []

    def probe(step: Any) -> Any:
        seen.append(type(step))
        return DECAY(step)

    warmup(probe, steps=4)(torch.arange(8))
    assert seen and all(t is torch.Tensor for t in seen)
    seen.clear()
    warmup(probe, steps=4)(2)
    assert seen == [int]


def test_default_start_is_zero() -> None:
    schedule = warmup(DECAY, steps=5)
    assert schedule.start == 0.0
    assert schedule(0) == 0.0 and math.isclose(schedule(1), 0.2)


@settings(max_examples=60, deadline=None)
@given(kwargs=hyperparameters("cosine", max_steps=10**4), steps=st.integers(1, 10**4))
def test_warmup_rises_strictly_joins_continuously_and_then_follows(
    kwargs: dict[str, Any], steps: int
) -> None:
    inner: Any = functools.partial(schedules.cosine, **kwargs)
    schedule = warmup(inner, steps=steps, start=0.0)
    assert_monotone(schedule, 0, steps, increasing=True, strict=True)
    assert_continuous(schedule, [steps])
    assert_monotone(schedule, steps, steps + kwargs["steps"], increasing=False)
    assert_holds_after(schedule, steps + kwargs["steps"])
    for s in (steps, steps + 1, steps + kwargs["steps"] // 2):
        assert schedule(s) == inner(s - steps)


def test_repr_equality_hash_and_pickle() -> None:
    schedule = warmup(DECAY, steps=4, start=0.2)
    text = repr(schedule)
    assert text == (
        "warmup(schedule=bind(linear, start=1.0, end=0.0, steps=10), steps=4, start=0.2, "
        "prefix=True, shape='linear')"
    )
    assert eval(text, NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule)
    assert copy(3) == schedule(3)
    assert warmup(functools.partial(linear, start=1.0, end=0.0, steps=10), 4, 0.2) == schedule
    assert warmup(DECAY, steps=5, start=0.2) != schedule
    assert warmup(DECAY, steps=4, start=0.3) != schedule
    assert warmup(functools.partial(linear, start=1.0, end=0.5, steps=10), 4, 0.2) != schedule


def test_is_frozen() -> None:
    schedule = warmup(DECAY, steps=4)
    with pytest.raises(AttributeError):
        schedule.steps = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": DECAY, "steps": 0}, "steps must be > 0, got 0"),
        ({"schedule": DECAY, "steps": -5}, "steps must be > 0, got -5"),
        ({"schedule": DECAY, "steps": math.nan}, "steps must be finite"),
        ({"schedule": DECAY, "steps": True}, "steps must be a number"),
        ({"schedule": DECAY, "steps": "10"}, "steps must be a number"),
        ({"schedule": DECAY, "steps": 4, "start": math.inf}, "start must be finite"),
        ({"schedule": DECAY, "steps": 4, "start": None}, "start must be a number"),
        ({"schedule": 0.1, "steps": 4}, "schedule must be a schedule .* got float: 0.1"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        warmup(**kwargs)


def test_bad_step_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="step must be"):
        warmup(DECAY, steps=4)("3")  # type: ignore[type-var]


def test_a_clock_bound_child_is_refused_naming_its_clock() -> None:
    child = schedules.on("epoch", schedules.bind(schedules.cosine, peak=1.0, steps=10))
    with pytest.raises(ValueError, match=r"warmup: schedule reads the 'epoch' clock"):
        schedules.warmup(child, steps=5)
    bound = schedules.on(
        "epoch", schedules.warmup(schedules.bind(schedules.cosine, peak=1.0, steps=10), steps=5)
    )
    assert bound(schedules.Time(update=3, epoch=2)) == pytest.approx(0.4)
