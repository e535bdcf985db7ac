"""Piecewise-constant values switching at step boundaries.

Reference: optax ``piecewise_constant_schedule`` (which takes multiplicative scales; here the
values themselves are given).
"""

from __future__ import annotations

from collections.abc import Sequence

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_increasing, require_number


def piecewise_constant(step: S, boundaries: Sequence[float], values: Sequence[float]) -> S:
    """``values[k]`` where ``k = #{b in boundaries : b <= s}``.

    ``values[0]`` before the first boundary; from boundary ``boundaries[i]`` on (that step
    included), ``values[i + 1]``; the last value is held forever. ``boundaries`` must be
    strictly increasing and ``values`` must have ``len(boundaries) + 1`` entries.

    optax ``piecewise_constant_schedule(init_value=values[0], boundaries_and_scales={b_i:
    values[i+1] / values[i]})`` switches at the same steps (a scale applies from ``count >=
    b_i`` on), so for positive values it gives the same values (optax takes non-negative
    scales, so it cannot express a sign change or a step up from 0). Negative steps behave
    as step 0.
    """
    bounds = require_increasing("boundaries", boundaries)
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"values must be a sequence of numbers, got {values!r}")
    if len(values) != len(bounds) + 1:
        raise ValueError(
            f"values must have len(boundaries) + 1 = {len(bounds) + 1} entries, "
            f"got {len(values)}: {list(values)!r}"
        )
    levels = [require_number(f"values[{i}]", v) for i, v in enumerate(values)]
    ops = ops_for(step)
    s = ops.step(step)
    value = ops.constant(s, levels[0])
    for bound, level in zip(bounds, levels[1:], strict=True):
        value = ops.where(s >= bound, level, value)
    return value
