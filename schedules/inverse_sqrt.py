"""Linear warm-up to ``peak``, then inverse square-root decay.

References: fairseq ``inverse_sqrt`` (``InverseSquareRootSchedule``); ESPnet
``espnet2.schedulers.warmup_lr.WarmupLR``; transformers ``get_inverse_sqrt_schedule``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, times
from schedules.validation import optional, require_positive


class _Recipe(NamedTuple):
    peak: Checked
    warmup: float
    timescale: float | None = None


def _scalar(step: float, r: _Recipe) -> float:
    peak, warmup, timescale = r
    if step < warmup:
        return peak * (step / warmup) if step > 0 else 0.0
    if timescale is None:
        return peak * math.sqrt(warmup / step)
    return peak * math.sqrt(timescale / (step + (timescale - warmup)))


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    peak, warmup, timescale = r
    s = float_steps(step)
    rising = s / warmup
    if timescale is None:
        decaying = s.clamp_min_(warmup).reciprocal_().mul_(warmup).sqrt_()  # √(warmup / s)
    else:  # √(τ / (s + τ - warmup))
        decaying = s.clamp_min_(warmup).add_(timescale - warmup).reciprocal_()
        decaying = decaying.mul_(timescale).sqrt_()
    # rising < 1 = decaying before warmup, rising >= 1 >= decaying from it on: the minimum
    return times(peak, decaying.clamp_max_(rising))


FAMILY = Family(
    _Recipe,  # the checked hyperparameters are the recipe
    _scalar,
    _tensor,
    values=("peak",),
    lengths=("warmup", "timescale"),
    horizon=None,
    extent=lambda h: 10.0 * h["warmup"],
    checks={"peak": "value", "warmup": "positive", "timescale": optional(require_positive)},
)


@FAMILY.leaf
def inverse_sqrt(step: S, peak: Value, warmup: float, timescale: float | None = None) -> S:
    """``peak · s / warmup`` for ``s < warmup``, then ``peak / √((s + τ - warmup) / τ)`` with
    ``τ = timescale`` (``None``: ``τ = warmup``, which is ``peak · √(warmup / s)``); 0 at
    ``s = 0``.

    Rises linearly from 0 to ``peak`` at ``s = warmup``, then decays as ``s^-½``; a larger
    ``τ`` decays more slowly. ``warmup`` and ``timescale`` must be > 0. Negative steps behave
    as step 0 (value 0).

    How the references line up (all checked by committed vectors):

    * fairseq ``inverse_sqrt`` with ``warmup_init_lr=0`` (its default when
      ``warmup_updates > 0``), ``lr=peak``, ``warmup_updates=warmup``: identical, step for
      step (``num_updates = s``). A non-zero ``warmup_init_lr`` is not expressible here.
    * ESPnet ``WarmupLR`` (``lr=peak``, ``warmup_steps=warmup``): identical as a function of
      its ``step_num = last_epoch + 1``; so its n-th evaluation is ``inverse_sqrt(n, ...)``.
      SpeeChain ``Noamlr`` without ``d_model`` is the same at the 1-based real step.
    * transformers ``get_inverse_sqrt_schedule(num_warmup_steps=warmup, timescale=τ)`` on
      base lr ``peak``: ``inverse_sqrt(s, peak, warmup, timescale=τ)``, step for step
      (``timescale=None`` is its default ``τ = num_warmup_steps``). (With
      ``num_warmup_steps=0`` transformers uses τ = 10 000 and no warm-up; here ``warmup``
      must be > 0.)
    """
    return FAMILY.call(
        step,
        (
            peak,
            warmup,
            timescale,
            peak.__class__,
            warmup.__class__,
            timescale.__class__,
        ),
    )
