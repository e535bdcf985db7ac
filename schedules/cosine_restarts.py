"""Cosine annealing with warm restarts (SGDR).

References: Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm
Restarts". torch ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` is
``cosine_restarts(s, peak=base_lr, period=T_0, mult=T_mult, final=eta_min)``; timm
``CosineLRScheduler(t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit=inf,
warmup_t=0)`` is ``cosine_restarts(s, peak=base_lr, period=t_initial, mult=cycle_mul,
final=lr_min, decay=cycle_decay)``. ESPnet ``CosineAnnealingWarmupRestarts(first_cycle_steps,
cycle_mult, max_lr, min_lr, warmup_steps, gamma)``, stepped once per batch as ESPnet's trainer
does, is ``cosine_restarts(s, peak=max_lr, period=first_cycle_steps, mult=cycle_mult,
final=min_lr, decay=gamma, warmup=warmup_steps)`` after ``s`` calls of its ``step()`` (see
:func:`cosine_restarts` for where the two part).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from schedules.leaf_family import Family, finite_constant
from schedules.number_text import number_text
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.step_input import steps_dtype
from schedules.step_runs import MAX_RUNS, by_runs, runs_apply
from schedules.straight_segment import along, has_form, segment
from schedules.tensor_values import Checked, Value, cosine_interpolate, formula_in_pieces


def _cycle_start(ops: Ops[S], i: S, period: float, mult: float) -> S:
    """First step of cycle ``i``: ``period · (mult**i - 1) / (mult - 1)``, or ``period · i``."""
    if mult == 1.0:
        return i * period
    return (period / (mult - 1.0)) * (ops.pow(mult, i) - 1.0)


def _cycle(ops: Ops[S], t: S, period: float, mult: float) -> tuple[S, S, S]:
    """Cycle index ``i`` of step ``t``, position ``t - start(i)`` in it, and its length.

    Inverting :func:`_cycle_start` in floating point (a division, or a logarithm:
    ``log(243) / log(3) = 4.999…``) can land one cycle off at an exact boundary, so the
    estimate is corrected by one comparison with ``start(i)`` and one with ``start(i + 1)``:
    every step with ``start(i) <= t < start(i + 1)`` is in cycle ``i``, at any size of ``t``.
    """
    if mult == 1.0:
        estimate = ops.floor(t / period)
    else:
        estimate = ops.floor(ops.log(1.0 + t * ((mult - 1.0) / period)) / math.log(mult))
    i = ops.where(t < _cycle_start(ops, estimate, period, mult), estimate - 1.0, estimate)
    i = ops.where(t >= _cycle_start(ops, i + 1.0, period, mult), i + 1.0, i)
    start = _cycle_start(ops, i, period, mult)
    # A cycle lasts at least period steps; where consecutive starts round to the same float
    # (beyond 2**53 · period), this keeps the division finite (the position is then 0).
    length = ops.maximum(_cycle_start(ops, i + 1.0, period, mult) - start, period)
    return i, t - start, length


def _warm_cycle_start(ops: Ops[S], i: S, period: float, mult: float, warmup: float) -> S:
    """First step of cycle ``i`` when each lasts ``warmup + (period - warmup) · mult**i``:
    ``i · warmup + (period - warmup) · (mult**i - 1) / (mult - 1)`` (``mult > 1``), divided
    last so that an integer start is computed exactly."""
    return i * warmup + (period - warmup) * (ops.pow(mult, i) - 1.0) / (mult - 1.0)


def _warm_cycle(ops: Ops[S], t: S, period: float, mult: float, warmup: float) -> tuple[S, S, S]:
    """:func:`_cycle` for cycles of ``warmup + (period - warmup) · mult**i`` steps, ``mult > 1``.

    ``start(i)`` has no closed-form inverse, but it lies between the starts of cycles of
    ``(period - warmup) · mult**i`` steps and of ``period · mult**i`` steps, whose indices
    :func:`_cycle` finds. A bisection between them, with a number of rounds fixed by the
    hyperparameters (the bracket is at most ``log(period / (period - warmup)) / log(mult) +
    4`` cycles wide), finds the cycle with no branch on values; as in :func:`_cycle`, every
    step with ``start(i) <= t < start(i + 1)`` is in cycle ``i``.
    """
    annealing = period - warmup
    high, _, _ = _cycle(ops, t, annealing, mult)  # start(i) >= the annealing-only start
    low, _, _ = _cycle(ops, t, period, mult)  # start(i) <= the whole-period start
    low = ops.maximum(low - 1.0, 0.0)  # a cycle of slack each way for rounding
    high = high + 1.0
    width = math.log(period / annealing) / math.log(mult) + 4.0
    for _ in range(math.ceil(math.log2(width)) + 1):
        middle = ops.floor((low + high + 1.0) * 0.5)
        inside = t >= _warm_cycle_start(ops, middle, period, mult, warmup)
        low = ops.where(inside, middle, low)
        high = ops.where(inside, high, middle - 1.0)
    i = ops.where(t < _warm_cycle_start(ops, low, period, mult, warmup), low - 1.0, low)
    start = _warm_cycle_start(ops, i, period, mult, warmup)
    # at least period steps, as in _cycle: finite where consecutive starts round together
    length = ops.maximum(_warm_cycle_start(ops, i + 1.0, period, mult, warmup) - start, period)
    return i, t - start, length


class _Recipe(NamedTuple):
    peak: Checked
    period: float
    mult: float
    final: Checked
    decay: float
    warmup: float


def _prepare(
    peak: Checked,
    period: float,
    mult: float = 1.0,
    final: Checked = 0.0,
    decay: float = 1.0,
    warmup: float = 0,
) -> _Recipe:
    if mult < 1.0:
        raise ValueError(f"mult must be >= 1, got {number_text(mult)}")
    if decay > 1.0:
        raise ValueError(f"decay must lie in (0, 1], got {number_text(decay)}")
    if warmup >= period:
        raise ValueError(
            f"warmup must be < period ({number_text(period)}): each cycle warms up then anneals, "
            f"got {number_text(warmup)}"
        )
    finite_constant("period", period, 1.0 / period, "1 / period")
    if mult != 1.0:
        finite_constant("mult", mult, period / (mult - 1.0), "period / (mult - 1)")
        finite_constant("mult", mult, 1.0 / math.log(mult), "1 / log(mult)")
    return _Recipe(peak, period, mult, final, decay, warmup)


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    peak, period, mult, final, decay, warmup = r
    t = ops.step(step)
    if warmup == 0.0:
        i, position, length = _cycle(ops, t, period, mult)
        cosine_factor = 0.5 * (1.0 + ops.cos(math.pi * position / length))
    else:
        if mult == 1.0:
            i, position, length = _cycle(ops, t, period, mult)
        else:
            i, position, length = _warm_cycle(ops, t, period, mult, warmup)
        annealed = ops.maximum(position - warmup, 0.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * annealed / (length - warmup)))
        cosine_factor = ops.where(position < warmup, position / warmup, cosine)
    cycle_peak = peak if decay == 1.0 else peak * ops.pow(decay, i)
    return final + (cycle_peak - final) * cosine_factor


def _scalar(step: float, r: _Recipe) -> float:
    return _formula(SCALAR, step, r)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    if r.peak.__class__ is float and r.final.__class__ is float:  # the step's shape
        by_cycles = _by_cycles(step, r)
        if by_cycles is not None:
            return by_cycles
        dtype = steps_dtype(step)
        return formula_in_pieces(lambda s: _formula(TENSOR, s, r), step, dtype)
    return _formula(TENSOR, step, r)


def _by_cycles(step: Tensor, r: _Recipe) -> Tensor | None:
    """The curve cycle by cycle where the steps come in runs (:mod:`schedules.step_runs`):
    each cycle's start, length and peak are numbers (the scalar formulas'), and its run is
    ``final + (peak_i - final) · ½(1 + cos((t - start_i) · π / T_i))`` (its warmup run, the
    straight segment from ``final`` to ``peak_i``): no cycle search per step. ``None`` where
    the steps do not come in runs, span more than :data:`~schedules.step_runs.MAX_RUNS`
    intervals, or are float16 or bfloat16 (integer steps: float64)."""
    dtype = steps_dtype(step)
    if dtype not in (torch.float32, torch.float64) or not runs_apply(step):
        return None
    peak, period, mult, final, decay, warmup = r
    last = float(step.view(-1)[-1])  # the largest step if they are sorted (checked later)
    cycles: list[tuple[float, float, float]] = []  # (start, length, peak) of each cycle
    start = 0.0
    while not cycles or (start <= last and 2 * len(cycles) < MAX_RUNS):  # cycle 0 at least
        i = float(len(cycles))
        if warmup == 0.0 or mult == 1.0:
            following = _cycle_start(SCALAR, i + 1.0, period, mult)
        else:
            following = _warm_cycle_start(SCALAR, i + 1.0, period, mult, warmup)
        top = peak if decay == 1.0 else peak * SCALAR.pow(decay, i)
        cycles.append((start, max(following - start, period), top))
        start = following
    if not start > last or not math.isfinite(start):
        return None
    edges = [e for b, _, _ in cycles for e in ((b,) if warmup == 0.0 else (b, b + warmup))]
    bounds = [*edges[1:], start]  # cycle i's runs: [start_i, start_i + warmup), then on
    parts = 1 if warmup == 0.0 else 2
    ramps = [segment(b, final, b + warmup, top) for b, _, top in cycles] if parts == 2 else []
    if not all(line is not None and has_form(line, dtype) for line in ramps):
        return None

    def fill(k: int, out: Tensor, steps: Tensor) -> Tensor:
        begin, length, top = cycles[k // parts]
        if parts == 2 and k % 2 == 0:  # the warmup run, from final at begin up to the peak
            line = ramps[k // 2]
            assert line is not None
            written = along(line, torch.clamp(steps, begin, out=out))
            assert written is not None  # (has_form)
            return written
        if k == 0:
            position = torch.clamp(steps, min=0.0, out=out)  # negative steps: step 0
        else:
            position = torch.sub(steps, begin + warmup, out=out)
        cosine = position.mul_(math.pi / (length - warmup)).cos_()
        return cosine_interpolate(final, top, cosine)

    return by_runs(step, bounds, fill, open_top=False)


def _extent(h: Any) -> float:
    period, mult, warmup = h["period"], h["mult"], h["warmup"]
    return float(3 * warmup + (period - warmup) * (1 + mult + mult * mult))  # three cycles


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak", "final"),
    lengths=("period", "warmup"),
    horizon=None,
    extent=_extent,
    checks={
        "peak": "value",
        "period": "positive",
        "mult": "number",
        "final": "value",
        "decay": "positive",
        "warmup": "non_negative",
    },
)


@FAMILY.leaf
def cosine_restarts(
    step: S,
    peak: Value,
    period: float,
    mult: float = 1.0,
    final: Value = 0.0,
    decay: float = 1.0,
    warmup: float = 0,
) -> S:
    """``final + (peak · decay**i - final) · ½ · (1 + cos(π · t_i / T_i))``.

    Cycle ``i = 0, 1, 2, …`` lasts ``T_i = period · mult**i`` steps and starts at step
    ``period · (mult**i - 1) / (mult - 1)`` (``period · i`` when ``mult = 1``); ``t_i`` is
    the step's position in its cycle. Each cycle restarts at its peak ``peak · decay**i``
    and anneals towards ``final`` (periodic by design: it rises at every restart). ``final``
    is absolute, as timm's ``lr_min``: once ``peak · decay**i`` has fallen below it, a cycle
    runs from its peak up towards ``final``.

    Cycle starts are exact: every step with ``start(i) <= step < start(i + 1)`` is in cycle
    ``i``, whatever its size (integer ``period`` and ``mult`` give integer starts, exactly
    hit by integer steps). ``period`` must be > 0, ``mult >= 1`` (cycles that shrink would
    end in finite time), ``0 < decay <= 1`` (peaks never grow).

    ``warmup = w > 0`` warms every cycle up, as ESPnet's ``CosineAnnealingWarmupRestarts``:
    cycle ``i`` lasts ``T_i = w + (period - w) · mult**i`` steps (the warmup keeps its
    length, the annealing part grows by ``mult``; ``w = 0`` is the rule above), rises
    linearly from ``final`` to ``peak · decay**i`` over its first ``w`` steps, ``final +
    (peak · decay**i - final) · t_i / w``, then anneals, ``final + (peak · decay**i - final)
    · ½ · (1 + cos(π · (t_i - w) / (T_i - w)))``. ``0 <= warmup < period``.

    Where ESPnet parts from it: ESPnet truncates each annealing length to an integer
    (``int((T_i - w) · mult) + w``), so the two agree step for step while every
    ``(period - w) · mult**i`` reached is an integer (``mult = 1``, an integer ``mult``, or a
    short enough run) and drift apart by the dropped fractions after; ESPnet's
    ``step(epoch)`` path grows whole cycles (``period · mult**i``) instead, which is not this
    rule (nor its own ``step()``); with ``w = 0`` ESPnet gives ``min_lr`` at step 0 where
    this gives ``peak``.
    """
    return FAMILY.call(
        step,
        (
            peak,
            period,
            mult,
            final,
            decay,
            warmup,
            peak.__class__,
            period.__class__,
            mult.__class__,
            final.__class__,
            decay.__class__,
            warmup.__class__,
        ),
    )
