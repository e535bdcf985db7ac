"""Linear (or half-cosine) interpolation between ``(step, value)`` points.

Reference: optax ``piecewise_interpolate_schedule("linear" | "cosine", ...)`` (which takes
multiplicative scales from step 0; here the points themselves are given).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from schedules.intervals import counted_interval, counts_fast, pick, tensor_interval
from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps, steps_dtype
from schedules.step_runs import by_runs, runs_apply
from schedules.straight_segment import along, has_form, segment
from schedules.tensor_values import Checked, Value, cosine_interpolate, in_pieces, promoted
from schedules.validation import choice

INTERPOLATIONS = ("linear", "cosine")
"""The transitions of :func:`piecewise_linear` between consecutive points."""


class _Recipe(NamedTuple):
    xs: tuple[float, ...]  # the points' steps, sorted
    vs: tuple[Checked, ...]  # their values
    starts: tuple[float, ...]  # per segment i (from xs[i] to xs[i+1]): its start ...
    widths: tuple[float, ...]  # ... and its width (a jump: start - 1 and width 1)
    cosine: bool  # interpolation == "cosine"


def _prepare(points: tuple[tuple[float, Checked], ...], interpolation: str = "linear") -> _Recipe:
    """The segments between the checked points (sorted by step; declared checks)."""
    xs = tuple(x for x, _ in points)
    vs = tuple(v for _, v in points)
    # A jump (two points at one step) is a segment whose fraction is 1 wherever it is used.
    starts = [x0 if x1 > x0 else x0 - 1.0 for x0, x1 in itertools.pairwise(xs)]
    widths = [x1 - x0 if x1 > x0 else 1.0 for x0, x1 in itertools.pairwise(xs)]
    return _Recipe(xs, vs, tuple(starts), tuple(widths), interpolation == "cosine")


def _scalar(step: float, r: _Recipe) -> float:
    xs, vs = r.xs, r.vs
    s = step if step > 0 else 0
    i = bisect.bisect_right(xs, s)  # points at or before s
    if i == len(xs):
        return vs[-1]
    if i == 0:
        return vs[0]
    x0, x1, v0, v1 = xs[i - 1], xs[i], vs[i - 1], vs[i]
    fraction = (s - x0) / (x1 - x0)
    if r.cosine:
        fraction = 0.5 * (1.0 - math.cos(math.pi * fraction))
    return v0 + (v1 - v0) * fraction


def _by_runs(step: Tensor, r: _Recipe) -> Tensor | None:
    """Number values over steps that come in runs (:mod:`schedules.step_runs`): the run of
    each segment written with its own numbers, a straight segment
    (:mod:`schedules.straight_segment`) or its half cosine, the runs before the first point
    and after the last filled; ``None`` where the steps do not come in runs (or a first
    point below step 0, where negative steps act as step 0)."""
    xs, vs, _, _, cosine = r
    numbers = [float(v) for v in vs]
    dtype = steps_dtype(step)
    if xs[0] < 0.0 or dtype not in (torch.float32, torch.float64) or not runs_apply(step):
        return None
    ends = list(zip(itertools.pairwise(xs), itertools.pairwise(numbers), strict=True))
    lines = [  # (a jump, x0 = x1, has an empty run: no segment)
        None if cosine or x1 == x0 else segment(x0, v0, x1, v1) for (x0, x1), (v0, v1) in ends
    ]
    for ((x0, x1), _), line in zip(ends, lines, strict=True):
        if not cosine and x1 > x0 and (line is None or not has_form(line, dtype)):
            return None

    def fill(k: int, out: Tensor, part: Tensor) -> Tensor:
        if k == 0 or k == len(xs):  # before the first point, from the last one on
            return out.fill_(numbers[0] if k == 0 else numbers[-1])
        if cosine:  # v0 + (v1 - v0) · ½(1 - cos(π f)) = v1 + (v0 - v1) · ½(1 + cos(π f))
            x0, x1 = xs[k - 1], xs[k]
            angle = torch.sub(part, x0, out=out).mul_(math.pi / (x1 - x0)).cos_()
            return cosine_interpolate(numbers[k], numbers[k - 1], angle)
        line = lines[k - 1]
        assert line is not None  # (a jump's run, the only segment without one, is empty)
        written = along(line, part, out)
        assert written is not None  # (has_form)
        return written

    return by_runs(step, xs, fill)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    xs, vs, starts, widths, cosine = r
    if len(xs) > 1 and all(v.__class__ is float for v in vs):
        run_by_run = _by_runs(step, r)
        if run_by_run is not None:
            return run_by_run
    if len(xs) == 1:
        t = float_steps(step)
        return pick(vs, torch.zeros_like(step, dtype=torch.int64), t.dtype, t.device)
    if xs[0] >= 0.0:
        t = float_steps(step, xs[0], xs[-1])
    else:  # negative steps act as step 0
        t = float_steps(step).clamp_min_(xs[0]).clamp_max_(xs[-1])
    if (
        counts_fast(t, xs[1:-1])
        and all(v.__class__ is float for v in vs)
        and _counted_segments(t, r)
    ):
        return t
    segment = tensor_interval(t, xs).sub_(1).clamp_min_(0).clamp_max_(len(xs) - 2)
    dtype, device = t.dtype, t.device
    fraction = t.sub_(pick(starts, segment, dtype, device)).div_(
        pick(widths, segment, dtype, device)
    )
    fraction = fraction.clamp_min_(0.0).clamp_max_(1.0)
    if cosine:  # ½ · (1 - cos(π · f)): exactly 0 and 1 at the ends
        fraction = fraction.mul_(math.pi).cos_().neg_().add_(1.0).mul_(0.5)
    low = pick(vs[:-1], segment, dtype, device)
    high = pick(vs[1:], segment, dtype, device)
    fraction, (low, high) = promoted(fraction, low, high)
    return torch.lerp(low, high, fraction)


def _counted_segments(t: Tensor, r: _Recipe) -> bool:
    """The interpolation, in place on ``t`` (the steps clipped to the points, a fresh
    buffer), piece by piece, its segment counted by :func:`schedules.intervals.
    counted_interval` over the inner points (``#{inner x_i <= t}``: the same segment as
    the search, jumps included); ``False`` (``t`` untouched) where that cannot run: ``vmap``
    refuses ``out=`` at the first comparison, a non-contiguous ``t`` has no flat view."""
    xs, vs, starts, widths, cosine = r
    tables = [torch.tensor(v, dtype=t.dtype) for v in (starts, widths, vs[:-1], vs[1:])]
    inner = xs[1:-1]

    def interpolate_piece(part: Tensor, _: Tensor) -> None:
        flat = part.view(-1)
        gathered, other = torch.empty_like(flat), torch.empty_like(flat)
        segment = counted_interval(flat, inner, gathered)  # (nothing written to t before)
        flat.sub_(torch.index_select(tables[0], 0, segment, out=gathered))
        flat.div_(torch.index_select(tables[1], 0, segment, out=gathered))
        flat.clamp_min_(0.0).clamp_max_(1.0)
        if cosine:
            flat.mul_(math.pi).cos_().neg_().add_(1.0).mul_(0.5)
        low = torch.index_select(tables[2], 0, segment, out=gathered)
        torch.lerp(low, torch.index_select(tables[3], 0, segment, out=other), flat, out=flat)

    try:
        in_pieces(t, t, interpolate_piece)
    except RuntimeError:
        return False
    return True


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("points",),
    lengths=("points",),
    horizon=lambda h: float(h["points"][-1][0]),
    extent=lambda h: 1.25 * h["points"][-1][0] if h["points"][-1][0] > 0 else 100.0,
    checks={"points": "points", "interpolation": choice(*INTERPOLATIONS)},
)


@FAMILY.leaf
def piecewise_linear(
    step: S, points: Sequence[Sequence[Value]], interpolation: str = "linear"
) -> S:
    """Linear (or half-cosine) between consecutive points ``(x_i, v_i)``, constant outside.

    For ``x_i <= s < x_{i+1}`` and ``f = (s - x_i) / (x_{i+1} - x_i)`` the value is ``v_i +
    (v_{i+1} - v_i) · f`` (``interpolation="linear"``) or ``v_i + (v_{i+1} - v_i) · ½ · (1 -
    cos(π · f))`` (``"cosine"``: flat at both points, equal to linear at their midpoint);
    before the first point it is ``v_0``, from the last point on it is the last value.
    ``points`` must be sorted by step. Two points may share a step: that is a jump, and the
    schedule is right-continuous there (at and after the shared step it takes the value of
    the later point; the earlier one is the limit from the left). A single point is a
    constant. A value may be a Tensor broadcasting with the step. The segment is found by
    binary search (``bisect``; ``torch.bucketize`` for Tensor steps): O(log n) per step.

    optax ``piecewise_interpolate_schedule("linear", init_value=v_0, boundaries_and_scales=
    {x_i: v_i / v_{i-1}})`` is the same function when ``x_0 = 0`` and the steps are
    distinct (optax always starts at step 0); ``interpolation="cosine"`` is optax
    ``piecewise_interpolate_schedule("cosine", ...)`` likewise. Negative steps behave as
    step 0.
    """
    return FAMILY.call(
        step,
        (
            points,
            interpolation,
            points.__class__,
            interpolation.__class__,
        ),
    )
