"""Which interval of sorted boundaries a step lies in, in O(log n), and the value kept for it.

* :func:`tensor_interval`: ``#{b in bounds : b <= s}`` for each element of a floating Tensor
  ``s`` (``torch.bucketize(right=True)``, int32: a binary search per element, one kernel; the
  boundaries are compared in the step's dtype, as a comparison with a Python number is).
  The scalar counterpart is :func:`bisect.bisect_right`.
* :func:`pick`: ``levels[index]`` elementwise, where ``levels`` are floats (one gather from a
  small table) or Tensors that broadcast with the step (an advanced-indexing gather whose
  result takes the broadcast shape; differentiable with respect to the levels, and
  vmappable over them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor

from schedules.step_input import float_steps, steps_dtype
from schedules.step_runs import by_runs
from schedules.tensor_values import Value, in_pieces


def tensor_interval(step: Tensor, bounds: Sequence[float]) -> Tensor:
    """``#{b in bounds : b <= step}`` elementwise, ``bounds`` sorted; compared in the step's
    dtype when it is floating, in float64 for integer steps. int32 (half the memory of
    int64, and a faster search) while ``len(bounds)`` fits it, int64 beyond."""
    dtype = steps_dtype(step)
    table = torch.tensor(bounds, dtype=dtype, device=step.device)
    return torch.bucketize(step, table, right=True, out_int32=len(bounds) < 2**31 - 1)


FEW_BOUNDS = 16
"""Up to this many boundaries, a floating CPU step's interval is counted by comparisons
(:func:`counted_interval`: one vectorized pass per boundary) rather than found by
``torch.bucketize``, whose search per element costs about as much as 15 passes however few
the boundaries are."""


def counted_interval(
    steps: Tensor, bounds: Sequence[float], out: Tensor, nan_past: bool = False
) -> Tensor:
    """``#{b in bounds : b <= steps}`` elementwise, as int32: one comparison pass per
    boundary, each compared in the steps' dtype as :func:`tensor_interval` compares, summed
    in ``out`` (a floating buffer of the steps' shape, not ``steps`` itself, which it
    overwrites). A NaN step counts 0, or ``len(bounds) + 1`` with ``nan_past`` (one more
    pass: an index past the last interval, for a NaN level)."""
    passed = torch.empty_like(out)
    if bounds:
        torch.ge(steps, bounds[0], out=out)
    else:
        out.zero_()
    for bound in bounds[1:]:
        out.add_(torch.ge(steps, bound, out=passed))
    if nan_past:
        out.add_(torch.ne(steps, steps, out=passed), alpha=len(bounds) + 1)
    return out.to(torch.int32)


def counts_fast(step: Tensor, bounds: Sequence[float]) -> bool:
    """Whether :func:`counted_interval` beats ``torch.bucketize`` for this floating step (a
    few boundaries, on the CPU, eager, no gradient through the step: the counted paths
    write with ``out=``)."""
    return (
        step.device.type == "cpu"
        and step.is_floating_point()
        and not step.requires_grad
        and len(bounds) <= FEW_BOUNDS
        and not torch.compiler.is_compiling()
    )


def lookup(levels: Sequence[Value] | Tensor, step: Tensor, bounds: Sequence[float]) -> Tensor:
    """``levels[#{b in bounds : b <= max(step, 0)}]`` elementwise, NaN at NaN steps: two
    kernels (``bucketize``, a gather) for integer steps, plus two for the NaN of floating
    ones (a one-byte mask, a fill in place), plus a clamp when some boundary is <= 0 (only
    then can a negative step differ from step 0). Number levels over a large floating CPU
    step that comes in runs (sorted steps: :func:`schedules.step_runs.by_runs`) are filled
    run by run, one fill per level; otherwise, with a few boundaries, they are counted
    (:func:`counted_interval`, piece by piece, the NaN step counted past the last level, to
    a NaN: no step-sized buffer but the result)."""
    floating = step.is_floating_point()
    s = step if not bounds or bounds[0] > 0 else float_steps(step)
    dtype = steps_dtype(step)
    if not isinstance(levels, Tensor) and all(v.__class__ is float for v in levels):
        numbers = cast(Sequence[float], levels)
        value = by_runs(s, bounds, lambda k, out, _: out.fill_(numbers[k]))
        if value is None and counts_fast(s, bounds):
            value = _counted_lookup(numbers, s, bounds)
        if value is not None:
            return value
    value = pick(levels, tensor_interval(s, bounds), dtype, step.device)
    return nan_where_nan(value, step) if floating else value


def _counted_lookup(
    levels: Sequence[float], steps: Tensor, bounds: Sequence[float]
) -> Tensor | None:
    """``levels[#{b in bounds : b <= steps}]``, NaN at NaN steps, through
    :func:`counted_interval`, in pieces of a fresh buffer; ``None`` where that cannot run
    (``vmap`` refuses ``out=`` at the first comparison; a non-contiguous step has no flat
    view), the buffer then discarded."""
    table = torch.tensor([*levels, math.nan], dtype=steps.dtype)

    def choose(part: Tensor, piece: Tensor) -> None:
        flat = part.view(-1)
        index = counted_interval(piece.view(-1), bounds, flat, nan_past=True)
        torch.index_select(table, 0, index, out=flat)

    try:
        return in_pieces(torch.empty_like(steps), steps, choose)
    except RuntimeError:
        return None


def nan_where_nan(value: Tensor, step: Tensor) -> Tensor:
    """``value`` (a fresh buffer, overwritten), NaN where ``step`` is NaN (``torch.bucketize``
    puts a NaN step past every boundary; a schedule at a NaN step is NaN): in place, through
    a one-byte mask, instead of a second step-sized buffer."""
    return value.masked_fill_(torch.isnan(step), math.nan)


def pick(
    levels: Sequence[Value] | Tensor, index: Tensor, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """``levels[index]`` elementwise; floats give ``dtype``, Tensor levels (a sequence of
    Tensors and floats, or one Tensor whose first dimension runs over the levels) are
    promoted with it and the result broadcasts ``index`` with their shape."""
    if not isinstance(levels, Tensor) and all(v.__class__ is float for v in levels):
        # index_select of the flat index: the same entries as ``table[index]``, 3-4x faster
        # than advanced indexing on the CPU
        table = torch.tensor(levels, dtype=dtype, device=device)
        if index.dim() == 1:
            return table.index_select(0, index)
        return table.index_select(0, index.reshape(-1)).reshape(index.shape)
    if isinstance(levels, Tensor):
        table = levels
        if table.dtype != torch.promote_types(table.dtype, dtype):
            table = table.to(torch.promote_types(table.dtype, dtype))
    else:
        for v in levels:
            if isinstance(v, Tensor):
                dtype, device = torch.promote_types(dtype, v.dtype), v.device
        entries = [
            v.to(dtype=dtype, device=device)
            if isinstance(v, Tensor)
            else torch.tensor(v, dtype=dtype, device=device)
            for v in levels
        ]
        table = torch.stack(torch.broadcast_tensors(*entries))  # type: ignore[no-untyped-call]
    shape = table.shape[1:]
    grids = [
        torch.arange(size, device=table.device).reshape((size,) + (1,) * (len(shape) - 1 - d))
        for d, size in enumerate(shape)
    ]
    key = (index.to(table.device), *grids)
    return table[key]
