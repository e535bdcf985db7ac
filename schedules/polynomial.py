"""Polynomial decay from ``start`` to ``end`` over ``steps``.

Reference: optax ``polynomial_schedule(init_value, end_value, power, transition_steps,
transition_begin)``; torch ``PolynomialLR(total_iters, power)`` is
``polynomial(s, start=base_lr, end=0.0, steps=total_iters, power=power)``.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, interpolate
from schedules.validation import require_non_negative, require_positive, require_value


class _Recipe(NamedTuple):
    start: Checked
    end: Checked
    steps: float
    power: float
    begin: float


def _prepare(
    start: Value, end: Value, steps: float, power: float = 1.0, begin: float = 0
) -> _Recipe:
    return _Recipe(
        require_value("start", start),
        require_value("end", end),
        require_positive("steps", steps),
        require_positive("power", power),
        require_non_negative("begin", begin),
    )


def _scalar(step: float, r: _Recipe) -> float:
    start, end, steps, power, begin = r
    t = step - begin
    if t <= 0:
        return start
    if t >= steps:
        return end
    remaining = (1.0 - t / steps) ** power
    return scalar_math.interpolate(end, start, remaining)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    start, end, steps, power, begin = r
    if begin == 0.0:
        t = float_steps(step, 0.0, steps)
    else:
        t = float_steps(step).sub_(begin).clamp_min_(0.0).clamp_max_(steps)
    remaining = t.sub_(steps).div_(-steps)  # (steps - t) / steps
    if power != 1.0:
        remaining = remaining.pow_(power)
    return interpolate(end, start, remaining)


def polynomial(
    step: S, start: Value, end: Value, steps: float, power: float = 1.0, begin: float = 0
) -> S:
    """``end + (start - end) · (1 - t / steps) ** power`` with ``t = clip(step - begin, 0, steps)``.

    Holds ``start`` before ``begin`` and ``end`` from ``begin + steps`` on. ``power = 1`` is
    :func:`schedules.linear`; ``power > 1`` falls fast then flattens, ``power < 1`` the
    reverse. ``steps`` and ``power`` must be > 0, ``begin`` >= 0.
    """
    return FAMILY.call(step, (start, end, steps, power, begin))


FAMILY = Family(
    polynomial,
    _prepare,
    _scalar,
    _tensor,
    values=("start", "end"),
    lengths=("steps", "begin"),
    horizon=lambda h: h["begin"] + h["steps"],
)
