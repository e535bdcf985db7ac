"""Linear interpolation from ``start`` to ``end``.

Reference: optax ``linear_schedule(init_value, end_value, transition_steps,
transition_begin)``.
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_non_negative, require_number, require_positive


def linear(step: S, start: float, end: float, steps: float, begin: float = 0) -> S:
    """``start + (end - start) · t / steps`` with ``t = clip(step - begin, 0, steps)``.

    Holds ``start`` before ``begin`` and ``end`` from ``begin + steps`` on.
    """
    start = require_number("start", start)
    end = require_number("end", end)
    steps = require_positive("steps", steps)
    begin = require_non_negative("begin", begin)
    ops = ops_for(step)
    t = ops.clip(ops.step(step) - begin, 0.0, steps)
    return ops.interpolate(start, end, t / steps)
