"""A schedule that never changes.

Reference: optax ``constant_schedule(value)``; torch ``ConstantLR`` with ``factor=1``.
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number


def constant(step: S, value: float) -> S:
    """``value`` at every step.

    A Python number step gives a Python ``float``; a Tensor step gives a Tensor of its shape
    (``float64`` for integer steps, the step's dtype for floating steps) filled with ``value``.
    """
    value = require_number("value", value)
    ops = ops_for(step)
    return ops.constant(ops.step(step), value)
