"""Decay by ``gamma`` at each milestone.

Reference: torch ``MultiStepLR(milestones, gamma)`` is ``multistep(s, start=base_lr,
milestones=milestones, gamma=gamma)``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from torch import Tensor

from schedules import scalar_math
from schedules.intervals import lookup
from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.tensor_values import Checked, Value, times
from schedules.validation import increasing


class _Recipe(NamedTuple):
    start: Checked
    milestones: tuple[float, ...]
    levels: tuple[float, ...]  # start · gamma**k for k milestones passed (gamma**k: Tensor start)


def _prepare(start: Checked, milestones: tuple[float, ...], gamma: float) -> _Recipe:
    factor = start if start.__class__ is float else 1.0
    levels = tuple(factor * scalar_math.power(gamma, k) for k in range(len(milestones) + 1))
    return _Recipe(start, milestones, levels)


def _scalar(step: float, r: _Recipe) -> float:
    _, milestones, levels = r
    return levels[bisect_right(milestones, step if step > 0 else 0)]


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    value = lookup(r.levels, step, r.milestones)
    return value if r.start.__class__ is float else times(r.start, value)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("start",),
    lengths=("milestones",),
    horizon=lambda h: float(h["milestones"][-1]) if h["milestones"] else 0.0,
    extent=lambda h: 1.25 * h["milestones"][-1] if h["milestones"] else 100.0,
    checks={
        "start": "value",
        "milestones": increasing(strict=False, minimum=0),
        "gamma": "positive",
    },
)


@FAMILY.leaf
def multistep(step: S, start: Value, milestones: Sequence[float], gamma: float) -> S:
    """``start · gamma ** n`` where ``n = #{m in milestones : m <= step}``.

    ``milestones`` must be sorted and >= 0; a repeated milestone counts once per
    occurrence, so ``[5, 5]`` multiplies by ``gamma ** 2`` at step 5, as torch ``MultiStepLR``
    does (it counts milestones with a ``Counter``). No milestones gives ``start`` throughout.
    ``gamma`` must be > 0. The milestone passed is found by binary search (``bisect``;
    ``torch.bucketize`` for Tensor steps): O(log n) per step.
    """
    return FAMILY.call(
        step, (start, milestones, gamma, start.__class__, milestones.__class__, gamma.__class__)
    )
