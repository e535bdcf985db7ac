"""Hyperbolic-tangent decay from about ``peak`` to ``final`` over ``steps``.

Reference: timm ``TanhLRScheduler(t_initial, lb, ub, lr_min)`` with one cycle
(``cycle_limit=1``) and no warmup is ``tanh_decay(s, peak=base_lr, steps=t_initial,
final=lr_min, lower=lb, upper=ub)``, its ``_get_lr(t)`` at ``s = t`` (Hsueh et al. 2019,
"Stochastic Gradient Descent with Hyperbolic-Tangent Decay on Classification").
"""

from __future__ import annotations

import math

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number, require_positive


def tanh_decay(
    step: S,
    peak: float,
    steps: float,
    final: float = 0.0,
    lower: float = -7.0,
    upper: float = 3.0,
) -> S:
    """``final + (peak - final) · ½ · (1 - tanh(lower + (upper - lower) · s / steps))`` for
    ``s < steps``, and ``final`` from ``s = steps`` on.

    As timm: the curve starts just below ``peak`` (``½(1 - tanh(-7)) = 1 - 8.3e-7`` with the
    defaults) and ends just above ``final``, then drops to ``final`` at ``steps`` (by
    ``(peak - final) · ½(1 - tanh(upper))`` at most, 0.25 % of the range with ``upper = 3``)
    and holds it. ``steps`` must be > 0 and ``upper > lower`` (so it decays). Negative steps
    behave as step 0.
    """
    peak = require_number("peak", peak)
    steps = require_positive("steps", steps)
    final = require_number("final", final)
    lower = require_number("lower", lower)
    upper = require_number("upper", upper)
    if not upper > lower:
        raise ValueError(f"upper must be > lower ({lower!r}), got {upper!r}")
    ops = ops_for(step)
    s = ops.step(step)
    fraction = ops.minimum(s, steps) / steps
    # ½(1 - tanh(x)) = 1 / (1 + e^(2x)): the same number, without the cancellation of 1 - tanh
    factor = 1.0 / (1.0 + ops.pow(math.e, 2.0 * (lower + (upper - lower) * fraction)))
    return ops.where(s < steps, final + (peak - final) * factor, final)
