"""Warmup-stable-decay (WSD, "trapezoidal"): linear warm-up, a plateau, then a short decay.

Reference: transformers ``get_wsd_schedule`` (Hägele et al. 2024, "Scaling Laws and
Compute-Optimal Training Beyond Fixed Training Durations", for the ``1-sqrt`` shape).
"""

from __future__ import annotations

import math

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import (
    require_choice,
    require_non_negative,
    require_number,
    require_positive,
)

SHAPES = ("linear", "cosine", "1-sqrt")
"""The decay shapes of :func:`warmup_stable_decay`."""


def warmup_stable_decay(
    step: S,
    peak: float,
    warmup: float,
    stable: float,
    decay: float,
    final: float = 0.0,
    shape: str = "linear",
) -> S:
    """Linear 0 → ``peak`` over ``warmup``, hold ``peak`` for ``stable``, decay to ``final``.

    With ``p = clip(s - warmup - stable, 0, decay) / decay``::

        s < warmup:            peak · s / warmup
        s < warmup + stable:   peak
        otherwise:             final + (peak - final) · f(p)

    where ``f(p)`` is ``1 - p`` (``shape="linear"``), ``½(1 + cos(π p))`` (``"cosine"``)
    or ``1 - √p`` (``"1-sqrt"``). The value is ``final`` from ``warmup + stable + decay`` on.

    transformers ``get_wsd_schedule(num_warmup_steps=warmup, num_stable_steps=stable,
    num_decay_steps=decay, warmup_type="linear", decay_type=shape)`` on base lr ``peak``
    gives exactly this with ``min_lr_ratio=0`` (``final=0``), step for step. ``final`` is an
    absolute floor: transformers' ``min_lr_ratio=r`` matches ``final = r · peak`` during
    the decay and after it, but transformers also starts its warm-up at ``r · peak`` while
    this warm-up always starts at 0. transformers' ``num_cycles`` (cosine waves, default
    ½) is fixed at ½ here. ``warmup`` and ``decay`` must be > 0, ``stable`` >= 0.
    Negative steps behave as step 0.
    """
    peak = require_number("peak", peak)
    warmup = require_positive("warmup", warmup)
    stable = require_non_negative("stable", stable)
    decay = require_positive("decay", decay)
    final = require_number("final", final)
    shape = require_choice("shape", shape, SHAPES)
    ops = ops_for(step)
    s = ops.step(step)
    p = ops.clip(s - (warmup + stable), 0.0, decay) / decay
    if shape == "linear":
        factor = 1.0 - p
    elif shape == "cosine":
        factor = 0.5 * (1.0 + ops.cos(math.pi * p))
    else:
        factor = 1.0 - ops.sqrt(p)
    decaying = ops.interpolate(final, peak, factor)
    stable_or_decaying = ops.where(s < warmup + stable, peak, decaying)
    return ops.where(s < warmup, peak * (s / warmup), stable_or_decaying)
