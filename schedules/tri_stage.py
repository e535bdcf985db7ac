"""Tri-stage schedule: linear warm-up, hold, exponential decay, then constant.

Reference: fairseq ``tri_stage`` (``TriStageLRSchedule``, from SpecAugment, Park et al. 2019).
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_non_negative, require_number, require_positive


def tri_stage(
    step: S,
    peak: float,
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
    peak = require_number("peak", peak)
    warmup = require_positive("warmup", warmup)
    hold = require_non_negative("hold", hold)
    decay = require_positive("decay", decay)
    init_scale = require_non_negative("init_scale", init_scale)
    final_scale = require_positive("final_scale", final_scale)
    ops = ops_for(step)
    s = ops.step(step)
    init = peak * init_scale
    warming = init + (peak - init) * (s / warmup)
    t = ops.clip(s - (warmup + hold), 0.0, decay)
    decaying = peak * ops.pow(final_scale, t / decay)
    return ops.where(s < warmup, warming, decaying)
