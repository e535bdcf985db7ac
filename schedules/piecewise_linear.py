"""Linear interpolation between ``(step, value)`` points.

Reference: optax ``piecewise_interpolate_schedule("linear", ...)`` (which takes multiplicative
scales from step 0; here the points themselves are given).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number


def _require_points(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    if isinstance(points, str) or not isinstance(points, Sequence) or not points:
        raise ValueError(
            f"points must be a non-empty sequence of (step, value) pairs, got {points!r}"
        )
    pairs = []
    for i, point in enumerate(points):
        if isinstance(point, str) or not isinstance(point, Sequence) or len(point) != 2:
            raise ValueError(f"points[{i}] must be a (step, value) pair, got {point!r}")
        pairs.append(
            (
                require_number(f"points[{i}] step", point[0]),
                require_number(f"points[{i}] value", point[1]),
            )
        )
    for i in range(1, len(pairs)):
        if pairs[i][0] < pairs[i - 1][0]:
            raise ValueError(
                f"points must be sorted by step, but points[{i}] step {pairs[i][0]!r} < "
                f"points[{i - 1}] step {pairs[i - 1][0]!r}: {list(points)!r}"
            )
    return pairs


def piecewise_linear(step: S, points: Sequence[Sequence[float]]) -> S:
    """Linear between consecutive points ``(x_i, v_i)``, constant outside them.

    For ``x_i <= s < x_{i+1}`` the value is ``v_i + (v_{i+1} - v_i) · (s - x_i) / (x_{i+1} -
    x_i)``; before the first point it is ``v_0``, from the last point on it is the last
    value. ``points`` must be sorted by step. Two points may share a step: that is a jump,
    and the schedule is right-continuous there (at and after the shared step it takes the
    value of the later point; the earlier one is the limit from the left). A single point
    is a constant.

    optax ``piecewise_interpolate_schedule("linear", init_value=v_0, boundaries_and_scales=
    {x_i: v_i / v_{i-1}})`` is the same function when ``x_0 = 0`` and the steps are
    distinct (optax always starts at step 0). Negative steps behave as step 0.
    """
    pairs = _require_points(points)
    ops = ops_for(step)
    s = ops.step(step)
    value = ops.constant(s, pairs[0][1])
    for (x0, v0), (x1, v1) in itertools.pairwise(pairs):
        if x1 > x0:
            segment = v0 + (v1 - v0) * ((s - x0) / (x1 - x0))
            value = ops.where(s >= x0, segment, value)
        else:
            value = ops.where(s >= x0, v1, value)
    last_step, last_value = pairs[-1]
    return ops.where(s >= last_step, last_value, value)
