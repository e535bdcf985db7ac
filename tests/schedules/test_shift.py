"""shift(f, k)(s) = f(max(max(s, 0) - k, 0)): a delay (k > 0) or a start mid-curve (k < 0)."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import bind, cosine, linear, shift
from schedules.testing import assert_scalar_tensor_agree, assert_vmappable, combined_schedules

COS = bind(cosine, peak=1.0, steps=1000, final=0.1)


@settings(max_examples=80, deadline=None)
@given(f=combined_schedules(max_steps=500), k=st.integers(-1000, 1000), s=st.integers(-50, 3000))
def test_shift_is_the_child_at_the_moved_step(f: object, k: int, s: int) -> None:
    moved = shift(f, k)  # type: ignore[arg-type]
    expected = f(max(max(s, 0) - k, 0))  # type: ignore[operator]
    got = moved(s)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


@settings(max_examples=40, deadline=None)
@given(f=combined_schedules(max_steps=300), k=st.integers(-500, 500))
def test_shift_agrees_on_numbers_and_tensors(f: object, k: int) -> None:
    steps = [0, 1, 2, 50, 299, 300, 301, 777, 2000]
    assert_scalar_tensor_agree(shift(f, k), steps, rtol=1e-9, atol=1e-12)  # type: ignore[arg-type]


def test_delay_holds_the_start_and_advance_starts_mid_curve() -> None:
    delayed, advanced = shift(COS, 100), shift(COS, -500)
    assert [delayed(s) for s in (0, 50, 100)] == [COS(0)] * 3
    assert delayed(350) == COS(250)
    assert advanced(0) == COS(500) and advanced(-7) == COS(500) and advanced(400) == COS(900)
    assert advanced(5000) == COS(1000)  # past the horizon: holds the final value


def test_vmap_and_compile() -> None:
    moved = shift(bind(linear, start=1.0, end=0.0, steps=100), 10.5)
    assert_vmappable(moved, [0, 5, 10, 11, 50, 200])
    steps = torch.arange(-5, 200, dtype=torch.int64)
    torch.testing.assert_close(torch.compile(moved, fullgraph=True)(steps), moved(steps))


def test_repr_pickle_equality() -> None:
    moved = shift(COS, -500)
    assert (
        repr(moved) == "shift(schedule=bind(cosine, peak=1.0, steps=1000, final=0.1), steps=-500)"
    )
    assert eval(repr(moved), vars(schedules)) == moved
    assert pickle.loads(pickle.dumps(moved)) == moved and hash(moved) == hash(shift(COS, -500))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (math.inf, "steps must be finite"),
        (math.nan, "steps must be finite"),
        (2.0**54, r"steps must be within ±2\^53"),
        ("10", "steps must be a number"),
        (True, "steps must be a number"),
    ],
)
def test_bad_steps_are_refused(steps: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shift(COS, steps)  # type: ignore[arg-type]


def test_not_a_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="schedule must be a schedule"):
        shift(0.5, 3)  # type: ignore[arg-type]
