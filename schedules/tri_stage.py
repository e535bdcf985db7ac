"""Tri-stage schedule: linear warm-up, hold, exponential decay, then constant.

Reference: fairseq ``tri_stage`` (``TriStageLRSchedule``, from SpecAugment, Park et al. 2019).
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from schedules.leaf_family import Family
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.tensor_values import Checked, Value


class _Recipe(NamedTuple):
    peak: Checked
    warmup: float
    hold: float
    decay: float
    init_scale: float = 0.01
    final_scale: float = 0.01


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    peak, warmup, hold, decay, init_scale, final_scale = r
    s = ops.step(step)
    init = peak * init_scale
    warming = init + (peak - init) * (s / warmup)
    t = ops.clip(s - (warmup + hold), 0.0, decay)
    decaying = peak * ops.pow(final_scale, t / decay)
    return ops.where(s < warmup, warming, decaying)


def _scalar(step: float, r: _Recipe) -> float:
    return _formula(SCALAR, step, r)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return _formula(TENSOR, step, r)


FAMILY = Family(
    _Recipe,  # the checked hyperparameters are the recipe
    _scalar,
    _tensor,
    values=("peak",),
    lengths=("warmup", "hold", "decay"),
    horizon=lambda h: float(h["warmup"] + h["hold"] + h["decay"]),
    checks={
        "peak": "value",
        "warmup": "positive",
        "hold": "non_negative",
        "decay": "positive",
        "init_scale": "non_negative",
        "final_scale": "positive",
    },
)


@FAMILY.leaf
def tri_stage(
    step: S,
    peak: Value,
    warmup: float,
    hold: float,
    decay: float,
    init_scale: float = 0.01,
    final_scale: float = 0.01,
) -> S:
    """Warm up linearly, hold ``peak``, decay exponentially, then hold the final value.

    With ``init = peak · init_scale`` and ``t = clip(s - warmup - hold, 0, decay)``::

        s < warmup:          init + (peak - init) · s / warmup
        otherwise:           peak · final_scale ^ (t / decay)

    so the value is ``peak`` on ``[warmup, warmup + hold]`` and ``peak · final_scale`` from
    ``warmup + hold + decay`` on. fairseq writes the decay as
    ``peak · exp(-t · (-ln final_scale) / decay)``, the same function; its stages
    (``update_num < warmup``, ``< warmup + hold``, ``<= warmup + hold + decay``) match these
    step for step with ``update_num = s``. fairseq also accepts ``warmup_steps=0``; here
    ``warmup`` and ``decay`` must be > 0 and ``hold`` >= 0. Negative steps behave as step 0.
    """
    return FAMILY.call(
        step,
        (
            peak,
            warmup,
            hold,
            decay,
            init_scale,
            final_scale,
            peak.__class__,
            warmup.__class__,
            hold.__class__,
            decay.__class__,
            init_scale.__class__,
            final_scale.__class__,
        ),
    )
