"""Warmup-stable-decay (WSD, "trapezoidal"): a warm-up, a plateau, then a short decay, each
ramp in one of the shapes of :mod:`schedules.ramp_shapes`.

References: transformers ``get_wsd_schedule`` (``warmup_type``, ``decay_type``,
``min_lr_ratio``; Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed
Training Durations", for the ``1-sqrt`` shape); Megatron ``OptimizerParamScheduler`` with
``lr_decay_style="WSD"`` (its ``lr_wsd_decay_style`` ``exponential`` is ``2 · 0.5^q - 1``).
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from schedules import ramp_shapes, scalar_math
from schedules.leaf_family import Family
from schedules.ramp_shapes import SHAPES
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, interpolate, select
from schedules.validation import (
    require_choice,
    require_non_negative,
    require_positive,
    require_value,
)

__all__ = ["SHAPES", "warmup_stable_decay"]


class _Recipe(NamedTuple):
    peak: Checked
    warmup: float
    stable: float
    decay: float
    final: Checked
    shape: str
    start: Checked
    warmup_shape: str


def _prepare(
    peak: Value,
    warmup: float,
    stable: float,
    decay: float,
    final: Value = 0.0,
    shape: str = "linear",
    start: Value = 0.0,
    warmup_shape: str = "linear",
) -> _Recipe:
    return _Recipe(
        require_value("peak", peak),
        require_positive("warmup", warmup),
        require_non_negative("stable", stable),
        require_positive("decay", decay),
        require_value("final", final),
        require_choice("shape", shape, SHAPES),
        require_value("start", start),
        require_choice("warmup_shape", warmup_shape, SHAPES),
    )


def _scalar(step: float, r: _Recipe) -> float:
    peak, warmup, stable, decay, final, shape, start, warmup_shape = r
    if step < warmup:
        p = step / warmup if step > 0 else 0.0
        rise = p if warmup_shape == "linear" else ramp_shapes.warmup(warmup_shape, p)
        return peak * rise if start == 0.0 else scalar_math.interpolate(start, peak, rise)
    t = step - warmup - stable
    if t <= 0:
        return peak
    if t >= decay:
        return final
    return scalar_math.interpolate(final, peak, ramp_shapes.decay(shape, t / decay))


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    peak, warmup, stable, decay, final, shape, start, warmup_shape = r
    s = float_steps(step, 0.0)
    rising = ramp_shapes.warmup_tensor(warmup_shape, s.div(warmup).clamp_max_(1.0))
    rising = interpolate(start, peak, rising)
    p = s.sub(warmup + stable).clamp_min_(0.0).div_(decay).clamp_max_(1.0)
    falling = interpolate(final, peak, ramp_shapes.decay_tensor(shape, p))
    return select(s < warmup, rising, falling)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "final", "start"),
    lengths=("warmup", "stable", "decay"),
    horizon=lambda h: float(h["warmup"] + h["stable"] + h["decay"]),
)


@FAMILY.leaf
def warmup_stable_decay(
    step: S,
    peak: Value,
    warmup: float,
    stable: float,
    decay: float,
    final: Value = 0.0,
    shape: str = "linear",
    start: Value = 0.0,
    warmup_shape: str = "linear",
) -> S:
    """Warm up ``start`` → ``peak`` over ``warmup``, hold ``peak`` for ``stable``, decay to
    ``final`` over ``decay``; ``final`` from ``warmup + stable + decay`` on.

    With ``p = s / warmup`` and ``q = clip(s - warmup - stable, 0, decay) / decay``::

        s < warmup:            start + (peak - start) · g(p)
        s < warmup + stable:   peak
        otherwise:             final + (peak - final) · f(q)

    where ``f`` is the decay ``shape`` and ``g`` the ``warmup_shape``, each one of
    :data:`schedules.ramp_shapes.SHAPES`: ``f(q)`` is ``1 - q`` (``"linear"``),
    ``½(1 + cos(π q))`` (``"cosine"``), ``1 - √q`` (``"1-sqrt"``) or ``2 · 2^-q - 1``
    (``"exponential"``), and ``g(p) = f(1 - p)`` (``p``, ``½(1 - cos(π p))``,
    ``1 - √(1 - p)``, ``2^p - 1``). ``warmup`` and ``decay`` must be > 0, ``stable`` >= 0;
    negative steps behave as step 0.

    * transformers ``get_wsd_schedule(num_warmup_steps=w, num_stable_steps=n,
      num_decay_steps=d, warmup_type=W, decay_type=D, min_lr_ratio=r)`` on base lr ``peak``
      is ``warmup_stable_decay(s, peak, w, n, d, final=r · peak, shape=D, start=r · peak,
      warmup_shape=W)``, step for step (its ``num_cycles`` is fixed at ½ here).
    * Megatron ``OptimizerParamScheduler(lr_decay_style="WSD", init_lr=i, max_lr=m,
      min_lr=l, lr_warmup_steps=w, lr_decay_steps=T, wsd_decay_steps=d,
      lr_wsd_decay_style=D)`` is ``warmup_stable_decay(s, m, w, T - d - w, d, final=l,
      shape=D, start=i)`` with ``D`` one of ``linear``, ``cosine``, ``exponential`` and
      ``1-sqrt`` for its ``minus_sqrt``.
    """
    return FAMILY.call(
        step,
        (
            peak,
            warmup,
            stable,
            decay,
            final,
            shape,
            start,
            warmup_shape,
            peak.__class__,
            warmup.__class__,
            stable.__class__,
            decay.__class__,
            final.__class__,
            shape.__class__,
            start.__class__,
            warmup_shape.__class__,
        ),
    )
