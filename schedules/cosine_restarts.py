"""Cosine annealing with warm restarts (SGDR).

References: Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm
Restarts". torch ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` is
``cosine_restarts(s, peak=base_lr, period=T_0, mult=T_mult, final=eta_min)``; timm
``CosineLRScheduler(t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit=inf,
warmup_t=0)`` is ``cosine_restarts(s, peak=base_lr, period=t_initial, mult=cycle_mul,
final=lr_min, decay=cycle_decay)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from torch import Tensor

from schedules.leaf_family import Family
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.tensor_values import Checked, Value
from schedules.validation import require_number, require_positive, require_value


def _cycle_start(ops: Ops[S], i: S, period: float, mult: float) -> S:
    """First step of cycle ``i``: ``period · (mult**i - 1) / (mult - 1)``, or ``period · i``."""
    if mult == 1.0:
        return i * period
    return (period / (mult - 1.0)) * (ops.pow(mult, i) - 1.0)


def _cycle(ops: Ops[S], t: S, period: float, mult: float) -> tuple[S, S, S]:
    """Cycle index ``i`` of step ``t``, position ``t - start(i)`` in it, and its length.

    Inverting :func:`_cycle_start` in floating point (a division, or a logarithm:
    ``log(243) / log(3) = 4.999…``) can land one cycle off at an exact boundary, so the
    estimate is corrected by one comparison with ``start(i)`` and one with ``start(i + 1)``:
    every step with ``start(i) <= t < start(i + 1)`` is in cycle ``i``, at any size of ``t``.
    """
    if mult == 1.0:
        estimate = ops.floor(t / period)
    else:
        estimate = ops.floor(ops.log(1.0 + t * ((mult - 1.0) / period)) / math.log(mult))
    i = ops.where(t < _cycle_start(ops, estimate, period, mult), estimate - 1.0, estimate)
    i = ops.where(t >= _cycle_start(ops, i + 1.0, period, mult), i + 1.0, i)
    start = _cycle_start(ops, i, period, mult)
    return i, t - start, _cycle_start(ops, i + 1.0, period, mult) - start


class _Recipe(NamedTuple):
    peak: Checked
    period: float
    mult: float
    final: Checked
    decay: float


def _prepare(
    peak: Value, period: float, mult: float = 1.0, final: Value = 0.0, decay: float = 1.0
) -> _Recipe:
    peak = require_value("peak", peak)
    period = require_positive("period", period)
    mult = require_number("mult", mult)
    if mult < 1.0:
        raise ValueError(f"mult must be >= 1, got {mult!r}")
    final = require_value("final", final)
    decay = require_positive("decay", decay)
    if decay > 1.0:
        raise ValueError(f"decay must lie in (0, 1], got {decay!r}")
    return _Recipe(peak, period, mult, final, decay)


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    peak, period, mult, final, decay = r
    t = ops.step(step)
    i, position, length = _cycle(ops, t, period, mult)
    cosine_factor = 0.5 * (1.0 + ops.cos(math.pi * position / length))
    cycle_peak = peak if decay == 1.0 else peak * ops.pow(decay, i)
    return final + (cycle_peak - final) * cosine_factor


def _scalar(step: float, r: _Recipe) -> float:
    return _formula(SCALAR, step, r)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return _formula(TENSOR, step, r)


def cosine_restarts(
    step: S,
    peak: Value,
    period: float,
    mult: float = 1.0,
    final: Value = 0.0,
    decay: float = 1.0,
) -> S:
    """``final + (peak · decay**i - final) · ½ · (1 + cos(π · t_i / T_i))``.

    Cycle ``i = 0, 1, 2, …`` lasts ``T_i = period · mult**i`` steps and starts at step
    ``period · (mult**i - 1) / (mult - 1)`` (``period · i`` when ``mult = 1``); ``t_i`` is
    the step's position in its cycle. Each cycle restarts at its peak ``peak · decay**i``
    and anneals towards ``final`` (periodic by design: it rises at every restart). ``final``
    is absolute, as timm's ``lr_min``: once ``peak · decay**i`` has fallen below it, a cycle
    runs from its peak up towards ``final``.

    Cycle starts are exact: every step with ``start(i) <= step < start(i + 1)`` is in cycle
    ``i``, whatever its size (integer ``period`` and ``mult`` give integer starts, exactly
    hit by integer steps). ``period`` must be > 0, ``mult >= 1`` (cycles that shrink would
    end in finite time), ``0 < decay <= 1`` (peaks never grow).
    """
    return FAMILY.call(step, (peak, period, mult, final, decay))


def _extent(h: Any) -> float:
    period, mult = h["period"], h["mult"]
    return float(period * (1 + mult + mult * mult))  # three cycles


FAMILY = Family(
    cosine_restarts,
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "final"),
    lengths=("period",),
    horizon=None,
    extent=_extent,
)
