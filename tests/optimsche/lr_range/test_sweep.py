"""The sweep of an lr range test: first update at min_lr, last at max_lr, geometric or equal
steps in between (the formula of optimsche.lr_range.sweep, checked point by point)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimsche.lr_range.sweep import sweep_schedule

lows = st.floats(1e-8, 1e-2)
factors = st.floats(2.0, 1e9)
counts = st.integers(2, 300)


@given(low=lows, factor=factors, n=counts)
def test_exponential_sweep_is_geometric_from_min_to_max(low: float, factor: float, n: int) -> None:
    high = low * factor
    sweep = sweep_schedule(low, high, n, "exponential")
    values = [sweep(k) for k in range(1, n + 1)]
    assert values[0] == pytest.approx(low, rel=1e-12)
    assert values[-1] == pytest.approx(high, rel=1e-9)
    for k, value in enumerate(values, start=1):
        expected = low * (high / low) ** ((k - 1) / (n - 1))
        assert value == pytest.approx(expected, rel=1e-9)
    ratios = [b / a for a, b in itertools.pairwise(values)]
    assert all(r == pytest.approx(ratios[0], rel=1e-9) for r in ratios)


@given(low=lows, factor=factors, n=counts)
def test_linear_sweep_has_equal_steps_from_min_to_max(low: float, factor: float, n: int) -> None:
    high = low * factor
    sweep = sweep_schedule(low, high, n, "linear")
    values = [sweep(k) for k in range(1, n + 1)]
    assert values[0] == pytest.approx(low, rel=1e-12)
    assert values[-1] == pytest.approx(high, rel=1e-12)
    step = (high - low) / (n - 1)
    for k, value in enumerate(values, start=1):
        assert value == pytest.approx(low + (k - 1) * step, rel=1e-9, abs=1e-12 * high)


def test_exponential_sweep_example() -> None:
    sweep = sweep_schedule(1e-7, 10.0, 9, "exponential")
    assert [math.log10(sweep(k)) for k in range(1, 10)] == pytest.approx(
        [-7, -6, -5, -4, -3, -2, -1, 0, 1]
    )
