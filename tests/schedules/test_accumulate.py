"""``accumulate(schedule, accum_grad)``: ``schedule(real_step(s, accum_grad))``, a 1-based
micro-step clock driving a schedule of optimizer updates."""

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
from schedules import accumulate, linear, noam, real_step
from schedules.testing import (
    assert_changes_only_at,
    assert_scalar_tensor_agree,
    assert_vmappable,
    schedules_with_kwargs,
    steps,
)

RAMP = functools.partial(linear, start=0.0, end=1.0, steps=10)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


def test_hand_checked_values() -> None:
    schedule = accumulate(RAMP, accum_grad=3)
    # micro-steps 1..3 are update 1, 4..6 update 2, ...; micro-step 0 is update 0
    got = [schedule(n) for n in range(0, 11)]
    expected = [0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.4]
    assert all(
        math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-15) for g, e in zip(got, expected, strict=True)
    )
    assert schedule(-5) == 0.0
    assert schedule(4.5) == schedule(4)  # a float micro-step counts as its floor
    assert accumulate(RAMP, 1)(7) == RAMP(7)


def test_noam_on_the_micro_step_clock_is_noam_of_the_real_step() -> None:
    inner = functools.partial(noam, d_model=256, warmup=25)
    schedule = accumulate(inner, accum_grad=4)
    for n in (1, 4, 5, 99, 100, 101, 10**12):
        assert schedule(n) == inner((n - 1) // 4 + 1)


@settings(max_examples=50, deadline=None)
@given(
    pair=schedules_with_kwargs(max_steps=200),
    accum_grad=st.integers(1, 9),
    stop=st.integers(1, 400),
)
def test_changes_value_only_at_window_boundaries(
    pair: tuple[Any, dict[str, Any]], accum_grad: int, stop: int
) -> None:
    fn, kwargs = pair
    inner = functools.partial(fn, **kwargs)
    schedule = accumulate(inner, accum_grad)
    window_starts = range(1, stop + 1, accum_grad)  # first micro-step of each window
    assert_changes_only_at(schedule, window_starts, 0, stop)
    assert schedule(stop) == inner(real_step(stop, accum_grad))


@settings(max_examples=30, deadline=None)
@given(pair=schedules_with_kwargs(max_steps=10**4), accum_grad=st.integers(1, 64), step=steps())
def test_tensor_steps_give_the_same_values(
    pair: tuple[Any, dict[str, Any]], accum_grad: int, step: int
) -> None:
    fn, kwargs = pair
    schedule = accumulate(functools.partial(fn, **kwargs), accum_grad)
    assert_scalar_tensor_agree(schedule, [0, 1, accum_grad, accum_grad + 1, step])
    assert_vmappable(schedule, [0, 1, accum_grad, accum_grad + 1, step])


def _identity(step: Any) -> Any:
    return step.to(torch.float64) if isinstance(step, torch.Tensor) else float(step)


def test_integer_tensor_steps_stay_exact_at_10_to_the_12() -> None:
    schedule = accumulate(_identity, accum_grad=3)
    got = schedule(torch.tensor([10**12, 10**12 + 1]))
    assert got.tolist() == [float((10**12 - 1) // 3 + 1), float(10**12 // 3 + 1)]


def test_repr_equality_hash_and_pickle() -> None:
    schedule = accumulate(RAMP, accum_grad=3)
    text = "accumulate(schedule=bind(linear, start=0.0, end=1.0, steps=10), accum_grad=3)"
    assert repr(schedule) == text
    assert eval(text, NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule) and copy(5) == schedule(5)
    assert accumulate(RAMP, 2) != schedule


@pytest.mark.parametrize("accum_grad", [0, -2, 1.5, 2.0, True, "4", None])
def test_accum_grad_must_be_a_positive_int(accum_grad: Any) -> None:
    with pytest.raises(
        ValueError, match=f"accum_grad must be a positive integer, got {accum_grad!r}"
    ):
        accumulate(RAMP, accum_grad)


def test_schedule_must_be_callable() -> None:
    with pytest.raises(ValueError, match="schedule must be a schedule"):
        accumulate([RAMP], 2)  # type: ignore[arg-type]
