"""Linear warmup from ``start`` to ``peak``, then cosine decay to ``final``.

References: optax ``warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps,
decay_steps, end_value, exponent)`` (``decay_steps`` counts the warmup, like ``steps``
here); transformers ``get_cosine_schedule_with_warmup(optimizer, num_warmup_steps,
num_training_steps, num_cycles)`` is ``warmup_cosine(s, peak=base_lr, warmup=num_warmup_steps,
steps=num_training_steps, cycles=num_cycles)`` up to ``num_training_steps`` (transformers keeps
cycling after it; this schedule holds its value there), and transformers
``get_cosine_with_min_lr_schedule_with_warmup(..., min_lr_rate=r)`` adds ``final=r · base_lr``.
"""

from __future__ import annotations

import math
from math import cos
from typing import NamedTuple

import torch
from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family, finite_constant
from schedules.number_text import number_text
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps, steps_dtype
from schedules.step_runs import by_runs, runs_apply
from schedules.straight_segment import along, has_form, segment
from schedules.tensor_values import (
    Checked,
    Value,
    cosine_interpolate,
    in_pieces,
    interpolate,
    select,
)


class _Recipe(NamedTuple):
    peak: Checked
    warmup: float
    steps: float
    start: Checked
    final: Checked
    exponent: float
    angle: float  # 2π · cycles / (steps - warmup): the angle per step of the decay
    cycles: float


def _prepare(
    peak: Checked,
    warmup: float,
    steps: float,
    start: Checked = 0.0,
    final: Checked = 0.0,
    exponent: float = 1.0,
    cycles: float = 0.5,
) -> _Recipe:
    if steps <= warmup:
        raise ValueError(
            f"steps must be > warmup ({number_text(warmup)}): steps is the total length, warmup "
            f"included, got {number_text(steps)}"
        )
    angle = finite_constant(
        "steps", steps, 2.0 * math.pi * cycles / (steps - warmup), "2π · cycles / (steps - warmup)"
    )  # 2π · ½ = π exactly: the default half cycle is π / (steps - warmup), bit for bit
    return _Recipe(peak, warmup, steps, start, final, exponent, angle, cycles)


def _scalar(step: float, r: _Recipe) -> float:
    peak, warmup, steps, start, final, exponent, angle, cycles = r
    if step <= 0:  # a negative step is step 0 (the decay's start when warmup = 0)
        if warmup > 0:
            return start
        step = 0.0
    elif step < warmup:
        return scalar_math.interpolate(start, peak, step / warmup)
    if step >= steps:
        if cycles == 0.5:
            return final
        step = steps  # holds the value at the end of the decay
    factor = 0.5 * (1.0 + cos((step - warmup) * angle))
    if exponent != 1.0:
        factor **= exponent
    if final == 0.0:  # interpolate(0, peak, factor) exactly, for factor in [0, 1]
        return peak * factor
    return scalar_math.interpolate(final, peak, factor)


def _common_case(
    step: Tensor, peak: float, warmup: float, steps: float, angle: float, half: float
) -> Tensor:
    """``start = final = 0``, numbers, on one buffer (10 kernels; the only fresh buffer is
    the result: page faults of big fresh buffers cost more than passes): in units of the
    ramp's steps the decay is ``u = (w/2)(1 + cos) <= w``, exactly ``w`` during the warm-up,
    and the schedule is ``min(t, u) / w · peak`` (exactly ``t / w · peak``, the ramp, below
    ``w``; 0 for negative steps)."""
    units = float_steps(step, warmup, steps).sub_(warmup).mul_(angle).cos_()
    units = units.mul_(half).add_(half).clamp_max_(step).clamp_min_(0.0)
    return units.div_(warmup).mul_(peak)


