"""Decay by ``gamma`` at each milestone.

Reference: torch ``MultiStepLR(milestones, gamma)`` is ``multistep(s, start=base_lr,
milestones=milestones, gamma=gamma)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_increasing, require_number, require_positive


def _is_sorted_natural_list(milestones: object) -> bool:
    """The common case, checked fast: a list or tuple of sorted non-negative Python ints."""
    if type(milestones) is not list and type(milestones) is not tuple:
        return False
    if not all(type(m) is int for m in milestones):
        return False
    return (not milestones or milestones[0] >= 0) and all(
        a <= b for a, b in itertools.pairwise(milestones)
    )


def _checked_milestones(milestones: Sequence[float]) -> Sequence[float]:
    if _is_sorted_natural_list(milestones):
        return milestones
    bounds = require_increasing("milestones", milestones, strict=False)
    if bounds and bounds[0] < 0:
        raise ValueError(f"milestones must be >= 0, got {list(milestones)!r}")
    return bounds


def multistep(step: S, start: float, milestones: Sequence[float], gamma: float) -> S:
    """``start · gamma ** n`` where ``n = #{m in milestones : m <= step}``.

    ``milestones`` must be sorted and >= 0; a repeated milestone counts once per
    occurrence, so ``[5, 5]`` multiplies by ``gamma ** 2`` at step 5, as torch ``MultiStepLR``
    does (it counts milestones with a ``Counter``). No milestones gives ``start`` throughout.
    ``gamma`` must be > 0.
    """
    start = require_number("start", start)
    bounds = _checked_milestones(milestones)
    gamma = require_positive("gamma", gamma)
    ops = ops_for(step)
    t = ops.step(step)
    passed = ops.constant(t, 0.0)
    for milestone in bounds:
        passed = passed + ops.where(t >= milestone, 1.0, 0.0)
    return start * ops.pow(gamma, passed)
