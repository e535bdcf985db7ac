"""cosine: final + (peak - final) · (½ · (1 + cos(π · min(s, steps) / steps))) ** exponent."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import cosine
from schedules.testing import (
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

ROOT_HALF = math.sqrt(0.5)  # cos(π/4)
# peak 2 -> final 0 over 4 steps: 1 + cos(π·s/4).
FOUR = functools.partial(cosine, peak=2.0, steps=4)
HAND_CHECKED = [
    (0, 2.0),
    (1, 1 + ROOT_HALF),
    (2, 1.0),
    (3, 1 - ROOT_HALF),
    (4, 0.0),
    (5, 0.0),
    (10**12, 0.0),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert FOUR(step) == pytest.approx(expected, rel=1e-15, abs=1e-16)


def test_final_and_exponent() -> None:
    # final 0.5, exponent 2: 0.5 + 1.5 · (½(1 + cos(π·s/4)))².
    schedule = functools.partial(cosine, peak=2.0, steps=4, final=0.5, exponent=2.0)
    assert schedule(0) == 2.0
    assert schedule(1) == pytest.approx(0.5 + 1.5 * ((1 + ROOT_HALF) / 2) ** 2, rel=1e-15)
    assert schedule(2) == pytest.approx(0.5 + 1.5 * 0.25, rel=1e-15)
    assert schedule(4) == schedule(10**12) == 0.5


def test_torch_cosine_annealing_lr_within_t_max() -> None:
    # CosineAnnealingLR(T_max=10, eta_min=0.01) on lr 0.1, closed form, t <= T_max.
    for step in range(11):
        expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * step / 10)) / 2
        assert cosine(step, 0.1, 10, final=0.01) == pytest.approx(expected, rel=1e-14)


def test_halfway_is_the_mean_of_peak_and_final() -> None:
    assert cosine(50, 3.0, 100, final=1.0) == pytest.approx(2.0, rel=1e-15)


def test_holds_final_past_steps_where_torch_would_rise_again() -> None:
    schedule = functools.partial(cosine, peak=1.0, steps=10, final=0.1, exponent=1.5)
    assert_holds_after(schedule, 10)
    assert schedule(15) == 0.1  # torch CosineAnnealingLR would be back at 0.55 here


def test_huge_steps_python_and_int64_tensor() -> None:
    long = functools.partial(cosine, peak=2.0, steps=10**12, final=0.0)
    assert long(5 * 10**11) == pytest.approx(1.0, rel=1e-14)
    got = long(torch.tensor([0, 5 * 10**11, 10**12, 2**62], dtype=torch.int64))
    torch.testing.assert_close(
        got, torch.tensor([2.0, 1.0, 0.0, 0.0], dtype=torch.float64), rtol=1e-14, atol=1e-16
    )
    assert FOUR(torch.tensor([10**12], dtype=torch.int64)).item() == 0.0


def test_negative_steps_behave_as_step_zero() -> None:
    assert FOUR(-1) == FOUR(-(10**12)) == 2.0
    assert FOUR(torch.tensor([-(10**12), -1, 0])).tolist() == [2.0, 2.0, 2.0]


@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(1e-6, 10.0),
    fraction=st.floats(0.0, 1.0),
    steps=st.integers(1, 400),
    exponent=st.floats(0.25, 4.0),
)
def test_never_rises_and_stays_within_final_and_peak(
    peak: float, fraction: float, steps: int, exponent: float
) -> None:
    final = peak * fraction
    schedule = functools.partial(cosine, peak=peak, steps=steps, final=final, exponent=exponent)
    assert_monotone(schedule, 0, steps + 10, increasing=False)
    for step in (0, 1, steps // 3, steps - 1, steps, 10**12):
        assert final <= schedule(step) <= peak


def test_scalar_and_tensor_agree_and_vmap() -> None:
    steps = [0, 1, 2, 3, 4, 5, 10**12]
    schedule = functools.partial(cosine, peak=4.0, steps=7, final=0.4, exponent=1.5)
    assert_scalar_tensor_agree(schedule, steps, rtol=1e-13, atol=1e-15)
    assert_vmappable(schedule, steps)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return cosine(step, 4.0, 7, final=0.4, exponent=1.5)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 1, 3, 7, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"peak": 1.0, "steps": 10, "final": 0.0, "exponent": 1.0}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"steps": 0}, r"steps must be > 0, got 0"),
        ({"steps": -10}, r"steps must be > 0, got -10"),
        ({"exponent": 0.0}, r"exponent must be > 0, got 0.0"),
        ({"exponent": -1.0}, r"exponent must be > 0, got -1.0"),
        ({"peak": math.nan}, r"peak must be finite, got nan"),
        ({"final": None}, r"final must be a number, got NoneType: None"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cosine(1, **{**GOOD, **bad})
