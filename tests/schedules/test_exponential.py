"""exponential: start · rate ** p, p = t / steps (floored if staircase), t = max(s - begin, 0);
``end`` is a floor when rate < 1 and a ceiling when rate > 1."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import exponential
from schedules.testing import (
    assert_changes_only_at,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

# Halves every 2 steps.
HALVING = functools.partial(exponential, start=1.0, rate=0.5, steps=2)
HAND_CHECKED = [
    (0, 1.0),
    (1, math.sqrt(0.5)),
    (2, 0.5),
    (3, 0.5 * math.sqrt(0.5)),
    (4, 0.25),
    (20, 2.0**-10),
    (0.5, 0.5**0.25),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: float, expected: float) -> None:
    assert HALVING(step) == pytest.approx(expected, rel=1e-15, abs=0.0)


def test_staircase_floors_the_exponent() -> None:
    stairs = functools.partial(HALVING, staircase=True)
    assert [stairs(s) for s in range(7)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert_changes_only_at(stairs, range(0, 41, 2), 0, 40)


def test_begin_delays_the_decay() -> None:
    late = functools.partial(HALVING, begin=3)
    assert late(0) == late(3) == 1.0
    assert late(5) == pytest.approx(0.5, rel=1e-15)


def test_torch_exponential_lr_is_steps_one() -> None:
    # ExponentialLR(gamma=0.9) on lr 0.2: 0.2 · 0.9^t.
    for step in range(30):
        assert exponential(step, 0.2, 0.9, 1) == pytest.approx(0.2 * 0.9**step, rel=1e-13)


def test_end_is_a_floor_for_a_decay() -> None:
    floored = functools.partial(HALVING, end=0.2)
    assert floored(4) == 0.25
    assert floored(5) == 0.2  # 2^-2.5 = 0.177 is below the floor
    assert_holds_after(floored, 5)


def test_end_is_a_ceiling_for_a_growth() -> None:
    doubling = functools.partial(exponential, start=1.0, rate=2.0, steps=1, end=8.0)
    assert [doubling(s) for s in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert_holds_after(doubling, 3)
    assert_monotone(doubling, 0, 50, increasing=True)


def test_a_bound_equal_to_start_is_constant() -> None:
    for rate, steps in ((2.0, 1), (0.5, 3)):
        for step in (0, 1, 5, 10**12):
            assert exponential(step, 1.5, rate, steps, end=1.5) == 1.5
        got = exponential(torch.tensor([0, 1, 10**12]), 1.5, rate, steps, end=1.5)
        assert got.tolist() == [1.5, 1.5, 1.5]


def test_rate_one_is_constant_whatever_end_is() -> None:
    for end in (None, 0.1, 1.0, 5.0):
        for step in (0, 3, 10**12):
            assert exponential(step, 1.0, 1.0, 7, end=end) == 1.0


def test_huge_steps_decay_to_zero_or_the_floor() -> None:
    assert HALVING(10**12) == 0.0
    assert HALVING(10**12, end=0.01) == 0.01
    got = HALVING(torch.tensor([10**12, 2**62], dtype=torch.int64), end=0.01)
    assert torch.equal(got, torch.tensor([0.01, 0.01], dtype=torch.float64))


def test_huge_steps_grow_to_the_ceiling_or_inf_without_overflow_error() -> None:
    assert exponential(10**12, 0.1, 1.5, 2, end=1.0) == 1.0
    assert exponential(10**12, 0.1, 1.5, 2) == math.inf
    steps = torch.tensor([10**12], dtype=torch.int64)
    assert exponential(steps, 0.1, 1.5, 2, end=1.0).item() == 1.0
    assert exponential(steps, 0.1, 1.5, 2).item() == math.inf


def test_long_horizon_value_is_exact() -> None:
    # rate 0.5 per 10**11 steps: at 10**12 it has halved 10 times.
    slow = functools.partial(exponential, start=3.0, rate=0.5, steps=10**11)
    assert slow(10**12) == pytest.approx(3.0 / 1024, rel=1e-14)
    got = slow(torch.tensor([10**12], dtype=torch.int64)).item()
    assert got == pytest.approx(3.0 / 1024, rel=1e-14)


def test_negative_steps_behave_as_step_zero() -> None:
    assert HALVING(-1) == HALVING(-(10**12)) == 1.0
    growth = functools.partial(exponential, start=0.5, rate=3.0, steps=1, begin=2, end=9.0)
    got = growth(torch.tensor([-(10**12), -1, 0], dtype=torch.int64))
    assert torch.equal(got, torch.full((3,), 0.5, dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.01, 1.0),
    steps=st.integers(1, 50),
    begin=st.integers(0, 20),
    staircase=st.booleans(),
    floor=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_a_decay_never_rises(
    rate: float, steps: int, begin: int, staircase: bool, floor: float | None
) -> None:
    schedule = functools.partial(
        exponential,
        start=2.0,
        rate=rate,
        steps=steps,
        begin=begin,
        staircase=staircase,
        end=None if floor is None else 2.0 * floor,
    )
    assert_monotone(schedule, 0, begin + 10 * steps, increasing=False)
    assert 0.0 <= schedule(10**12) <= schedule(0) == 2.0


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 2, 3, 9, 10, 101, 10**6, 10**12]
    for kwargs in ({}, {"staircase": True, "begin": 3}, {"end": 0.001}):
        schedule = functools.partial(HALVING, **kwargs)
        assert_scalar_tensor_agree(schedule, steps, rtol=1e-14, atol=0.0)
        assert_vmappable(schedule, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return exponential(step, 0.05, 2.0, 3, begin=4, staircase=True, end=0.5)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 4, 7, 10, 13, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"start": 1.0, "rate": 0.5, "steps": 10}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"start": 0.0}, r"start must be > 0, got 0"),
        ({"start": -1.0}, r"start must be > 0, got -1"),
        ({"rate": 0.0}, r"rate must be > 0, got 0.0"),
        ({"rate": -0.5}, r"rate must be > 0, got -0.5"),
        ({"steps": 0}, r"steps must be > 0, got 0"),
        ({"steps": -3}, r"steps must be > 0, got -3"),
        ({"begin": -1}, r"begin must be >= 0, got -1"),
        ({"staircase": "yes"}, r"staircase must be a bool, got str: 'yes'"),
        ({"end": math.nan}, r"end must be finite, got nan"),
        ({"end": 2.0}, r"end must be <= start \(1\) when rate < 1, got 2"),
        ({"rate": 2.0, "end": 0.5}, r"end must be >= start \(1\) when rate > 1, got 0.5"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        exponential(1, **{**GOOD, **bad})
