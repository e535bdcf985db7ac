"""Cosine decay from ``peak`` to ``final`` over ``steps``.

References: optax ``cosine_decay_schedule(init_value, decay_steps, alpha, exponent)`` with
``alpha = final / peak``; torch ``CosineAnnealingLR(T_max, eta_min)`` within ``T_max`` is
``cosine(s, peak=base_lr, steps=T_max, final=eta_min)`` (torch rises again past ``T_max``;
this schedule holds ``final``); timm ``CosineLRScheduler(t_initial, lr_min, k_decay)`` with one
cycle is ``cosine(s, peak=base_lr, steps=t_initial, final=lr_min, k_decay=k_decay)``.
Loshchilov & Hutter 2017, SGDR.
"""

from __future__ import annotations

import math
from math import cos
from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family, finite_constant
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, cosine_interpolate, interpolate
from schedules.validation import require_bool, require_positive, require_value


class _Recipe(NamedTuple):
    peak: Checked
    steps: float
    final: Checked
    exponent: float
    k_decay: float
    cycle: bool
    angle: float  # π / steps: the angle per step


def _prepare(
    peak: Value,
    steps: float,
    final: Value = 0.0,
    exponent: float = 1.0,
    k_decay: float = 1.0,
    cycle: bool = False,
) -> _Recipe:
    peak = require_value("peak", peak)
    steps = require_positive("steps", steps)
    final = require_value("final", final)
    exponent = require_positive("exponent", exponent)
    k_decay = require_positive("k_decay", k_decay)
    cycle = require_bool("cycle", cycle)
    angle = finite_constant("steps", steps, math.pi / steps, "π / steps")
    return _Recipe(peak, steps, final, exponent, k_decay, cycle, angle)


def _scalar(step: float, r: _Recipe) -> float:
    peak, steps, final, exponent, k_decay, cycle, angle = r
    if cycle:
        step = abs(step) % (2.0 * steps)  # the curve is even and 2·steps-periodic
        if step > steps:
            step = 2.0 * steps - step
    if step >= steps:
        return final
    if step <= 0:
        return peak
    if k_decay == 1.0:
        factor = 0.5 * (1.0 + cos(step * angle))
    else:
        factor = 0.5 * (1.0 + math.cos(math.pi * (step / steps) ** k_decay))
    if exponent != 1.0:
        factor **= exponent
    if final == 0.0:  # interpolate(0, peak, factor) exactly, for factor in [0, 1]
        return peak * factor
    return scalar_math.interpolate(final, peak, factor)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    peak, steps, final, exponent, k_decay, cycle, angle = r
    if cycle:  # fold onto [0, steps]: steps - |steps - (|s| mod 2·steps)|, vmap-safe
        t = float_steps(step, -math.inf).abs_()
        periods = t.div(2.0 * steps).floor_()
        t = t.sub_(periods.mul_(2.0 * steps)).sub_(steps).abs_().neg_().add_(steps)
    else:
        t = float_steps(step, 0.0, steps)
    # the angle: π · t / steps, or π · (t / steps) ** k_decay
    t = t.mul_(angle) if k_decay == 1.0 else t.div_(steps).pow_(k_decay).mul_(math.pi)
    cosine = t.cos_()
    if exponent == 1.0:
        return cosine_interpolate(final, peak, cosine)
    return interpolate(final, peak, cosine.mul_(0.5).add_(0.5).pow_(exponent))


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "final"),
    lengths=("steps",),
    horizon=lambda h: None if h["cycle"] else float(h["steps"]),
    extent=lambda h: (4.0 if h["cycle"] else 1.0) * h["steps"],
)


@FAMILY.leaf
def cosine(
    step: S,
    peak: Value,
    steps: float,
    final: Value = 0.0,
    exponent: float = 1.0,
    k_decay: float = 1.0,
    cycle: bool = False,
) -> S:
    """``final + (peak - final) · (½ · (1 + cos(π · (t / steps) ** k_decay))) ** exponent``,
    ``t = min(step, steps)``.

    Starts at ``peak``, ends at ``final`` at ``step = steps`` and holds it after. ``steps``,
    ``exponent`` and ``k_decay`` must be > 0; ``exponent > 1`` falls faster early, ``< 1``
    later. ``k_decay`` is timm's k-decay (``t**k / T**k`` in place of ``t / T``): ``k > 1``
    stays near ``peak`` longer, ``k < 1`` leaves it sooner.

    ``cycle=True`` keeps cycling instead of holding ``final``: the curve goes back up to
    ``peak`` at ``2 · steps``, down again at ``3 · steps``, ... (period ``2 · steps``, the
    value at ``-s`` that at ``s``; negative steps are on the curve too). SpeechBrain
    ``CyclicCosineScheduler(n_warmup_steps=w, lr_initial=lr, total_steps=T)`` at its
    ``n``-th call is ``cosine(n - w, peak=lr, steps=T, cycle=True)``: it starts mid-curve
    at ``n = 1``, reaches ``lr`` at ``n = w``, 0 at ``w + T`` and ``lr`` again at
    ``w + 2T`` (a shift by ``w``).
    """
    return FAMILY.call(
        step,
        (
            peak,
            steps,
            final,
            exponent,
            k_decay,
            cycle,
            peak.__class__,
            steps.__class__,
            final.__class__,
            exponent.__class__,
            k_decay.__class__,
            cycle.__class__,
        ),
    )
