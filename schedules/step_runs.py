"""Steps that come in runs: a curve over sorted steps, written interval by interval.

A schedule that is one formula per interval of the step (a step function's levels, the
cycles of restarts, a warmup then a decay) spends most of an elementwise evaluation finding
each step's interval and computing every interval's formula at every step. A whole curve is
usually asked for over sorted steps (``torch.arange``, ``linspace``): there the intervals are
*runs* of consecutive elements, found by one binary search per boundary, and each run is
written with its own interval's numbers, as a fill or a short formula on the run alone.

:func:`by_runs` does that where it pays (a large contiguous CPU Tensor, eager, no gradient,
runs of 1024 steps or more on average), after checking that the steps do come in runs: the
smallest and the largest element of every run (one reading pass, no sort) must lie in the
run's interval. Nothing else is assumed: unsorted steps, NaN steps, a batched (``vmap``) or
traced step give ``None`` before anything is written, and the caller takes its general
formula. Floating steps keep their dtype; integer steps are converted to float64 first, as
:func:`schedules.step_input.float_steps` converts them, and boundaries are compared in that
dtype, as a comparison with a Python number is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

MIN_RUN_STEPS = 1 << 15
"""Steps below this many elements take the caller's general formula (the run-finding's fixed
cost, a few microseconds per run, is then no longer small beside it)."""

MAX_RUNS = 1024
"""At most this many intervals: beyond, the per-run Python costs more than it saves."""

MIN_RUN_LENGTH = 1024
"""Steps per interval, on average, below which the general formula is taken: a run costs
about 8 µs of dispatch (its check and its writes), which a lookup by ``bucketize`` (about
11 ns a step) spends on some 750 steps (measured on ``piecewise_constant``: 10⁵ steps in
101 intervals, 1.02 ms run by run against 0.89 ms; 10⁶ steps in 301, 2.9 ms against 11.7)."""

Fill = Callable[[int, Tensor, Tensor], Tensor]
"""``fill(k, out, steps)``: interval ``k``'s values at ``steps`` (a run of the step,
floating), written into ``out`` (the matching run of the result) where the operators allow
it; it returns the values, ``out`` itself or a Tensor that :func:`by_runs` then copies
into ``out``. For integer steps ``steps`` *is* ``out`` (the run converted to float64):
``fill`` must work elementwise, reading each element before it writes it, as in-place and
``out=`` operators do."""


def runs_apply(step: Tensor) -> bool:
    """Whether :func:`by_runs` may run on ``step`` at all (before looking at its values)."""
    return (
        step.device.type == "cpu"
        and (step.is_floating_point() or (step.dtype != torch.bool and not step.is_complex()))
        and step.numel() >= MIN_RUN_STEPS
        and step.is_contiguous()
        and not step.requires_grad
        and not torch.compiler.is_compiling()
        and not torch._C._functorch.is_functorch_wrapped_tensor(step)
    )


def by_runs(
    step: Tensor, bounds: Sequence[float], fill: Fill, *, open_top: bool = True
) -> Tensor | None:
    """The curve of ``step``'s shape written run by run, in the steps' floating dtype
    (:func:`schedules.step_input.steps_dtype`): interval ``k`` (``0 <= k <= len(bounds)``)
    holds the elements with ``bounds[k - 1] <= s < bounds[k]`` (the first is unbounded
    below, the last above), ``fill(k, out_run, step_run)`` gives each non-empty run.
    ``bounds`` sorted, compared in the result's dtype.
    With ``open_top=False`` the last interval must be empty (its formula is not known past
    it). ``None`` where the step does not come in runs or :func:`runs_apply` says no; then
    nothing has been written (integer steps: a float64 copy was made, and dropped)."""
    if not runs_apply(step) or len(bounds) >= MAX_RUNS:
        return None
    if (len(bounds) + 1) * MIN_RUN_LENGTH > step.numel():  # runs too short to pay
        return None
    flat = step.view(-1)
    if not float(flat[0]) <= float(flat[-1]):  # descending, or NaN at an end: at once
        return None
    if flat.is_floating_point():
        steps, out = flat, torch.empty_like(flat)
    else:  # the steps as float64, overwritten run by run
        steps = out = flat.to(torch.float64)
    edges = _run_edges(steps, bounds, open_top)
    if edges is None:
        return None
    for k, (begin, end) in enumerate(edges):
        if begin < end:
            run = out[begin:end]
            values = fill(k, run, steps[begin:end])
            if values is not run:
                run.copy_(values)
    return out.view(step.shape)


def _run_edges(
    flat: Tensor, bounds: Sequence[float], open_top: bool
) -> list[tuple[int, int]] | None:
    """``[(begin, end)]`` of each interval's run in ``flat``, or ``None`` where some run holds
    an element outside its interval (unsorted steps, NaN)."""
    table = torch.tensor(bounds, dtype=flat.dtype)
    cuts = [0, *torch.searchsorted(flat, table, side="left").tolist(), flat.numel()]
    limits = table.tolist()  # the boundaries as the step's dtype has them
    edges = list(itertools.pairwise(cuts))
    for k, (begin, end) in enumerate(edges):
        if begin >= end:
            continue
        if k == len(limits) and not open_top:
            return None
        low, high = (float(x) for x in torch.aminmax(flat[begin:end]))
        if low != low or high != high:  # a NaN step
            return None
        if k > 0 and not low >= limits[k - 1]:
            return None
        if k < len(limits) and not high < limits[k]:
            return None
    return edges
