"""``warmup(schedule, steps, start, prefix=False)``: the warmup overlays the schedule (timm
``warmup_prefix=False``): a linear ramp from ``start`` to ``schedule(0)`` for ``s < steps``, then
``schedule(s)`` unshifted (anchored in test_peer_anchors.py)."""

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
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
    hyperparameters,
)

DECAY = functools.partial(linear, start=1.0, end=0.0, steps=10)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (-3, 0.2),
        (0, 0.2),
        (1, 0.4),  # 0.2 + (DECAY(0) - 0.2) · 1/4
        (3, 0.8),
        (3.5, 0.9),
        (4, 0.6),  # DECAY(4): not shifted
        (9, 0.1),
        (10, 0.0),
        (10**12, 0.0),
    ],
)
def test_hand_checked_values(step: float, expected: float) -> None:
    got = warmup(DECAY, steps=4, start=0.2, prefix=False)(step)
    assert isinstance(got, float)
    assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-15)


def test_prefix_true_is_the_default_and_shifts() -> None:
    assert warmup(DECAY, steps=4).prefix is True
    assert warmup(DECAY, steps=4)(4) == DECAY(0)
    assert warmup(DECAY, steps=4, prefix=False)(4) == DECAY(4)


@settings(max_examples=60, deadline=None)
@given(kwargs=hyperparameters("cosine", max_steps=10**4), fraction=st.floats(0.01, 1.0))
def test_overlay_ramps_then_is_the_schedule_itself(kwargs: dict[str, Any], fraction: float) -> None:
    inner: Any = functools.partial(schedules.cosine, **kwargs)
    steps = max(1, int(kwargs["steps"] * fraction))
    schedule = warmup(inner, steps=steps, start=0.0, prefix=False)
    # the ramp rises up to steps, where the value jumps to inner(steps)
    assert_monotone(schedule, 0, steps - 0.5, increasing=True, strict=kwargs["peak"] > 0)
    for s in (steps, steps + 1, kwargs["steps"], 10 * kwargs["steps"], 10**12):
        assert schedule(s) == inner(s)
    assert math.isclose(schedule(steps - 0.5), inner(0) * (steps - 0.5) / steps, rel_tol=1e-12)


def test_tensor_steps_give_the_same_values() -> None:
    schedule = warmup(DECAY, steps=4, start=0.2, prefix=False)
    steps = [0, 1, 2, 3, 4, 5, 9, 10, 11, 10**12]
    assert_scalar_tensor_agree(schedule, steps)
    assert_vmappable(schedule, steps)
    got = schedule(torch.tensor([[0, 2], [4, 9]]))
    torch.testing.assert_close(got, torch.tensor([[0.2, 0.6], [0.6, 0.1]], dtype=torch.float64))


def test_repr_equality_and_pickle() -> None:
    schedule = warmup(DECAY, steps=4, start=0.2, prefix=False)
    text = repr(schedule)
    assert text == (
        "warmup(schedule=bind(linear, start=1.0, end=0.0, steps=10), steps=4, start=0.2, "
        "prefix=False, shape='linear')"
    )
    assert eval(text, NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule) and copy(5) == schedule(5)
    assert warmup(DECAY, steps=4, start=0.2) != schedule


@pytest.mark.parametrize("bad", [1, 0, "no", None])
def test_prefix_must_be_a_bool(bad: Any) -> None:
    with pytest.raises(ValueError, match=rf"prefix must be a bool, got {type(bad).__name__}"):
        warmup(DECAY, steps=4, prefix=bad)
