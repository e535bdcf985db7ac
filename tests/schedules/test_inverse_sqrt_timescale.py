"""``inverse_sqrt(s, peak, warmup, timescale=τ)``: ``peak · s / warmup`` during the warmup, then
``peak / √((s + τ - warmup) / τ)`` (transformers ``get_inverse_sqrt_schedule(timescale=τ)``;
``None`` is ``τ = warmup``; anchored in test_peer_anchors.py)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import inverse_sqrt
from schedules.testing import (
    assert_bounded,
    assert_continuous,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 0.0),
        (5, 0.5),
        (10, 1.0),
        (14, 1.0 / math.sqrt(2.0)),  # τ = 4: (14 + 4 - 10) / 4 = 2
        (42, 1.0 / 3.0),  # (42 + 4 - 10) / 4 = 9
    ],
)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert inverse_sqrt(step, peak=1.0, warmup=10, timescale=4) == pytest.approx(
        expected, rel=1e-15
    )


def test_none_and_warmup_are_today_s_formula_bit_for_bit() -> None:
    steps = [0, 1, 9, 10, 11, 100, 10**12]
    plain = [inverse_sqrt(s, 0.01, 10) for s in steps]
    assert [inverse_sqrt(s, 0.01, 10, timescale=None) for s in steps] == plain
    assert [inverse_sqrt(s, 0.01, 10, timescale=10) for s in steps] == pytest.approx(
        plain, rel=1e-15
    )
    t = torch.tensor(steps)
    assert torch.equal(inverse_sqrt(t, 0.01, 10, timescale=None), inverse_sqrt(t, 0.01, 10))


@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(1e-6, 10.0),
    warmup=st.integers(1, 1000),
    timescale=st.floats(0.5, 10**5),
    step=st.integers(0, 10**7),
)
def test_rises_to_peak_then_decays_slower_for_a_larger_timescale(
    peak: float, warmup: int, timescale: float, step: int
) -> None:
    schedule = functools.partial(inverse_sqrt, peak=peak, warmup=warmup, timescale=timescale)
    assert_monotone(schedule, 0, warmup, increasing=True, strict=True)
    assert_monotone(schedule, warmup, warmup + 5000, increasing=False)
    assert_continuous(schedule, [warmup])
    assert_bounded(schedule, 0.0, peak, [0, warmup, step, 10**12])
    if step > warmup:
        slower = inverse_sqrt(step, peak=peak, warmup=warmup, timescale=2 * timescale)
        assert slower >= schedule(step)


def test_scalar_and_tensor_agree_vmap_and_compile() -> None:
    schedule = functools.partial(inverse_sqrt, peak=0.01, warmup=10, timescale=25)
    steps = [0, 1, 9, 10, 11, 60, 1000, 10**12]
    assert_scalar_tensor_agree(schedule, steps, rtol=1e-13)
    assert_vmappable(schedule, steps)

    def compiled_schedule(step: torch.Tensor) -> torch.Tensor:
        return inverse_sqrt(step, 0.01, 10, timescale=25)

    t = torch.tensor(steps)
    compiled = torch.compile(compiled_schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(t), compiled_schedule(t), rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (0, r"timescale must be > 0, got 0"),
        (-4.0, r"timescale must be > 0, got -4.0"),
        (math.nan, r"timescale must be finite, got nan"),
        ("4", r"timescale must be a number, got str: '4'"),
    ],
)
def test_bad_timescale_raises(bad: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        inverse_sqrt(1, peak=1.0, warmup=10, timescale=bad)
