"""cyclic: torch CyclicLR's triangular waves, modes triangular, triangular2, exp_range."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import cyclic

# a cycle of 8 steps: 2 up from 0.1 to 0.5, 6 down.
WAVE: dict[str, Any] = {"base": 0.1, "peak": 0.5, "up": 2, "down": 6}
TRIANGULAR = [
    (0, 0.1),
    (1, 0.3),
    (2, 0.5),
    (3, 0.1 + 0.4 * 5 / 6),
    (5, 0.3),
    (7, 0.1 + 0.4 / 6),
    (8, 0.1),
    (10, 0.5),
    (13, 0.3),
    (16, 0.1),
]
TRIANGULAR2 = [
    (0, 0.1),
    (2, 0.5),
    (5, 0.3),
    (8, 0.1),
    (10, 0.3),
    (13, 0.2),
    (18, 0.2),
    (26, 0.1 + 0.4 / 8),
]
EXP_RANGE = [
    (0, 0.1),
    (1, 0.1 + 0.4 * 0.5 * 0.5),
    (2, 0.1 + 0.4 * 0.25),
    (5, 0.1 + 0.4 * 0.5 / 32),
    (10, 0.1 + 0.4 / 1024),
]


@pytest.mark.parametrize(
    ("mode", "gamma", "expected"),
    [
        ("triangular", 1.0, TRIANGULAR),
        ("triangular2", 1.0, TRIANGULAR2),
        ("exp_range", 0.5, EXP_RANGE),
    ],
)
def test_hand_checked_values(mode: str, gamma: float, expected: list[tuple[int, float]]) -> None:
    for step, value in expected:
        got = cyclic(step, **WAVE, mode=mode, gamma=gamma)
        assert got == pytest.approx(value, rel=1e-12, abs=0.0), (mode, step)


def test_down_defaults_to_up() -> None:
    for step in range(13):
        assert cyclic(step, 0.0, 1.0, up=3) == cyclic(step, 0.0, 1.0, up=3, down=3)
    assert cyclic(4, 0.0, 1.0, up=3) == pytest.approx(2 / 3, rel=1e-12)


def test_peak_below_base_inverts_the_wave() -> None:
    assert [cyclic(s, 1.0, 0.0, up=2) for s in range(5)] == pytest.approx([1.0, 0.5, 0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("mode", "gamma", "offsets"),
    [
        ("triangular", 1.0, {0: 0.1, 2: 0.5, 5: 0.3}),  # still exactly periodic at 10^12
        ("triangular2", 1.0, {0: 0.1, 2: 0.1, 5: 0.1}),  # amplitude 2^-(1.25e11) = 0
        ("exp_range", 0.9, {0: 0.1, 2: 0.1, 5: 0.1}),  # amplitude 0.9^(10^12) = 0
    ],
)
def test_huge_steps(mode: str, gamma: float, offsets: dict[int, float]) -> None:
    schedule: Any = functools.partial(cyclic, **WAVE, mode=mode, gamma=gamma)
    steps = [10**12 + k for k in offsets]
    expected = list(offsets.values())
    assert [schedule(s) for s in steps] == pytest.approx(expected, rel=1e-12, abs=0.0)
    got = schedule(torch.tensor(steps, dtype=torch.int64))
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("mode", "gamma"), [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.97)]
)
def test_tensor_steps_agree_with_python_steps(mode: str, gamma: float) -> None:
    schedule: Any = functools.partial(cyclic, **WAVE, mode=mode, gamma=gamma)
    steps = [*range(40), 12345, 10**9 + 3, 10**12 + 1]
    expected = torch.tensor([schedule(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = schedule(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-15)


def test_negative_steps_behave_as_step_zero() -> None:
    assert cyclic(-1, **WAVE) == cyclic(-(10**12), **WAVE) == 0.1
    got = cyclic(torch.tensor([-5, -1]), **WAVE, mode="exp_range", gamma=0.5)
    torch.testing.assert_close(got, torch.full((2,), 0.1, dtype=torch.float64), rtol=0, atol=0)


def test_vmap() -> None:
    schedule: Any = functools.partial(cyclic, **WAVE, mode="triangular2")
    steps = torch.arange(0, 40, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(schedule)(steps), schedule(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return cyclic(step, **WAVE, mode="exp_range", gamma=0.9)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph.
    steps = torch.tensor([0, 1, 2, 5, 9, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-14, atol=0)


@settings(max_examples=60, deadline=None)
@given(
    base=st.floats(0.0, 1.0),
    peak=st.floats(0.0, 1.0),
    up=st.integers(1, 20),
    down=st.integers(1, 20),
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
    gamma=st.floats(0.5, 1.0),
)
def test_stays_between_base_and_peak_and_repeats(
    base: float, peak: float, up: int, down: int, mode: str, gamma: float
) -> None:
    schedule = functools.partial(
        cyclic, base=base, peak=peak, up=up, down=down, mode=mode, gamma=gamma
    )
    period = up + down
    values = [schedule(s) for s in range(3 * period + 1)]
    # torch's formula computes the in-cycle position as 1 + s/T - cycle, which rounds by a few
    # ulps of 1: with peak or base at 0, the top or bottom is then ~1e-15 off, not 0
    tol = 1e-13 * max(1.0, abs(base), abs(peak))
    low, high = min(base, peak), max(base, peak)
    assert all(low - tol <= v <= high + tol for v in values)
    for k in range(3):  # each cycle starts at base and reaches its scaled top after `up`
        assert values[k * period] == pytest.approx(base, rel=1e-12, abs=tol)
        amplitude = {
            "triangular": 1.0,
            "triangular2": 0.5**k,
            "exp_range": gamma ** (k * period + up),
        }
        top = base + (peak - base) * amplitude[mode]
        assert values[k * period + up] == pytest.approx(top, rel=1e-12, abs=tol)
    if mode == "triangular":
        assert values[period : 2 * period] == pytest.approx(values[:period], rel=1e-12, abs=tol)
        assert values[up] == pytest.approx(peak, rel=1e-12, abs=tol)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"up": 0}, r"up must be > 0, got 0"),
        ({"up": -2}, r"up must be > 0, got -2"),
        ({"down": 0}, r"down must be > 0, got 0"),
        ({"down": -1.5}, r"down must be > 0, got -1.5"),
        (
            {"mode": "triangle"},
            r"mode must be one of 'triangular', 'triangular2', 'exp_range', got 'triangle'",
        ),
        ({"gamma": 0.0}, r"gamma must lie in \(0, 1\], got 0"),
        ({"gamma": 1.5}, r"gamma must lie in \(0, 1\], got 1.5"),
        ({"base": math.nan}, r"base must be finite, got nan"),
        ({"peak": "high"}, r"peak must be a number, got str"),
        ({"gamma": "0.9"}, r"gamma must be a number, got str: '0.9'"),
        ({"up": True}, r"up must be a number, got bool: True"),
        ({"down": "3"}, r"down must be a number, got str: '3'"),
    ],
)
def test_bad_hyperparameters_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cyclic(1, **{**WAVE, **kwargs})
