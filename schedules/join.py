"""Schedules run one after another, each on its own clock (or, ``relative=False``, all on
the global step).

Reference: optax ``join_schedules(schedules, boundaries)``: at step ``s`` the last schedule
whose boundary is ``<= s`` runs (optax keeps ``schedules[i]`` while ``s < boundaries[i]``),
and it sees ``s - boundary``. With ``relative=False`` it sees ``s`` itself, so a piece can
start mid-curve (a cosine taking over at step 1000 where a cosine of 5000 steps stands then).

``join`` computes with the steps of one clock: its schedules must be plain (a clock-bound
schedule is refused, naming its clock; bind the whole join instead, ``on("epoch", join(...))``).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import attrs
import torch

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    bound_children,
    require_plain,
    require_schedules,
    schedule_repr,
    using,
)
from schedules.scalar_or_tensor import S, ops_for
from schedules.schedule_protocol import Schedule
from schedules.validation import require_bool, require_increasing


def _as_tuple(value: Any) -> Any:
    """Lists (any non-string sequence) become tuples; other values are left to the validator."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(value)
    return value


def _check_schedules(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for i, schedule in enumerate(require_schedules(attribute.name, value)):
        require_plain("join", f"schedules[{i}]", schedule)


def _check_boundaries(instance: join, attribute: attrs.Attribute[Any], value: Any) -> None:
    boundaries = require_increasing("boundaries", value, strict=True)
    if boundaries and boundaries[0] <= 0:
        raise ValueError(f"boundaries must be > 0, got {list(value)!r}")
    if len(boundaries) != len(instance.schedules) - 1:
        raise ValueError(
            f"join needs one boundary fewer than schedules: got {len(instance.schedules)} "
            f"schedules and {len(boundaries)} boundaries {list(value)!r}"
        )


@attrs.frozen(repr=False)
class join:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` until
    ``boundaries[1]``, and so on; each schedule sees the steps since its own start::

        join(fs, bs)(s) = fs[i](s - bs[i-1])   where i = #{b in bs : b <= s}   (bs[-1] := 0)

    or, with ``relative=False``, the global step: ``join(fs, bs, relative=False)(s) =
    fs[i](s)``. ``len(schedules) == len(boundaries) + 1``; boundaries strictly increasing and
    > 0. Negative steps act as 0. Continuous where the parts meet exactly when
    ``fs[i](bs[i] - bs[i-1]) == fs[i+1](0)`` (relative), ``fs[i](bs[i]) == fs[i+1](bs[i])``
    (global). Every schedule must be plain (module doc).
    """

    schedules: tuple[Schedule, ...] = attrs.field(
        converter=bound_children, validator=_check_schedules, **CHILD_OPTIONS
    )
    boundaries: tuple[float, ...] = attrs.field(converter=_as_tuple, validator=_check_boundaries)
    relative: bool = attrs.field(default=True, validator=using(require_bool))

    def __repr__(self) -> str:
        where = "" if self.relative else ", relative=False"
        parts = schedule_repr(self.schedules)
        return f"join(schedules={parts}, boundaries={self.boundaries!r}{where})"

    def __call__(self, step: S) -> S:
        ops = ops_for(step)
        s = ops.step(step)
        if isinstance(s, torch.Tensor):
            out = self.schedules[0](s)
            for boundary, schedule in zip(self.boundaries, self.schedules[1:], strict=True):
                later = schedule(torch.clamp(s - boundary, min=0.0) if self.relative else s)
                out = torch.where(s < boundary, out, later)
            return out
        start = step if step > 0 else 0
        i = bisect.bisect_right(self.boundaries, start)
        if i == 0 or not self.relative:
            return float(self.schedules[i](start))
        return float(self.schedules[i](start - self.boundaries[i - 1]))
