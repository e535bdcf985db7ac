"""Linear warmup from ``start`` to ``peak``, then cosine decay to ``final``.

References: optax ``warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps,
decay_steps, end_value, exponent)`` (``decay_steps`` counts the warmup, like ``steps``
here); transformers ``get_cosine_schedule_with_warmup(optimizer, num_warmup_steps,
num_training_steps)`` is ``warmup_cosine(s, peak=base_lr, warmup=num_warmup_steps,
steps=num_training_steps)`` up to ``num_training_steps`` (transformers rises again after it;
this schedule holds ``final``).
"""

from __future__ import annotations

import math

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_non_negative, require_number, require_positive


def warmup_cosine(
    step: S,
    peak: float,
    warmup: float,
    steps: float,
    start: float = 0.0,
    final: float = 0.0,
    exponent: float = 1.0,
) -> S:
    """Linear warmup then cosine decay; ``steps`` is the total length, warmup included.

    * ``step < warmup``: ``start + (peak - start) · step / warmup``;
    * ``warmup <= step``: ``final + (peak - final) · (½ · (1 + cos(π · d))) ** exponent``
      with ``d = min(step - warmup, steps - warmup) / (steps - warmup)``.

    Reaches ``peak`` at ``step = warmup``, ``final`` at ``step = steps``, and holds ``final``
    after. ``warmup`` must be >= 0 (0: no warmup, a plain :func:`schedules.cosine`) and
    ``steps > warmup`` (the decay needs at least one step, as optax requires);
    ``exponent > 0``.
    """
    peak = require_number("peak", peak)
    warmup = require_non_negative("warmup", warmup)
    steps = require_positive("steps", steps)
    if steps <= warmup:
        raise ValueError(
            f"steps must be > warmup ({warmup!r}): steps is the total length, warmup "
            f"included, got {steps!r}"
        )
    start = require_number("start", start)
    final = require_number("final", final)
    exponent = require_positive("exponent", exponent)
    ops = ops_for(step)
    t = ops.step(step)
    decay_steps = steps - warmup
    d = ops.clip(t - warmup, 0.0, decay_steps)
    cosine_factor = 0.5 * (1.0 + ops.cos(d * (math.pi / decay_steps)))
    if exponent != 1.0:
        cosine_factor = ops.power(cosine_factor, exponent)
    decayed = ops.interpolate(final, peak, cosine_factor)
    if warmup == 0.0:
        return decayed
    ramp = ops.interpolate(start, peak, ops.minimum(t, warmup) / warmup)
    return ops.where(t < warmup, ramp, decayed)
