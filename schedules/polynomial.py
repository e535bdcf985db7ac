"""Polynomial decay from ``start`` to ``end`` over ``steps``.

Reference: optax ``polynomial_schedule(init_value, end_value, power, transition_steps,
transition_begin)``; torch ``PolynomialLR(total_iters, power)`` is
``polynomial(s, start=base_lr, end=0.0, steps=total_iters, power=power)``.
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_non_negative, require_number, require_positive


def polynomial(
    step: S, start: float, end: float, steps: float, power: float = 1.0, begin: float = 0
) -> S:
    """``end + (start - end) · (1 - t / steps) ** power`` with ``t = clip(step - begin, 0, steps)``.

    Holds ``start`` before ``begin`` and ``end`` from ``begin + steps`` on. ``power = 1`` is
    :func:`schedules.linear`; ``power > 1`` falls fast then flattens, ``power < 1`` the
    reverse. ``steps`` and ``power`` must be > 0, ``begin`` >= 0.
    """
    start = require_number("start", start)
    end = require_number("end", end)
    steps = require_positive("steps", steps)
    power = require_positive("power", power)
    begin = require_non_negative("begin", begin)
    ops = ops_for(step)
    t = ops.clip(ops.step(step) - begin, 0.0, steps)
    return ops.interpolate(end, start, ops.power(1.0 - t / steps, power))
