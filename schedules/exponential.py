"""Exponential decay (or growth) by ``rate`` every ``steps`` steps.

Reference: optax ``exponential_decay(init_value, transition_steps, decay_rate,
transition_begin, staircase, end_value)``; torch ``ExponentialLR(gamma)`` is
``exponential(s, start=base_lr, rate=gamma, steps=1)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family, Hyperparameters
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, promoted, times
from schedules.validation import require_non_negative, require_positive, require_value


class _Recipe(NamedTuple):
    start: Checked
    rate: float
    steps: float
    begin: float
    staircase: bool
    end: Checked | None


def _prepare(
    start: Value,
    rate: float,
    steps: float,
    begin: float = 0,
    staircase: bool = False,
    end: Value | None = None,
) -> _Recipe:
    start = require_value("start", start)
    if start.__class__ is float and start <= 0:
        raise ValueError(f"start must be > 0, got {start!r}")
    rate = require_positive("rate", rate)
    steps = require_positive("steps", steps)
    begin = require_non_negative("begin", begin)
    if staircase is not True and staircase is not False:
        raise ValueError(f"staircase must be True or False, got {staircase!r}")
    if end is not None:
        end = require_value("end", end)
        if start.__class__ is float and end.__class__ is float:
            if rate < 1.0 and end > start:
                raise ValueError(f"end must be <= start ({start!r}) when rate < 1, got {end!r}")
            if rate > 1.0 and end < start:
                raise ValueError(f"end must be >= start ({start!r}) when rate > 1, got {end!r}")
        if rate == 1.0:
            end = None  # the value is start whatever end is
    return _Recipe(start, rate, steps, begin, staircase, end)


def _scalar(step: float, r: _Recipe) -> Any:
    start, rate, steps, begin, staircase, end = r
    t = step - begin
    if t <= 0:
        return start
    p = t / steps
    if staircase and p < math.inf:
        p = math.floor(p)
    value = start * scalar_math.power(rate, p)
    if end is None:
        return value
    if rate < 1.0:
        return value if value > end else end
    return value if value < end else end


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    start, rate, steps, begin, staircase, end = r
    t = float_steps(step, begin)  # max(s, begin) ...
    if begin != 0.0:
        t = t.sub_(begin)  # ... - begin
    per_step = math.log(rate) / steps
    if rate == 1.0:  # rate ** p = 1, even at an infinite p
        factor = t.fill_(1.0)
    elif staircase:  # rate ** floor(t / steps), as exp(floor(t / steps) · ln rate), in place
        factor = t.div_(steps).floor_().mul_(math.log(rate)).exp_()
    elif abs(per_step) < math.inf:  # rate ** (t / steps) = exp(t · ln(rate) / steps) in place
        factor = t.mul_(per_step).exp_()
    else:  # ln(rate) / steps overflows (a subnormal steps): the power itself
        factor = torch.pow(rate, t.div_(steps))
    value = times(start, factor)
    if end is None:
        return value
    if end.__class__ is float:
        return value.clamp_min_(end) if rate < 1.0 else value.clamp_max_(end)
    value, (bound,) = promoted(value, end)
    return torch.maximum(value, bound) if rate < 1.0 else torch.minimum(value, bound)


def _horizon(h: Hyperparameters) -> float | None:
    """Where the value reaches ``end`` (rounded up to an integer step, plus one: the crossing
    is computed in floating point); 0 when ``rate == 1``; ``None`` without ``end``."""
    start, rate, steps, begin, end = h["start"], h["rate"], h["steps"], h["begin"], h["end"]
    if rate == 1.0:
        return 0.0
    if end is None or isinstance(start, Tensor) or isinstance(end, Tensor):
        return None
    crossing = steps * math.log(end / start) / math.log(rate)
    if h["staircase"]:
        return float(begin + steps * (math.ceil(crossing / steps) + 1))
    return float(begin + math.ceil(crossing) + 1)


def _extent(h: Hyperparameters) -> float:
    horizon = _horizon(h)
    if horizon is not None and horizon > 0:
        return horizon
    rate, steps = h["rate"], h["steps"]
    if rate == 1.0:
        return 10.0 * float(steps)
    return float(h["begin"] + min(100 * steps, steps * abs(math.log(100) / math.log(rate))))


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("start", "end"),
    lengths=("steps", "begin"),
    horizon=_horizon,
    extent=_extent,
)


@FAMILY.leaf
def exponential(
    step: S,
    start: Value,
    rate: float,
    steps: float,
    begin: float = 0,
    staircase: bool = False,
    end: Value | None = None,
) -> S:
    """``start · rate ** p`` with ``p = t / steps`` and ``t = max(step - begin, 0)``.

    * ``staircase=True`` floors the exponent, ``p = floor(t / steps)``: the value changes
      once every ``steps`` steps.
    * ``end`` bounds the value: a floor ``max(value, end)`` when ``rate < 1`` (decay), a
      ceiling ``min(value, end)`` when ``rate > 1`` (growth), as in optax. The bound must lie
      on the side the value moves to: ``end <= start`` when ``rate < 1``, ``end >= start``
      when ``rate > 1`` (checked when both are numbers). With ``rate == 1`` the value is
      ``start`` whatever ``end`` is (optax would clip it to ``end`` when ``end < start``).

    Holds ``start`` before ``begin``. ``start``, ``rate`` and ``steps`` must be > 0 (``start``
    is checked when it is a number) and ``begin >= 0``: optax silently turns ``rate == 0`` or
    ``steps <= 0`` into a constant schedule and a negative ``begin`` into 0; here each is a
    ``ValueError`` (a drop to zero is :func:`schedules.piecewise_constant`). A decay without
    ``end`` underflows to 0 and a growth without ``end`` overflows to ``inf`` at very large
    steps (never an error, never NaN).
    """
    return FAMILY.call(
        step,
        (
            start,
            rate,
            steps,
            begin,
            staircase,
            end,
            start.__class__,
            rate.__class__,
            steps.__class__,
            begin.__class__,
            staircase.__class__,
            end.__class__,
        ),
    )
