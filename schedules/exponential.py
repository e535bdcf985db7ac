"""Exponential decay (or growth) by ``rate`` every ``steps`` steps.

Reference: optax ``exponential_decay(init_value, transition_steps, decay_rate,
transition_begin, staircase, end_value)``; torch ``ExponentialLR(gamma)`` is
``exponential(s, start=base_lr, rate=gamma, steps=1)``.
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_non_negative, require_number, require_positive


def exponential(
    step: S,
    start: float,
    rate: float,
    steps: float,
    begin: float = 0,
    staircase: bool = False,
    end: float | None = None,
) -> S:
    """``start · rate ** p`` with ``p = t / steps`` and ``t = max(step - begin, 0)``.

    * ``staircase=True`` floors the exponent, ``p = floor(t / steps)``: the value changes
      once every ``steps`` steps.
    * ``end`` bounds the value: a floor ``max(value, end)`` when ``rate < 1`` (decay), a
      ceiling ``min(value, end)`` when ``rate > 1`` (growth), as in optax. The bound must lie
      on the side the value moves to: ``end <= start`` when ``rate < 1``, ``end >= start``
      when ``rate > 1``. With ``rate == 1`` the value is ``start`` whatever ``end`` is (optax
      would clip it to ``end`` when ``end < start``).

    Holds ``start`` before ``begin``. ``start``, ``rate`` and ``steps`` must be > 0 and
    ``begin >= 0``: optax silently turns ``rate == 0`` or ``steps <= 0`` into a constant
    schedule and a negative ``begin`` into 0; here each is a ``ValueError`` (a drop to zero
    is :func:`schedules.piecewise_constant`). A decay without ``end`` underflows to 0 and a
    growth without ``end`` overflows to ``inf`` at very large steps (never an error, never
    NaN).
    """
    start = require_positive("start", start)
    rate = require_positive("rate", rate)
    steps = require_positive("steps", steps)
    begin = require_non_negative("begin", begin)
    if staircase is not True and staircase is not False:
        raise ValueError(f"staircase must be True or False, got {staircase!r}")
    ops = ops_for(step)
    t = ops.maximum(ops.step(step) - begin, 0.0)
    p = ops.floor(t / steps) if staircase else t / steps
    value = start * ops.pow(rate, p)
    if end is None:
        return value
    end = require_number("end", end)
    if rate < 1.0 and end > start:
        raise ValueError(f"end must be <= start ({start!r}) when rate < 1, got {end!r}")
    if rate > 1.0 and end < start:
        raise ValueError(f"end must be >= start ({start!r}) when rate > 1, got {end!r}")
    if rate < 1.0:
        return ops.maximum(value, end)
    if rate > 1.0:
        return ops.minimum(value, end)
    return value
