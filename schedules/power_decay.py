"""Power-law decay with a free exponent: ``peak · (1 + (t / scale) ** order) ** -exponent``.

One formula for the power-law tails of the speech toolkits and of Noam-style schedules (each
checked by committed vectors, ``tests/schedules/vectors/shapes.json``):

* icefall ``Eden``'s factors ``((s² + T²) / T²) ** -p`` are ``order=2``, ``scale=T``,
  ``exponent=p``;
* NeMo ``NoamHoldAnnealing(decay_rate=r)`` after its hold, ``lr · (w / (s - hold)) ** r``, and
  SpeechBrain ``LinearNoamScheduler`` after its keep phase, ``lr · w / (n - keep)``, are
  ``order=1``, ``scale=w``, ``exponent=r`` (1 for SpeechBrain) from ``begin``;
* NeMo ``InverseSquareRootAnnealing``, ``lr / √((s + 1) / (w + 1))``, is ``scale=w + 1``,
  ``exponent=½`` from ``begin=w``; transformers ``get_inverse_sqrt_schedule`` after its
  warm-up is ``scale=timescale``, ``exponent=½`` from ``begin=warmup``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, times
from schedules.validation import require_non_negative, require_positive, require_value


class _Recipe(NamedTuple):
    peak: Checked
    scale: float
    exponent: float
    begin: float
    order: float


def _prepare(
    peak: Value,
    scale: float,
    exponent: float = 0.5,
    begin: float = 0,
    order: float = 1.0,
) -> _Recipe:
    return _Recipe(
        require_value("peak", peak),
        require_positive("scale", scale),
        require_positive("exponent", exponent),
        require_non_negative("begin", begin),
        require_positive("order", order),
    )


def _scalar(step: float, r: _Recipe) -> float:
    peak, scale, exponent, begin, order = r
    t = step - begin
    if t <= 0:
        return peak
    x = t / scale
    if order != 1.0:
        x = scalar_math.power(x, order)  # inf where it overflows: the factor is then 0
    if exponent == 0.5:
        return peak / math.sqrt(1.0 + x)
    return peak * scalar_math.power(1.0 + x, -exponent)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    peak, scale, exponent, begin, order = r
    t = float_steps(step, begin)  # max(step, begin) ...
    x = (t.sub_(begin) if begin else t).div_(scale)  # ... - begin, over the scale
    if order != 1.0:
        x = x.pow_(order)
    base = x.add_(1.0)
    if exponent == 0.5:
        factor = base.rsqrt_()
    elif exponent == 1.0:
        factor = base.reciprocal_()
    else:
        factor = base.pow_(-exponent)
    return times(peak, factor)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak",),
    lengths=("scale", "begin"),
    horizon=None,
    extent=lambda h: h["begin"] + 10.0 * h["scale"],
)


@FAMILY.leaf
def power_decay(
    step: S,
    peak: Value,
    scale: float,
    exponent: float = 0.5,
    begin: float = 0,
    order: float = 1.0,
) -> S:
    """``peak · (1 + (t / scale) ** order) ** -exponent`` with ``t = max(step - begin, 0)``.

    Holds ``peak`` until ``begin``, then decays for ever as ``t ** -(order · exponent)``:
    ``scale`` is the step count (after ``begin``) over which the decay sets in. ``order=1``
    gives ``peak · (scale / (scale + t)) ** exponent``, the Noam / inverse-square-root tail
    (``exponent=½``) with a free exponent; ``order=2`` gives icefall Eden's
    ``((t² + scale²) / scale²) ** -exponent``. ``scale``, ``exponent`` and ``order`` must be
    > 0, ``begin`` >= 0; negative steps behave as step 0 (value ``peak``).

    How the references line up (checked by committed vectors; ``s`` their step):

    * icefall ``Eden(lr_batches=B, lr_epochs=E)``: its two factors are
      ``power_decay(batch, 1.0, B, 0.25, order=2)`` and ``power_decay(epoch, 1.0, E, 0.25,
      order=2)``.
    * NeMo ``NoamHoldAnnealing(warmup_steps=w, hold_steps=h, decay_rate=r)`` from ``s = w +
      h`` on (before ``max_steps``, above ``min_lr``): ``power_decay(s, lr, scale=w,
      exponent=r, begin=w + h)``.
    * SpeechBrain ``LinearNoamScheduler(lr, w, keep)`` at its ``n``-th call, after its
      warm-up: ``power_decay(n, lr, scale=w, exponent=1, begin=w + keep)``.
    * NeMo ``InverseSquareRootAnnealing(warmup_steps=w)`` after its warm-up:
      ``power_decay(s, lr, scale=w + 1, exponent=0.5, begin=w)``.
    """
    return FAMILY.call(
        step,
        (
            peak,
            scale,
            exponent,
            begin,
            order,
            peak.__class__,
            scale.__class__,
            exponent.__class__,
            begin.__class__,
            order.__class__,
        ),
    )
