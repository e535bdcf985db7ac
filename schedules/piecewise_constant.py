"""Piecewise-constant values switching at step boundaries.

Reference: optax ``piecewise_constant_schedule`` (which takes multiplicative scales; here the
values themselves are given).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from torch import Tensor

from schedules.intervals import lookup
from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.tensor_values import Checked, Value


class _Recipe(NamedTuple):
    boundaries: tuple[float, ...]
    values: tuple[Checked, ...]  # or one Tensor of them (the tensor formula only)


def _prepare(boundaries: tuple[float, ...], values: tuple[Checked, ...] | Tensor) -> _Recipe:
    """The checked ``boundaries`` (increasing) and ``values`` (a value sequence, or one
    Tensor), which must hold one more level than there are boundaries."""
    entries = len(boundaries) + 1
    if isinstance(values, Tensor):
        if values.dim() == 0 or len(values) != entries:
            raise ValueError(
                f"values must have len(boundaries) + 1 = {entries} entries (along its first "
                f"dimension, for a Tensor), got shape {tuple(values.shape)}"
            )
    elif len(values) != entries:
        raise ValueError(
            f"values must have len(boundaries) + 1 = {entries} entries, got {len(values)}: "
            f"{list(values)!r}"
        )
    return _Recipe(boundaries, cast(Any, values))


def _scalar(step: float, r: _Recipe) -> float:
    boundaries, values = r
    return values[bisect_right(boundaries, step if step > 0 else 0)]


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return lookup(r.values, step, r.boundaries)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("values",),
    lengths=("boundaries",),
    horizon=lambda h: float(h["boundaries"][-1]) if h["boundaries"] else 0.0,
    extent=lambda h: 1.25 * h["boundaries"][-1] if h["boundaries"] else 100.0,
    checks={"boundaries": "increasing", "values": "value_sequence"},
)


@FAMILY.leaf
def piecewise_constant(step: S, boundaries: Sequence[float], values: Sequence[Value] | Tensor) -> S:
    """``values[k]`` where ``k = #{b in boundaries : b <= s}``.

    ``values[0]`` before the first boundary; from boundary ``boundaries[i]`` on (that step
    included), ``values[i + 1]``; the last value is held forever. ``boundaries`` must be
    strictly increasing and ``values`` must have ``len(boundaries) + 1`` entries (each a
    number or a Tensor broadcasting with the step; or one Tensor whose first dimension holds
    them). The interval is found by binary search (``bisect``; ``torch.bucketize`` for Tensor
    steps): O(log n) per step.

    optax ``piecewise_constant_schedule(init_value=values[0], boundaries_and_scales={b_i:
    values[i+1] / values[i]})`` switches at the same steps (a scale applies from ``count >=
    b_i`` on), so for positive values it gives the same values (optax takes non-negative
    scales, so it cannot express a sign change or a step up from 0). Negative steps behave
    as step 0.
    """
    return FAMILY.call(step, (boundaries, values, boundaries.__class__, values.__class__))
