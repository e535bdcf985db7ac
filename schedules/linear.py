"""Linear interpolation from ``start`` to ``end``.

Reference: optax ``linear_schedule(init_value, end_value, transition_steps,
transition_begin)``.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family, finite_constant
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.straight_segment import along_steps, segment
from schedules.tensor_values import Checked, Value, interpolate


class _Recipe(NamedTuple):
    start: Checked
    end: Checked
    steps: float
    begin: float


def _prepare(start: Checked, end: Checked, steps: float, begin: float = 0) -> _Recipe:
    finite_constant("steps", steps, begin + steps, "begin + steps")
    return _Recipe(start, end, steps, begin)


def _scalar(step: float, r: _Recipe) -> float:
    start, end, steps, begin = r
    t = step - begin
    if t <= 0:
        return start
    return scalar_math.interpolate(start, end, t / steps)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    start, end, steps, begin = r
    line = segment(begin, start, begin + steps, end)  # (None: Tensor ends)
    if line is not None:  # numbers: the segment, 2 to 4 passes without a division
        values = along_steps(line, step)
        if values is not None:
            return values
    if begin == 0.0:
        return interpolate(start, end, float_steps(step, 0.0, steps).div_(steps))
    if begin + steps - begin != steps:  # steps below begin's precision: t first
        t = float_steps(step, begin).sub_(begin).clamp_max_(steps)
        return interpolate(start, end, t.div_(steps))
    # the part still to go, (begin + steps - clip(s, begin, begin + steps)) / steps: 3 kernels
    remaining = float_steps(step, begin, begin + steps).sub_(begin + steps).div_(-steps)
    return interpolate(end, start, remaining)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("start", "end"),
    lengths=("steps", "begin"),
    horizon=lambda h: h["begin"] + h["steps"],
    checks={"start": "value", "end": "value", "steps": "positive", "begin": "non_negative"},
)


@FAMILY.leaf
def linear(step: S, start: Value, end: Value, steps: float, begin: float = 0) -> S:
    """``start + (end - start) · t / steps`` with ``t = clip(step - begin, 0, steps)``.

    Holds ``start`` before ``begin`` and ``end`` from ``begin + steps`` on.
    """
    return FAMILY.call(
        step,
        (
            start,
            end,
            steps,
            begin,
            start.__class__,
            end.__class__,
            steps.__class__,
            begin.__class__,
        ),
    )
