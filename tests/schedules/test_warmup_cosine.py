"""warmup_cosine: linear start -> peak over warmup, then cosine to final at steps (total)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import cosine, warmup_cosine
from schedules.testing import (
    assert_continuous,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

ROOT_HALF = math.sqrt(0.5)  # cos(π/4)
# 0 -> 1 over 2 steps, then ½(1 + cos(π·(s-2)/4)) down to 0 at step 6.
SMALL = functools.partial(warmup_cosine, peak=1.0, warmup=2, steps=6)
HAND_CHECKED = [
    (0, 0.0),
    (1, 0.5),
    (1.5, 0.75),
    (2, 1.0),
    (3, (1 + ROOT_HALF) / 2),
    (4, 0.5),
    (5, (1 - ROOT_HALF) / 2),
    (6, 0.0),
    (7, 0.0),
    (10**12, 0.0),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: float, expected: float) -> None:
    assert SMALL(step) == pytest.approx(expected, rel=1e-15, abs=1e-16)


def test_start_final_and_exponent() -> None:
    schedule = functools.partial(
        warmup_cosine, peak=2.0, warmup=4, steps=8, start=0.4, final=0.2, exponent=2.0
    )
    assert schedule(0) == 0.4
    assert schedule(1) == pytest.approx(0.8, rel=1e-15)
    assert schedule(4) == 2.0
    assert schedule(6) == pytest.approx(0.2 + 1.8 * 0.25, rel=1e-15)
    assert schedule(8) == schedule(10**12) == 0.2


def test_transformers_get_cosine_schedule_with_warmup_scaled_by_lr() -> None:
    # lr · (s / warmup) during warmup, then lr · ½(1 + cos(π · progress)), progress <= 1.
    lr, warmup, total = 3e-4, 10, 50
    for step in range(total + 1):
        if step < warmup:
            expected = lr * step / warmup
        else:
            progress = (step - warmup) / (total - warmup)
            expected = lr * 0.5 * (1 + math.cos(math.pi * progress))
        assert warmup_cosine(step, lr, warmup, total) == pytest.approx(expected, abs=1e-18)


def test_after_warmup_it_is_a_shifted_cosine() -> None:
    for step in range(5, 40):
        got = warmup_cosine(step, 2.0, 5, 30, start=0.1, final=0.3, exponent=0.7)
        expected = cosine(step - 5, 2.0, 25, final=0.3, exponent=0.7)
        assert got == pytest.approx(expected, rel=1e-14)


def test_zero_warmup_is_cosine() -> None:
    for step in (0, 1, 5, 10, 11, 10**12):
        assert warmup_cosine(step, 1.5, 0, 10, final=0.1) == cosine(step, 1.5, 10, final=0.1)


def test_fractional_warmup() -> None:
    schedule = functools.partial(warmup_cosine, peak=1.0, warmup=2.5, steps=10)
    assert schedule(2) == pytest.approx(0.8, rel=1e-15)
    assert schedule(2.5) == 1.0
    assert schedule(3) < 1.0


def test_peak_at_warmup_continuous_and_holds_final() -> None:
    schedule = functools.partial(warmup_cosine, peak=1.0, warmup=100, steps=1000, final=0.01)
    assert schedule(100) == 1.0
    assert_continuous(schedule, [100])
    assert_holds_after(schedule, 1000)


def test_huge_steps_python_and_int64_tensor() -> None:
    long = functools.partial(warmup_cosine, peak=2.0, warmup=10**11, steps=10**12 + 1)
    assert long(5 * 10**10) == pytest.approx(1.0, rel=1e-15)
    steps = torch.tensor([5 * 10**10, 10**11, 10**12 + 1, 2**62], dtype=torch.int64)
    torch.testing.assert_close(
        long(steps),
        torch.tensor([1.0, 2.0, 0.0, 0.0], dtype=torch.float64),
        rtol=1e-14,
        atol=1e-16,
    )
    assert SMALL(torch.tensor([10**12], dtype=torch.int64)).item() == 0.0


def test_negative_steps_behave_as_step_zero() -> None:
    schedule = functools.partial(SMALL, start=0.25)
    assert schedule(-1) == schedule(-(10**12)) == 0.25
    assert schedule(torch.tensor([-(10**12), -1, 0])).tolist() == [0.25, 0.25, 0.25]


@settings(max_examples=40, deadline=None)
@given(
    warmup=st.integers(1, 100),
    decay=st.integers(1, 300),
    start_fraction=st.floats(0.0, 0.99),
    final_fraction=st.floats(0.0, 1.0),
    exponent=st.floats(0.25, 4.0),
)
def test_warmup_rises_strictly_then_never_rises(
    warmup: int, decay: int, start_fraction: float, final_fraction: float, exponent: float
) -> None:
    schedule = functools.partial(
        warmup_cosine,
        peak=1.0,
        warmup=warmup,
        steps=warmup + decay,
        start=start_fraction,
        final=final_fraction,
        exponent=exponent,
    )
    assert_monotone(schedule, 0, warmup, increasing=True, strict=True)
    assert_monotone(schedule, warmup, warmup + decay + 10, increasing=False)
    assert schedule(warmup) == 1.0
    assert schedule(10**12) == pytest.approx(final_fraction, rel=1e-15)


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 2, 3, 4, 5, 6, 7, 10**12]
    schedule = functools.partial(SMALL, start=0.1, final=0.05, exponent=1.5)
    assert_scalar_tensor_agree(schedule, steps, rtol=1e-13, atol=1e-15)
    assert_vmappable(schedule, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return warmup_cosine(step, 1.0, 2, 6, start=0.1, final=0.05, exponent=1.5)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 1, 2, 3, 6, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"peak": 1.0, "warmup": 10, "steps": 100}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"warmup": -1}, r"warmup must be >= 0, got -1"),
        ({"steps": 0, "warmup": 0}, r"steps must be > 0, got 0"),
        ({"steps": 10}, r"steps must be > warmup \(10\): steps is the total length"),
        ({"steps": 5}, r"steps must be > warmup \(10\).*got 5"),
        ({"exponent": 0.0}, r"exponent must be > 0, got 0.0"),
        ({"peak": math.nan}, r"peak must be finite, got nan"),
        ({"start": None}, r"start must be a number, got NoneType: None"),
        ({"final": math.inf}, r"final must be finite, got inf"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        warmup_cosine(1, **{**GOOD, **bad})


def test_the_one_buffer_tensor_path_is_exact_at_its_joints() -> None:
    """start = final = 0 (the common case) runs on one buffer: min(t, (w/2)(1 + cos)) / w ·
    peak. It is exactly the ramp during the warm-up, exactly peak at the warm-up's end and
    exactly 0 from the end on; elsewhere it agrees with the Python-number formula."""
    schedule = functools.partial(warmup_cosine, peak=0.3, warmup=8, steps=40)
    steps = torch.tensor([-(10**12), -1, 0, 1, 5, 7, 8, 9, 20, 39, 40, 41, 10**12])
    got = schedule(steps)
    assert got[:3].tolist() == [0.0, 0.0, 0.0]
    assert got[3:6].tolist() == [s / 8 * 0.3 for s in (1, 5, 7)]
    assert got[6].item() == 0.3 and got[10:].tolist() == [0.0, 0.0, 0.0]
    expected = torch.tensor([schedule(int(s)) for s in steps], dtype=torch.float64)
    torch.testing.assert_close(got, expected, rtol=1e-15, atol=1e-16)
    float32 = schedule(steps.to(torch.float32))
    assert float32.dtype == torch.float32 and float32[6].item() == torch.tensor(0.3).item()
    torch.testing.assert_close(float32.double(), expected, rtol=1e-6, atol=1e-7)
    assert math.isnan(schedule(torch.tensor([math.nan]))[0])
