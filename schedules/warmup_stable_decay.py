"""Warmup-stable-decay (WSD, "trapezoidal"): linear warm-up, a plateau, then a short decay.

Reference: transformers ``get_wsd_schedule`` (Hägele et al. 2024, "Scaling Laws and
Compute-Optimal Training Beyond Fixed Training Durations", for the ``1-sqrt`` shape).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from schedules.leaf_family import Family
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.tensor_values import Checked, Value
from schedules.validation import (
    require_choice,
    require_non_negative,
    require_positive,
    require_value,
)

SHAPES = ("linear", "cosine", "1-sqrt")
"""The decay shapes of :func:`warmup_stable_decay`."""


class _Recipe(NamedTuple):
    peak: Checked
    warmup: float
    stable: float
    decay: float
    final: Checked
    shape: str


def _prepare(
    peak: Value,
    warmup: float,
    stable: float,
    decay: float,
    final: Value = 0.0,
    shape: str = "linear",
) -> _Recipe:
    return _Recipe(
        require_value("peak", peak),
        require_positive("warmup", warmup),
        require_non_negative("stable", stable),
        require_positive("decay", decay),
        require_value("final", final),
        require_choice("shape", shape, SHAPES),
    )


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    peak, warmup, stable, decay, final, shape = r
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


def _scalar(step: float, r: _Recipe) -> float:
    return _formula(SCALAR, step, r)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return _formula(TENSOR, step, r)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "final"),
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
    return FAMILY.call(
        step,
        (
            peak,
            warmup,
            stable,
            decay,
            final,
            shape,
            peak.__class__,
            warmup.__class__,
            stable.__class__,
            decay.__class__,
            final.__class__,
            shape.__class__,
        ),
    )
