"""inverse_sqrt: peak · min(s / warmup, √(warmup / s)), 0 at s = 0."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import inverse_sqrt, noam

SMALL = functools.partial(inverse_sqrt, peak=3.0, warmup=4)
HAND_CHECKED = [
    (0, 0.0),
    (1, 0.75),
    (2, 1.5),
    (3, 2.25),
    (4, 3.0),
    (16, 1.5),  # 3 · √(4/16)
    (100, 0.6),  # 3 · √(4/100)
    (10**12, 6e-6),  # 3 · √(4e-12)
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert SMALL(step) == pytest.approx(expected, rel=1e-12, abs=0.0)


def test_is_noam_rescaled_to_its_peak() -> None:
    # noam peaks at scale·(d_model·warmup)^-½; inverse_sqrt is the same curve scaled to peak.
    for step in (0, 1, 7, 100, 101, 5000, 10**12):
        rescaled = noam(step, d_model=64, warmup=100) * math.sqrt(64 * 100) * 2.5
        assert inverse_sqrt(step, peak=2.5, warmup=100) == pytest.approx(rescaled, rel=1e-12)


def test_fractional_steps_interpolate_the_warmup() -> None:
    assert SMALL(0.5) == pytest.approx(0.375, rel=1e-12)
    assert SMALL(torch.tensor([0.5], dtype=torch.float64)).item() == pytest.approx(0.375)


def test_tensor_steps_agree_with_python_steps() -> None:
    steps = [0, 1, 2, 3, 4, 5, 17, 4000, 123457, 10**9, 10**12]
    expected = torch.tensor([SMALL(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = SMALL(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=0.0)


def test_huge_int64_tensor_steps_are_finite_and_correct() -> None:
    got = SMALL(torch.tensor([10**12, 4 * 10**12], dtype=torch.int64))
    torch.testing.assert_close(
        got, torch.tensor([6e-6, 3e-6], dtype=torch.float64), rtol=1e-12, atol=0
    )


def test_negative_steps_behave_as_step_zero() -> None:
    assert SMALL(-1) == SMALL(-(10**12)) == 0.0
    assert torch.equal(SMALL(torch.tensor([-7, 0])), torch.zeros(2, dtype=torch.float64))


def test_vmap() -> None:
    steps = torch.arange(0, 50, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(SMALL)(steps), SMALL(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    steps = torch.tensor([0, 1, 4, 5, 10**12], dtype=torch.int64)

    def schedule(step: torch.Tensor) -> torch.Tensor:
        return SMALL(step)

    # A function of its own (not the partial): dynamo compiles every partial through one
    # shared wrapper, and recompiling it with other float hyperparameters traces them as
    # symbolic floats, which the hyperparameter checks cannot take under fullgraph.
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), SMALL(steps), rtol=1e-14, atol=0)


@settings(max_examples=50, deadline=None)
@given(peak=st.floats(1e-6, 10.0), warmup=st.integers(1, 10**6))
def test_peak_is_reached_exactly_at_warmup(peak: float, warmup: int) -> None:
    schedule = functools.partial(inverse_sqrt, peak=peak, warmup=warmup)
    assert schedule(warmup) == pytest.approx(peak, rel=1e-12)
    assert schedule(warmup - 1) < schedule(warmup)
    assert schedule(warmup + 1) < schedule(warmup)
    assert 0.0 < schedule(10**12) < schedule(warmup + 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"peak": 1.0, "warmup": 0}, r"warmup must be > 0, got 0"),
        ({"peak": 1.0, "warmup": -4}, r"warmup must be > 0, got -4"),
        ({"peak": math.nan, "warmup": 4}, r"peak must be finite, got nan"),
        ({"peak": None, "warmup": 4}, r"peak must be a number, got NoneType"),
    ],
)
def test_bad_hyperparameters_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        inverse_sqrt(1, **kwargs)
