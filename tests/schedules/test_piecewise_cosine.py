"""``piecewise_linear(s, points, interpolation="cosine")``: half-cosine transitions between
consecutive points, ``v_i + (v_{i+1} - v_i) · ½ · (1 - cos(π · (s - x_i) / (x_{i+1} - x_i)))``
(optax piecewise_interpolate_schedule("cosine"); anchored in test_peer_anchors.py)."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import piecewise_linear
from schedules.testing import (
    assert_bounded,
    assert_continuous,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

POINTS = [(2, 1.0), (6, 3.0), (8, 0.0), (10**11, 2.0)]
TENT = functools.partial(piecewise_linear, points=POINTS, interpolation="cosine")


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 1.0),
        (2, 1.0),
        (3, 1.0 + 2.0 * 0.5 * (1 - math.cos(math.pi / 4))),
        (4, 2.0),  # halfway: the mean, as for linear
        (6, 3.0),
        (7, 1.5),
        (7.5, 3.0 * 0.5 * (1 + math.cos(math.pi * 0.75))),
        (8, 0.0),
        (10**11, 2.0),
        (10**12, 2.0),
        (-5, 1.0),
    ],
)
def test_hand_checked_values(step: float, expected: float) -> None:
    got = TENT(step)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_linear_is_the_default_and_agrees_at_the_points_and_midpoints() -> None:
    linear = functools.partial(piecewise_linear, points=POINTS)
    assert linear(3) == piecewise_linear(3, POINTS, interpolation="linear") == 1.5
    for step in (0, 2, 4, 6, 7, 8, 10**11, 10**12):
        assert TENT(step) == pytest.approx(linear(step), rel=1e-12, abs=1e-15)
    assert TENT(3) != linear(3)


def test_a_shared_step_is_a_right_continuous_jump() -> None:
    schedule = functools.partial(
        piecewise_linear, points=[(0, 1.0), (4, 0.5), (4, 2.0), (8, 0.0)], interpolation="cosine"
    )
    assert schedule(4) == 2.0
    assert schedule(3.999999) == pytest.approx(0.5, rel=1e-9)
    assert schedule(6) == pytest.approx(1.0, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 50), min_size=1, max_size=6),
    values=st.lists(st.floats(0.0, 5.0), min_size=7, max_size=7),
)
def test_monotone_between_points_continuous_and_bounded(
    gaps: list[int], values: list[float]
) -> None:
    xs = [0]
    for gap in gaps:
        xs.append(xs[-1] + gap)
    points = list(zip(xs, values, strict=False))
    schedule = functools.partial(piecewise_linear, points=points, interpolation="cosine")
    for (x0, v0), (x1, v1) in itertools.pairwise(points):
        assert_monotone(schedule, x0, x1, increasing=v1 >= v0, atol=1e-15)
        assert_bounded(schedule, min(v0, v1), max(v0, v1), [x0, (x0 + x1) / 2, x1])
    assert_continuous(schedule, [x for x, _ in points[1:]], slack=4.0)
    assert_holds_after(schedule, points[-1][0])


def test_scalar_and_tensor_agree_vmap_and_compile() -> None:
    steps = [0, 1, 2, 3, 5, 6, 7, 8, 9, 5 * 10**10, 10**12]
    assert_scalar_tensor_agree(TENT, steps, rtol=1e-12)
    assert_vmappable(TENT, steps)

    def schedule(step: torch.Tensor) -> torch.Tensor:
        return piecewise_linear(step, POINTS, interpolation="cosine")

    t = torch.tensor(steps)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(t), schedule(t), rtol=1e-15, atol=0)


@pytest.mark.parametrize("bad", ["cos", "Linear", None, 1])
def test_bad_interpolation_raises(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"interpolation must be one of 'linear', 'cosine', got"):
        piecewise_linear(1, POINTS, interpolation=bad)
