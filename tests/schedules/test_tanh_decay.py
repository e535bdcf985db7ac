"""tanh_decay: ``final + (peak - final) · ½ · (1 - tanh(lower + (upper - lower) · s / steps))``
for ``s < steps``, ``final`` from ``steps`` on (timm TanhLRScheduler, one cycle; anchored in
test_peer_anchors.py)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import tanh_decay
from schedules.testing import (
    assert_bounded,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)


def _formula(
    s: float, peak: float, steps: float, final: float, lower: float, upper: float
) -> float:
    return final + (peak - final) * 0.5 * (1.0 - math.tanh(lower + (upper - lower) * s / steps))


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 1.0 + 1.0 * (1.0 - math.tanh(-3.0))),  # final 1, peak 3: 1 + 2·½(1 - tanh(-3))
        (5, 2.0),  # halfway between lower -3 and upper 3: tanh(0) = 0, the mean of peak, final
        (2.5, 1.0 + (1.0 - math.tanh(-1.5))),
        (9, 1.0 + (1.0 - math.tanh(2.4))),
        (10, 1.0),  # from steps on: final (as timm past its one cycle)
        (10**12, 1.0),
        (-4, 1.0 + (1.0 - math.tanh(-3.0))),  # negative steps act as 0
    ],
)
def test_hand_checked_values(step: float, expected: float) -> None:
    got = tanh_decay(step, peak=3.0, steps=10, final=1.0, lower=-3.0, upper=3.0)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-15)


def test_timm_defaults_lower_minus_seven_upper_three() -> None:
    schedule = functools.partial(tanh_decay, peak=0.5, steps=30)
    for s in (0, 1, 15, 29):
        assert schedule(s) == pytest.approx(_formula(s, 0.5, 30, 0.0, -7.0, 3.0), rel=1e-15)
    # never quite peak at 0, and a small drop to final at steps: ½(1 - tanh(3)) of the range
    assert 0.5 * (1 - 1e-6) < schedule(0) < 0.5
    jump = schedule(29) - schedule(30)
    assert jump == pytest.approx(0.5 * 0.5 * (1 - math.tanh(3.0 - 10.0 / 30)), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(1e-6, 10.0),
    fraction=st.floats(0.0, 1.0),
    steps=st.integers(1, 500),
    lower=st.floats(-10.0, 5.0),
    width=st.floats(0.1, 15.0),
)
def test_decays_within_final_and_peak_and_holds_final(
    peak: float, fraction: float, steps: int, lower: float, width: float
) -> None:
    final = peak * fraction
    schedule = functools.partial(
        tanh_decay, peak=peak, steps=steps, final=final, lower=lower, upper=lower + width
    )
    assert_monotone(schedule, 0, steps + 10, increasing=False)
    assert_bounded(schedule, final, peak, range(0, steps + 10))
    assert_holds_after(schedule, steps)
    assert schedule(steps) == final


def test_scalar_and_tensor_agree_and_vmap() -> None:
    schedule = functools.partial(tanh_decay, peak=0.5, steps=12, final=0.01, lower=-4.0, upper=5.0)
    steps = [0, 1, 5, 6, 11, 12, 13, 10**12]
    assert_scalar_tensor_agree(schedule, steps, rtol=1e-13, atol=1e-15)
    assert_vmappable(schedule, steps)
    got = schedule(torch.tensor([[0, 12], [6, 100]], dtype=torch.float32))
    assert got.dtype == torch.float32 and got.shape == (2, 2)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return tanh_decay(step, 0.5, 12, final=0.01, lower=-4.0, upper=5.0)

    steps = torch.tensor([0, 1, 6, 11, 12, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-15, atol=0)


GOOD = {"peak": 1.0, "steps": 10, "final": 0.0, "lower": -7.0, "upper": 3.0}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"steps": 0}, r"steps must be > 0, got 0"),
        ({"steps": -3}, r"steps must be > 0, got -3"),
        ({"peak": math.nan}, r"peak must be finite, got nan"),
        ({"final": None}, r"final must be a number, got NoneType: None"),
        ({"lower": math.inf}, r"lower must be finite, got inf"),
        ({"upper": "3"}, r"upper must be a number, got str: '3'"),
        ({"lower": 3.0}, r"upper must be > lower \(3\), got 3"),
        ({"lower": 1.0, "upper": -1.0}, r"upper must be > lower \(1\), got -1"),
    ],
)
def test_bad_hyperparameters_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tanh_decay(1, **{**GOOD, **bad})
