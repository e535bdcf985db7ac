"""A schedule moved along the step axis: later (a delay) or earlier (start mid-curve)."""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    bound_child,
    require_plain,
    require_schedule,
    using,
)
from schedules.scalar_or_tensor import S, ops_for
from schedules.schedule_protocol import Schedule
from schedules.validation import require_number

MAX_SHIFT = 2.0**53
"""The largest ``|steps|`` of a shift: past it a float64 no longer counts every step."""


def _check_steps(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    number = require_number("steps", value)
    if abs(number) > MAX_SHIFT:
        raise ValueError(f"steps must be within ±2^53 (every step exact), got {value!r}")


def _require_plain(name: str, value: object) -> None:
    require_plain("shift", name, value)


@attrs.frozen
class shift:
    """``shift(f, k)(s) = f(max(max(s, 0) - k, 0))``: ``f`` delayed by ``k`` steps (``k > 0``:
    it holds ``f(0)`` until step ``k``, then runs), or started ``-k`` steps into its curve
    (``k < 0``: ``shift(cosine(...), -500)`` begins where the cosine stands at step 500).

    Negative steps act as 0, before and after the shift: ``f`` never sees a negative step.
    ``steps`` is a finite number with ``|k| <= 2^53``. The wrapped schedule sees float steps
    (a float64 tensor for integer tensor steps). The schedule must be plain: a clock-bound one
    is refused, naming its clock (write ``on(clock, shift(f, k))``).
    """

    schedule: Schedule = attrs.field(
        converter=bound_child,
        validator=[using(require_schedule), using(_require_plain)],
        **CHILD_OPTIONS,
    )
    steps: float = attrs.field(validator=_check_steps)

    def __call__(self, step: S) -> S:
        s = ops_for(step).step(step) - self.steps
        if isinstance(s, Tensor):
            return self.schedule(torch.clamp(s, min=0.0))
        return float(self.schedule(s if s > 0 else 0.0))
