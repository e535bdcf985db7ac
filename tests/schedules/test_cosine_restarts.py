"""cosine_restarts (SGDR): cycle i lasts period · mult**i, restarts at peak · decay**i and
anneals towards final: final + (peak · decay**i - final) · ½(1 + cos(π · t_i / T_i))."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import cosine_restarts
from schedules.testing import assert_monotone, assert_scalar_tensor_agree, assert_vmappable

ROOT_HALF = math.sqrt(0.5)  # cos(π/4)
HUGE = 10**12


def exact_cycle(step: int, period: int, mult: int) -> tuple[int, int, int]:
    """Cycle index, position in it and its length, by integer arithmetic only."""
    if mult == 1:
        index, position = divmod(step, period)
        return index, position, period
    index, start, length = 0, 0, period
    while step >= start + length:
        index, start, length = index + 1, start + length, length * mult
    return index, step - start, length


def reference(step: int, peak: float, period: int, mult: int, final: float, decay: float) -> float:
    index, position, length = exact_cycle(max(step, 0), period, mult)
    factor = 0.5 * (1 + math.cos(math.pi * position / length))
    return final + (peak * decay**index - final) * factor


def cycle_starts(period: int, mult: int, stop: int) -> list[int]:
    starts, start, length = [], 0, period
    while start <= stop:
        starts.append(start)
        start, length = start + length, length * mult
    return starts


# Period 4, no growth: 1, ½(1 + cos(π/4)), ½, ½(1 - cos(π/4)), then again.
FOUR = functools.partial(cosine_restarts, peak=1.0, period=4)
HAND_CHECKED = [
    (0, 1.0),
    (1, (1 + ROOT_HALF) / 2),
    (2, 0.5),
    (3, (1 - ROOT_HALF) / 2),
    (4, 1.0),
    (6, 0.5),
    (8, 1.0),
    (HUGE + 2, 0.5),  # 10**12 is a multiple of 4
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert FOUR(step) == pytest.approx(expected, rel=1e-15, abs=0.0)


def test_growing_cycles_with_decaying_peaks() -> None:
    # period 2, mult 2, decay ½, final 0: cycles [0, 2), [2, 6), [6, 14) peaking at 1, ½, ¼.
    schedule = functools.partial(cosine_restarts, peak=1.0, period=2, mult=2.0, decay=0.5)
    assert [schedule(s) for s in (0, 1, 2, 4, 6, 10, 14)] == pytest.approx(
        [1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125], rel=1e-15
    )


def test_final_is_the_floor_each_cycle_anneals_to() -> None:
    # final 0.1, decay 0.5: cycle 1 goes from 0.5 towards 0.1, halfway at 0.3.
    schedule = functools.partial(cosine_restarts, peak=1.0, period=4, final=0.1, decay=0.5)
    assert schedule(4) == 0.5
    assert schedule(6) == pytest.approx(0.3, rel=1e-15)
    assert schedule(7) == pytest.approx(0.1 + 0.4 * (1 - ROOT_HALF) / 2, rel=1e-15)


@pytest.mark.parametrize(("period", "mult"), [(4, 3), (2, 3), (1, 10), (3, 2), (1, 2), (7, 1)])
def test_every_cycle_start_is_exact_up_to_huge_steps(period: int, mult: int) -> None:
    # A floating-point log puts some of these in the previous cycle (log(243)/log(3) < 5,
    # which timm's CosineLRScheduler gets wrong at step 484 for period 4, mult 3).
    schedule = functools.partial(
        cosine_restarts, peak=2.0, period=period, mult=float(mult), final=0.5
    )
    if mult == 1:
        starts = [period * k for k in range(1, 50)]
        starts += [HUGE - HUGE % period + period * k for k in range(5)]
    else:
        starts = cycle_starts(period, mult, 2**52)[1:]
    # The step before a restart ends a cycle of >= 2 steps: at most halfway down to final.
    before = [s - 1 for s, prev in zip(starts, [0, *starts], strict=False) if s - prev >= 2]
    assert all(schedule(s) == 2.0 for s in starts)
    assert all(schedule(s) <= 1.25 for s in before)
    for dtype in (torch.int64, torch.float64):
        at = schedule(torch.tensor(starts, dtype=dtype))
        assert torch.equal(at, torch.full_like(at, 2.0))
        just_before = schedule(torch.tensor(before, dtype=dtype))
        assert bool((just_before <= 1.25).all())


@settings(max_examples=60, deadline=None)
@given(
    step=st.one_of(st.integers(0, 200), st.integers(0, HUGE)),
    period=st.integers(1, 50),
    mult=st.sampled_from([1, 2, 3]),
    final=st.floats(0.0, 0.5),
    decay=st.floats(0.5, 1.0),
)
def test_matches_integer_cycle_arithmetic(
    step: int, period: int, mult: int, final: float, decay: float
) -> None:
    expected = reference(step, 1.0, period, mult, final, decay)
    schedule = functools.partial(
        cosine_restarts, peak=1.0, period=period, mult=float(mult), final=final, decay=decay
    )
    assert schedule(step) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    got = schedule(torch.tensor([step], dtype=torch.int64)).item()
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_non_integer_mult_cycle_starts() -> None:
    # period 4, mult 1.5: cycles start at 0, 4, 10, 19, 32.5, 52.75.
    schedule = functools.partial(cosine_restarts, peak=1.0, period=4, mult=1.5)
    for start, length in ((4, 6), (10, 9), (19, 13.5), (32.5, 20.25), (52.75, 30.375)):
        assert schedule(start) == 1.0
        assert schedule(start + length / 2) == pytest.approx(0.5, rel=1e-12)


def test_anneals_within_each_cycle_and_rises_only_at_restarts() -> None:
    schedule = functools.partial(
        cosine_restarts, peak=1.0, period=3, mult=2.0, final=0.1, decay=0.8
    )
    starts = cycle_starts(3, 2, 400)
    for start, end in itertools.pairwise(starts):
        assert_monotone(schedule, start, end - 1, increasing=False, strict=True)
        assert schedule(end) > schedule(end - 1)


def test_huge_steps_with_decay_finite_and_as_timm_below_final() -> None:
    # Cycle 2·10**11 peaks at 0.5**(2·10**11), which underflows to 0; as in timm (lr_min is
    # absolute), a cycle whose peak is below final runs from its peak up to final.
    schedule = functools.partial(cosine_restarts, peak=1.0, period=5, final=0.2, decay=0.5)
    expected = [0.0, 0.2 * (1 - (1 + math.cos(math.pi * 4 / 5)) / 2)]
    assert [schedule(HUGE), schedule(HUGE + 4)] == pytest.approx(expected, rel=1e-12)
    got = schedule(torch.tensor([HUGE, HUGE + 4], dtype=torch.int64))
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=0)


def test_negative_steps_behave_as_step_zero() -> None:
    schedule = functools.partial(cosine_restarts, peak=1.0, period=4, mult=3.0, final=0.1)
    assert schedule(-1) == schedule(-(10**12)) == 1.0
    assert schedule(torch.tensor([-HUGE, -1, 0])).tolist() == [1.0, 1.0, 1.0]


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 3, 4, 5, 15, 16, 51, 52, 483, 484, 485, 10**6, HUGE]
    for mult in (1.0, 3.0, 1.5):
        schedule = functools.partial(
            cosine_restarts, peak=1.0, period=4, mult=mult, final=0.05, decay=0.9
        )
        assert_scalar_tensor_agree(schedule, steps, rtol=1e-9, atol=1e-12)
        assert_vmappable(schedule, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return cosine_restarts(step, 1.0, 4, mult=3.0, final=0.05, decay=0.9)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 3, 4, 16, 52, 484, HUGE], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"peak": 1.0, "period": 10, "mult": 1.0, "final": 0.0, "decay": 1.0}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"period": 0}, r"period must be > 0, got 0"),
        ({"period": -4}, r"period must be > 0, got -4"),
        ({"mult": 0.5}, r"mult must be >= 1, got 0.5"),
        ({"mult": math.nan}, r"mult must be finite, got nan"),
        ({"decay": 0.0}, r"decay must be > 0, got 0.0"),
        ({"decay": 1.5}, r"decay must lie in \(0, 1\], got 1.5"),
        ({"peak": None}, r"peak must be a number, got NoneType: None"),
        ({"final": math.inf}, r"final must be finite, got inf"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cosine_restarts(1, **{**GOOD, **bad})
