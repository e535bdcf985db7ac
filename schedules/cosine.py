"""Cosine decay from ``peak`` to ``final`` over ``steps``.

References: optax ``cosine_decay_schedule(init_value, decay_steps, alpha, exponent)`` with
``alpha = final / peak``; torch ``CosineAnnealingLR(T_max, eta_min)`` within ``T_max`` is
``cosine(s, peak=base_lr, steps=T_max, final=eta_min)`` (torch rises again past ``T_max``;
this schedule holds ``final``). Loshchilov & Hutter 2017, SGDR.
"""

from __future__ import annotations

import math

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number, require_positive


def cosine(step: S, peak: float, steps: float, final: float = 0.0, exponent: float = 1.0) -> S:
    """``final + (peak - final) · (½ · (1 + cos(π · t / steps))) ** exponent``,
    ``t = min(step, steps)``.

    Starts at ``peak``, ends at ``final`` at ``step = steps`` and holds it after. ``steps`` and
    ``exponent`` must be > 0; ``exponent > 1`` falls faster early, ``< 1`` later.
    """
    peak = require_number("peak", peak)
    steps = require_positive("steps", steps)
    final = require_number("final", final)
    exponent = require_positive("exponent", exponent)
    ops = ops_for(step)
    t = ops.minimum(ops.step(step), steps)
    cosine_factor = 0.5 * (1.0 + ops.cos(t * (math.pi / steps)))
    if exponent != 1.0:
        cosine_factor = ops.power(cosine_factor, exponent)
    return ops.interpolate(final, peak, cosine_factor)
