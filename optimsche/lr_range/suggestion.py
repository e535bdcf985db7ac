"""The suggested lr of an lr range test: where the smoothed loss falls fastest.

Over the recorded points ``i`` in ``[skip_begin, n - skip_end)`` whose smoothed loss is
finite, the slope ``d smoothed / d x`` is estimated by :func:`torch.gradient` (second-order
central differences on the possibly uneven grid, one-sided at the two ends), with
``x = log(lr)`` for an exponential sweep (the axis its points are evenly spaced on, and
fastai's ``steep``) and ``x = lr`` for a linear one. The suggestion is the lr of the most
negative slope (``argmin``, the first on ties), as Lightning's ``suggestion()``.

The first points are skipped (default ``n // 10``, fastai's trim) because the model has not
yet moved there, and the last (default 1, Lightning's) because the divergence stop records
the point that diverged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from schedules.validation import require_int


def default_skip_begin(points: int) -> int:
    """The points skipped at the start by default: a tenth of those recorded (fastai)."""
    return points // 10


def steepest_descent(
    lrs: Sequence[float],
    smoothed: Sequence[float],
    *,
    log_axis: bool,
    skip_begin: int,
    skip_end: int,
) -> int | None:
    """The index (into ``lrs``) of the steepest descent of ``smoothed`` (module doc), or
    ``None`` when fewer than 2 points are left to differentiate."""
    require_int("skip_begin", skip_begin, 0)
    require_int("skip_end", skip_end, 0)
    if len(lrs) != len(smoothed):
        raise ValueError(f"lrs and smoothed differ in length: {len(lrs)} != {len(smoothed)}")
    end = len(lrs) - skip_end
    kept = [i for i in range(skip_begin, end) if math.isfinite(smoothed[i])]
    if len(kept) < 2:
        return None
    xs = torch.tensor([math.log(lrs[i]) if log_axis else lrs[i] for i in kept], dtype=torch.float64)
    ys = torch.tensor([smoothed[i] for i in kept], dtype=torch.float64)
    (slopes,) = torch.gradient(ys, spacing=(xs,))
    return kept[int(torch.argmin(slopes))]
