"""Hyperbolic-tangent decay from about ``peak`` to ``final`` over ``steps``.

Reference: timm ``TanhLRScheduler(t_initial, lb, ub, lr_min)`` with one cycle
(``cycle_limit=1``) and no warmup is ``tanh_decay(s, peak=base_lr, steps=t_initial,
final=lr_min, lower=lb, upper=ub)`` at ``s = t`` (Hsueh et al. 2019, "Stochastic Gradient
Descent with Hyperbolic-Tangent Decay on Classification").
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family, finite_constant
from schedules.number_text import number_text
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, interpolate, select


class _Recipe(NamedTuple):
    peak: Checked
    steps: float
    final: Checked
    lower: float
    upper: float
    slope: float  # (upper - lower) / steps: the tanh argument per step


def _prepare(
    peak: Checked, steps: float, final: Checked = 0.0, lower: float = -7.0, upper: float = 3.0
) -> _Recipe:
    if not upper > lower:
        raise ValueError(f"upper must be > lower ({number_text(lower)}), got {number_text(upper)}")
    slope = finite_constant("steps", steps, (upper - lower) / steps, "(upper - lower) / steps")
    return _Recipe(peak, steps, final, lower, upper, slope)


def _falling_sigmoid(x: float) -> float:
    """``½ · (1 - tanh(x)) = 1 / (1 + e^(2x))``, without overflow and without the
    cancellation of ``1 - tanh(x)`` for large ``x``."""
    if x > 0.0:
        e = math.exp(-2.0 * x)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(2.0 * x))


def _scalar(step: float, r: _Recipe) -> float:
    peak, steps, final, lower, _, slope = r
    if step >= steps:
        return final
    t = step if step > 0 else 0.0
    return scalar_math.interpolate(final, peak, _falling_sigmoid(lower + slope * t))


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    peak, steps, final, lower, _, slope = r
    # ½ · (1 - tanh(x)) = sigmoid(-2x), x = lower + slope · t
    t = float_steps(step)
    done = t >= steps  # in the step's float dtype (an int64 step against a float32 steps
    # would compare 1e-300 as 0)
    factor = t.clamp_max_(steps).mul_(-2.0 * slope).add_(-2.0 * lower).sigmoid_()
    return select(done, final, interpolate(final, peak, factor))


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "final"),
    lengths=("steps",),
    horizon=lambda h: float(h["steps"]),
    checks={
        "peak": "value",
        "steps": "positive",
        "final": "value",
        "lower": "number",
        "upper": "number",
    },
)


@FAMILY.leaf
def tanh_decay(
    step: S,
    peak: Value,
    steps: float,
    final: Value = 0.0,
    lower: float = -7.0,
    upper: float = 3.0,
) -> S:
    """``final + (peak - final) · ½ · (1 - tanh(lower + (upper - lower) · s / steps))`` for
    ``s < steps``, and ``final`` from ``s = steps`` on.

    As timm's: the curve starts just below ``peak`` (``½(1 - tanh(-7)) = 1 - 8.3e-7`` with the
    defaults), ends just above ``final``, then drops to ``final`` at ``steps`` (by ``(peak -
    final) · ½(1 - tanh(upper))`` at most: 0.25 % of the range with ``upper = 3``) and holds
    it; it never rises. ``steps`` must be > 0 and ``upper > lower`` (so that it decays).
    Negative steps behave as step 0.
    """
    return FAMILY.call(
        step,
        (
            peak,
            steps,
            final,
            lower,
            upper,
            peak.__class__,
            steps.__class__,
            final.__class__,
            lower.__class__,
            upper.__class__,
        ),
    )
