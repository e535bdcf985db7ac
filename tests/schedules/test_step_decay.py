"""step_decay: start · gamma ** floor(s / every) (torch StepLR)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import step_decay
from schedules.testing import (
    assert_changes_only_at,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

# StepLR(step_size=3, gamma=0.1) on lr 2.
TENTHS = functools.partial(step_decay, start=2.0, every=3, gamma=0.1)
HAND_CHECKED = [
    (0, 2.0),
    (2, 2.0),
    (2.999, 2.0),
    (3, 0.2),
    (5, 0.2),
    (6, 0.02),
    (9, 0.002),
    (31, 2e-10),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: float, expected: float) -> None:
    assert TENTHS(step) == pytest.approx(expected, rel=1e-14, abs=0.0)


def test_changes_only_every_every_steps() -> None:
    assert_changes_only_at(TENTHS, range(0, 61, 3), 0, 60)


def test_fractional_every() -> None:
    # every 2.5: the k-th decay happens at the first integer step >= 2.5·k.
    schedule = functools.partial(step_decay, start=1.0, every=2.5, gamma=0.5)
    assert [schedule(s) for s in range(6)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]


def test_huge_steps_python_and_int64_tensor() -> None:
    # Halves every 10**11 steps: 9 halvings before 10**12, 10 from it on.
    slow = functools.partial(step_decay, start=3.0, every=10**11, gamma=0.5)
    assert slow(10**12 - 1) == 3.0 / 512 and slow(10**12) == 3.0 / 1024
    got = slow(torch.tensor([10**12 - 1, 10**12], dtype=torch.int64))
    assert got.tolist() == [3.0 / 512, 3.0 / 1024]
    assert TENTHS(10**12) == 0.0  # underflows to 0, never NaN
    assert TENTHS(torch.tensor([10**12])).item() == 0.0


def test_growth_overflows_to_inf_without_error() -> None:
    assert step_decay(10**12, 1.0, 1, 2.0) == math.inf
    assert step_decay(torch.tensor([10**12]), 1.0, 1, 2.0).item() == math.inf


def test_negative_steps_behave_as_step_zero() -> None:
    assert TENTHS(-1) == TENTHS(-4) == TENTHS(-(10**12)) == 2.0
    got = TENTHS(torch.tensor([-(10**12), -3, 0], dtype=torch.int64))
    assert torch.equal(got, torch.full((3,), 2.0, dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(every=st.integers(1, 40), gamma=st.floats(0.01, 1.0), start=st.floats(1e-6, 10.0))
def test_a_decay_never_rises(every: int, gamma: float, start: float) -> None:
    schedule = functools.partial(step_decay, start=start, every=every, gamma=gamma)
    assert_monotone(schedule, 0, 12 * every, increasing=False)
    assert 0.0 <= schedule(10**12) <= start


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 2, 3, 4, 29, 30, 31, 10**6, 10**12]
    assert_scalar_tensor_agree(TENTHS, steps, rtol=1e-14, atol=0.0)
    assert_vmappable(TENTHS, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return step_decay(step, 2.0, 3, 0.1)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 2, 3, 6, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"start": 1.0, "every": 10, "gamma": 0.1}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"every": 0}, r"every must be > 0, got 0"),
        ({"every": -5}, r"every must be > 0, got -5"),
        ({"gamma": 0.0}, r"gamma must be > 0, got 0.0"),
        ({"gamma": -0.1}, r"gamma must be > 0, got -0.1"),
        ({"gamma": math.nan}, r"gamma must be finite, got nan"),
        ({"start": None}, r"start must be a number, got NoneType: None"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        step_decay(1, **{**GOOD, **bad})
