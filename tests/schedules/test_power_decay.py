"""``power_decay(s, peak, scale, exponent, begin, order)``: ``peak · (1 + (t / scale) ** order)
** -exponent`` with ``t = max(s - begin, 0)`` (the anchors: ``vectors/shapes.json``)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import bind, inverse_sqrt, power_decay
from schedules.testing import (
    assert_bounded,
    assert_continuous,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)


@pytest.mark.parametrize(
    ("kwargs", "step", "expected"),
    [
        ({"scale": 10}, 0, 1.0),
        ({"scale": 10}, 30, 0.5),  # 1 / √(1 + 3)
        ({"scale": 10, "exponent": 1.0, "begin": 5}, 25, 1.0 / 3.0),  # 1 / (1 + 2)
        ({"scale": 10, "exponent": 0.25, "order": 2.0}, 30, 10.0**-0.25),  # (1 + 9) ** -¼
        ({"scale": 10, "begin": 7}, 6, 1.0),  # before begin: peak
        ({"scale": 10}, -5, 1.0),  # negative steps: step 0
    ],
)
def test_hand_checked_values(kwargs: dict[str, Any], step: int, expected: float) -> None:
    assert power_decay(step, 1.0, **kwargs) == pytest.approx(expected, rel=1e-15)
    tensor = power_decay(torch.tensor([step]), 1.0, **kwargs)
    assert tensor.item() == pytest.approx(expected, rel=1e-15)


def test_eden_factor_is_order_two() -> None:
    """icefall Eden: ``((b² + B²) / B²) ** -0.25``, as its source writes it."""
    for batch in [0, 1, 100, 4999, 5000, 123456]:
        eden = ((batch**2 + 5000**2) / 5000**2) ** -0.25
        got = power_decay(batch, 1.0, scale=5000, exponent=0.25, order=2)
        assert got == pytest.approx(eden, rel=1e-14)


def test_inverse_sqrt_tail_is_exponent_one_half_from_the_warmup() -> None:
    for step in [10, 11, 50, 10**6]:
        expected = inverse_sqrt(step, 0.5, 10, timescale=25)
        assert power_decay(step, 0.5, scale=25, begin=10) == pytest.approx(expected, rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(1e-6, 10.0),
    scale=st.integers(1, 10**4),
    exponent=st.floats(0.05, 4.0),
    begin=st.integers(0, 10**4),
    order=st.floats(0.25, 4.0),
    step=st.integers(0, 10**9),
)
def test_holds_then_never_rises_and_a_larger_exponent_decays_faster(
    peak: float, scale: int, exponent: float, begin: int, order: float, step: int
) -> None:
    schedule = functools.partial(
        power_decay, peak=peak, scale=scale, exponent=exponent, begin=begin, order=order
    )
    assert_bounded(schedule, 0.0, peak, [0, begin, step, 10**15])
    assert schedule(begin) == peak
    assert_monotone(schedule, 0, begin + 20 * scale, increasing=False)
    assert_continuous(schedule, [begin], slack=max(2.0, 2.0 / (2.0 ** min(order, 1.0) - 1.0)))
    faster = power_decay(step, peak, scale, exponent * 1.5, begin, order)
    assert faster <= schedule(step)


def test_scalar_and_tensor_agree_vmap_compile_and_bind() -> None:
    steps = [0, 1, 9, 10, 11, 60, 1000, 10**12]
    for kwargs in [
        {"scale": 25},
        {"scale": 25, "exponent": 1.0, "begin": 10},
        {"scale": 7, "exponent": 0.3, "begin": 3, "order": 2.0},
    ]:
        schedule = functools.partial(power_decay, peak=0.01, **kwargs)
        assert_scalar_tensor_agree(schedule, steps, rtol=1e-13)
        assert_vmappable(schedule, steps)
        bound = bind(power_decay, peak=0.01, **kwargs)
        assert [bound(s) for s in steps] == [schedule(s) for s in steps]

    def compiled_schedule(step: torch.Tensor) -> torch.Tensor:
        return power_decay(step, 0.01, 25, 0.7, begin=3, order=2.0)

    t = torch.tensor(steps)
    compiled = torch.compile(compiled_schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(t), compiled_schedule(t), rtol=1e-15, atol=0)


def test_tensor_peak_broadcasts_and_has_exact_gradients() -> None:
    peak = torch.tensor([[0.1], [1.0]], requires_grad=True)
    steps = torch.arange(5, dtype=torch.float64)
    got = power_decay(steps, peak, scale=2, exponent=0.5)
    assert got.shape == (2, 5)
    got.sum().backward()
    factors = [power_decay(float(s), 1.0, 2, 0.5) for s in range(5)]
    assert peak.grad is not None
    torch.testing.assert_close(peak.grad[0, 0].item(), sum(factors), rtol=1e-6, atol=0)


def test_float32_steps_stay_float32_and_huge_steps_give_zero_not_nan() -> None:
    got = power_decay(torch.tensor([0.0, 1e30, 3e38], dtype=torch.float32), 1.0, 1, 2.0, order=4.0)
    assert got.dtype == torch.float32
    assert got.tolist() == [1.0, 0.0, 0.0]
    assert power_decay(1e300, 1.0, 1e-300, 2.0, order=4.0) == 0.0


@pytest.mark.parametrize(
    ("name", "bad", "match"),
    [
        ("scale", 0, r"scale must be > 0, got 0"),
        ("exponent", -0.5, r"exponent must be > 0, got -0.5"),
        ("order", math.nan, r"order must be finite, got nan"),
        ("begin", -1, r"begin must be >= 0, got -1"),
        ("peak", "1", r"peak must be a number, got str: .1."),
    ],
)
def test_bad_hyperparameters_raise_naming_them(name: str, bad: Any, match: str) -> None:
    kwargs: dict[str, Any] = {"peak": 1.0, "scale": 10, name: bad}
    with pytest.raises(ValueError, match=match):
        power_decay(1, **kwargs)