def _by_runs(step: Tensor, r: _Recipe) -> Tensor | None:
    """The curve run by run where the steps come in runs (:mod:`schedules.step_runs`): the
    warmup as a straight segment from ``start`` to ``peak``, the decay as its formula on its
    run alone (no clamp, no minimum with the ramp), the rest filled with the value held from
    ``steps`` on. ``None`` where the steps do not come in runs or the ramp has no
    division-free form in their dtype."""
    peak, warmup, steps, start, final, exponent, angle, _ = r
    ramp = segment(0.0, start, warmup, peak) if warmup > 0.0 else None
    dtype = steps_dtype(step)
    if not runs_apply(step) or (warmup > 0.0 and (ramp is None or not has_form(ramp, dtype))):
        return None
    held = _scalar(steps, r)

    def fill(k: int, out: Tensor, part: Tensor) -> Tensor:
        if k == 0 and ramp is not None:
            written = along(ramp, torch.clamp(part, min=0.0, out=out))
            assert written is not None  # (has_form)
            return written
        if k > 1:
            return out.fill_(held)
        if k == 0:  # the negative steps, without a warmup: step 0
            position = torch.clamp(part, min=0.0, out=out)
        else:
            position = torch.sub(part, warmup, out=out)
        cosine = position.mul_(angle).cos_()
        if exponent == 1.0:
            return cosine_interpolate(final, peak, cosine)
        return interpolate(final, peak, cosine.mul_(0.5).add_(0.5).pow_(exponent))

    return by_runs(step, [warmup, steps] if warmup > 0.0 else [0.0, steps], fill)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    peak, warmup, steps, start, final, exponent, angle, _ = r
    numbers = peak.__class__ is float and start.__class__ is float and final.__class__ is float
    if numbers:
        run_by_run = _by_runs(step, r)
        if run_by_run is not None:
            return run_by_run
    half = 0.5 * warmup
    common = numbers and start == 0.0 and final == 0.0 and exponent == 1.0 and peak >= 0
    if common and half > 0.0 and half + half == warmup:  # (w/2 exact: not a subnormal w)
        return _common_case(step, peak, warmup, steps, angle, half)
    # The decay, clamped to peak during the warmup: 6 kernels on one buffer (final = 0).
    cosine = float_steps(step, warmup, steps)
    if warmup != 0.0:
        cosine = cosine.sub_(warmup)
    cosine = cosine.mul_(angle).cos_()
    if exponent == 1.0:
        decayed = cosine_interpolate(final, peak, cosine)
    else:
        decayed = interpolate(final, peak, cosine.mul_(0.5).add_(0.5).pow_(exponent))
    if warmup == 0.0:
        return decayed
    below = numbers and start <= peak and final <= peak
    if below or (numbers and start >= peak and final >= peak):
        # The ramp, extrapolated past the warmup, lies beyond the decay there and short of it
        # (at peak) during the warmup: the schedule is their minimum (their maximum when both
        # ends lie above peak); 3 passes + 1, piece by piece (one step-sized buffer).

        def bound_by_ramp(decay: Tensor, steps: Tensor) -> None:
            ramp = interpolate(start, peak, float_steps(steps).div_(warmup))
            if below:
                decay.clamp_max_(ramp)
            else:
                decay.clamp_min_(ramp)

        return in_pieces(decayed, step, bound_by_ramp)
    t = float_steps(step)
    ramp = interpolate(start, peak, t.clamp(max=warmup).div_(warmup))
    return select(t < warmup, ramp, decayed)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "start", "final"),
    lengths=("warmup", "steps"),
    horizon=lambda h: float(h["steps"]),
    checks={
        "peak": "value",
        "warmup": "non_negative",
        "steps": "positive",
        "start": "value",
        "final": "value",
        "exponent": "positive",
        "cycles": "positive",
    },
)


@FAMILY.leaf
def warmup_cosine(
    step: S,
    peak: Value,
    warmup: float,
    steps: float,
    start: Value = 0.0,
    final: Value = 0.0,
    exponent: float = 1.0,
    cycles: float = 0.5,
) -> S:
    """Linear warmup then cosine decay; ``steps`` is the total length, warmup included.

    * ``step < warmup``: ``start + (peak - start) · step / warmup``;
    * ``warmup <= step``: ``final + (peak - final) · (½ · (1 + cos(2π · cycles · d))) **
      exponent`` with ``d = min(step - warmup, steps - warmup) / (steps - warmup)``.

    With the default half cycle it reaches ``peak`` at ``step = warmup``, ``final`` at
    ``step = steps``, and holds ``final`` after. ``cycles`` is transformers' ``num_cycles``,
    the number of cosine periods over the decay (``cycles = 1``: down to ``final`` and back
    up to ``peak``); from ``step = steps`` on the value at ``d = 1`` is held (transformers
    keeps cycling). ``warmup`` must be >= 0 (0: no warmup, a plain :func:`schedules.cosine`)
    and ``steps > warmup`` (the decay needs at least one step, as optax requires);
    ``exponent > 0``, ``cycles > 0``. With ``peak = 0`` the decay still runs from 0 to
    ``final`` (optax returns 0 after the warmup: see docs/deviations.md).
    """
    return FAMILY.call(
        step,
        (
            peak,
            warmup,
            steps,
            start,
            final,
            exponent,
            cycles,
            peak.__class__,
            warmup.__class__,
            steps.__class__,
            start.__class__,
            final.__class__,
            exponent.__class__,
            cycles.__class__,
        ),
    )
