"""Polynomial decay from ``start`` to ``end`` over ``steps``.

Reference: optax ``polynomial_schedule(init_value, end_value, power, transition_steps,
transition_begin)``; torch ``PolynomialLR(total_iters, power)`` is
``polynomial(s, start=base_lr, end=0.0, steps=total_iters, power=power)``; timm
``PolyLRScheduler(t_initial, power, lr_min, k_decay)`` with one cycle is ``polynomial(s,
start=base_lr, end=lr_min, steps=t_initial, power=power, k_decay=k_decay)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family, finite_constant
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps, steps_dtype
from schedules.straight_segment import along, along_steps, has_form, segment
from schedules.tensor_values import Checked, Value, interpolate


class _Recipe(NamedTuple):
    start: Checked
    end: Checked
    steps: float
    power: float
    begin: float
    k_decay: float
    cycle: bool


def _prepare(
    start: Checked,
    end: Checked,
    steps: float,
    power: float = 1.0,
    begin: float = 0,
    k_decay: float = 1.0,
    cycle: bool = False,
) -> _Recipe:
    finite_constant("steps", steps, begin + steps, "begin + steps")
    return _Recipe(start, end, steps, power, begin, k_decay, cycle)


def _scalar(step: float, r: _Recipe) -> float:
    start, end, steps, power, begin, k_decay, cycle = r
    t = step - begin
    if t <= 0:
        return start
    if cycle:  # the horizon: the first multiple of steps at or after t
        steps *= math.ceil(t / steps)
    if t >= steps:
        return end
    fraction = t / steps if k_decay == 1.0 else (t / steps) ** k_decay
    remaining = (1.0 - fraction) ** power
    return scalar_math.interpolate(end, start, remaining)


def _by_segments(step: Tensor, r: _Recipe) -> Tensor | None:
    """Numbers, no k-decay, no cycles: the remaining fraction and the value as straight
    segments (:mod:`schedules.straight_segment`: no division, no lerp) around the power,
    5-6 passes. ``None`` where the segments have no form in the steps' dtype. (Sorted steps
    are not written run by run, :mod:`schedules.step_runs`: its check costs what the held
    runs save.)"""
    if r.k_decay != 1.0 or r.cycle:  # (timm's k-decay and cycles: the general formula)
        return None
    remaining = segment(r.begin, 1.0, r.begin + r.steps, 0.0)  # 1 - t / steps
    values = segment(0.0, r.end, 1.0, r.start)  # end + (start - end) · remaining
    dtype = steps_dtype(step)
    if remaining is None or values is None:
        return None
    if not (has_form(remaining, dtype) and has_form(values, dtype)):
        return None
    fraction = along_steps(remaining, step)
    assert fraction is not None  # (has_form)
    if r.power != 1.0:
        fraction = fraction.pow_(r.power)
    written = along(values, fraction)
    assert written is not None
    return written


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    start, end, steps, power, begin, k_decay, cycle = r
    by_segments = _by_segments(step, r)
    if by_segments is not None:
        return by_segments
    if cycle:
        t = float_steps(step, begin).sub_(begin)  # t >= 0
        horizon = t.div(steps).ceil_().clamp_min_(1.0).mul_(steps)
        fraction = t.div_(horizon)
        if k_decay != 1.0:
            fraction = fraction.pow_(k_decay)
        remaining = fraction.neg_().add_(1.0)
        if power != 1.0:
            remaining = remaining.pow_(power)
        return interpolate(end, start, remaining)
    if k_decay == 1.0 and begin + steps - begin == steps:
        # (begin + steps - clip(s, begin, begin + steps)) / steps: 3 kernels
        if begin == 0.0:
            remaining = float_steps(step, 0.0, steps).sub_(steps).div_(-steps)
        else:
            remaining = float_steps(step, begin, begin + steps).sub_(begin + steps)
            remaining = remaining.div_(-steps)
        if power != 1.0:
            remaining = remaining.pow_(power)
        return interpolate(end, start, remaining)
    if begin == 0.0:
        t = float_steps(step, 0.0, steps)
    else:
        t = float_steps(step, begin).sub_(begin).clamp_max_(steps)
    remaining = t.div_(steps).pow_(k_decay).neg_().add_(1.0)  # 1 - (t / steps) ** k
    if power != 1.0:
        remaining = remaining.pow_(power)
    return interpolate(end, start, remaining)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("start", "end"),
    lengths=("steps", "begin"),
    horizon=lambda h: None if h["cycle"] else h["begin"] + h["steps"],
    extent=lambda h: h["begin"] + (4 if h["cycle"] else 1) * h["steps"],
    checks={
        "start": "value",
        "end": "value",
        "steps": "positive",
        "power": "positive",
        "begin": "non_negative",
        "k_decay": "positive",
        "cycle": "bool",
    },
)


@FAMILY.leaf
def polynomial(
    step: S,
    start: Value,
    end: Value,
    steps: float,
    power: float = 1.0,
    begin: float = 0,
    k_decay: float = 1.0,
    cycle: bool = False,
) -> S:
    """``end + (start - end) · (1 - (t / steps) ** k_decay) ** power`` with
    ``t = clip(step - begin, 0, steps)``.

    Holds ``start`` before ``begin`` and ``end`` from ``begin + steps`` on. ``power = 1`` (with
    ``k_decay = 1``) is :func:`schedules.linear`; ``power > 1`` falls fast then flattens,
    ``power < 1`` the reverse. ``k_decay`` is timm's k-decay (``t**k / T**k`` in place of
    ``t / T``). ``steps``, ``power`` and ``k_decay`` must be > 0, ``begin`` >= 0.
    """
    return FAMILY.call(
        step,
        (
            start,
            end,
            steps,
            power,
            begin,
            k_decay,
            cycle,
            start.__class__,
            end.__class__,
            steps.__class__,
            power.__class__,
            begin.__class__,
            k_decay.__class__,
            cycle.__class__,
        ),
    )
