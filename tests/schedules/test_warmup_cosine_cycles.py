"""``warmup_cosine(..., cycles=c)``: after the warmup, ``final + (peak - final) ·
(½ · (1 + cos(2π · c · d))) ** exponent`` with ``d`` the decay fraction in [0, 1]
(transformers ``get_cosine_schedule_with_warmup(num_cycles=c)``; anchored in
test_peer_anchors.py)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import warmup_cosine
from schedules.testing import (
    assert_bounded,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

KW: dict[str, Any] = {"peak": 2.0, "warmup": 2, "steps": 10, "final": 0.0}


@pytest.mark.parametrize(
    ("cycles", "step", "expected"),
    [
        (1.0, 2, 2.0),
        (1.0, 4, 1.0),  # d = 1/4: cos(π/2) = 0
        (1.0, 6, 0.0),  # d = ½: one whole cycle has its trough halfway
        (1.0, 10, 2.0),  # back at peak at the end
        (1.0, 50, 2.0),  # and holds the value at steps
        (0.25, 10, 1.0),  # a quarter cycle ends halfway down
        (1.5, 10, 0.0),
        (1.5, 8, 1.0 + math.cos(2 * math.pi * 1.5 * 0.75)),
        (0.5, 1, 1.0),  # the warmup is unchanged
    ],
)
def test_hand_checked_values(cycles: float, step: int, expected: float) -> None:
    got = warmup_cosine(step, **KW, cycles=cycles)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_half_a_cycle_is_the_default_bit_for_bit() -> None:
    plain = functools.partial(warmup_cosine, peak=0.3, warmup=5, steps=30, final=0.01, exponent=2.0)
    steps = [0, 1, 4, 5, 6, 17, 29, 30, 31, 10**12]
    assert [plain(s, cycles=0.5) for s in steps] == [plain(s) for s in steps]
    t = torch.tensor(steps)
    assert torch.equal(plain(t, cycles=0.5), plain(t))


@settings(max_examples=40, deadline=None)
@given(
    cycles=st.floats(0.05, 4.0),
    warmup=st.integers(0, 50),
    decay=st.integers(1, 300),
    fraction=st.floats(0.0, 1.0),
)
def test_within_final_and_peak_and_holds_its_value_at_steps(
    cycles: float, warmup: int, decay: int, fraction: float
) -> None:
    steps = warmup + decay
    schedule = functools.partial(
        warmup_cosine, peak=1.0, warmup=warmup, steps=steps, final=fraction, cycles=cycles
    )
    assert_bounded(schedule, 0.0, 1.0, range(0, steps + 5))
    assert_bounded(schedule, fraction, 1.0, range(warmup, steps + 5))
    assert_holds_after(schedule, steps)
    # the first half-cycle falls: up to d = 1 / (2 · cycles)
    assert_monotone(schedule, warmup, warmup + min(1.0, 0.5 / cycles) * decay, increasing=False)


def test_scalar_and_tensor_agree_vmap_and_compile() -> None:
    schedule = functools.partial(
        warmup_cosine, peak=0.3, warmup=8, steps=40, final=0.03, cycles=1.5
    )
    steps = [0, 3, 8, 9, 20, 39, 40, 41, 10**12]
    assert_scalar_tensor_agree(schedule, steps, rtol=1e-12)
    assert_vmappable(schedule, steps)

    def compiled_schedule(step: torch.Tensor) -> torch.Tensor:
        return warmup_cosine(step, 0.3, 8, 40, final=0.03, cycles=1.5)

    t = torch.tensor(steps)
    compiled = torch.compile(compiled_schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(t), compiled_schedule(t), rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (0.0, r"cycles must be > 0, got 0.0"),
        (-0.5, r"cycles must be > 0, got -0.5"),
        (math.inf, r"cycles must be finite, got inf"),
        (None, r"cycles must be a number, got NoneType: None"),
    ],
)
def test_bad_cycles_raise(bad: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        warmup_cosine(1, **KW, cycles=bad)
