"""A schedule of optimizer updates driven by the micro-step clock of gradient accumulation.

With ``accum_grad`` micro-steps (backward passes) per update, micro-step ``n`` (1-based)
belongs to update ``real_step(n, accum_grad) = (n - 1) // accum_grad + 1``; see
:mod:`schedules.step_arithmetic`.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
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
from schedules.step_arithmetic import real_step
from schedules.validation import require_count


def _check_accum_grad(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_count("accum_grad", value)


def _require_plain(name: str, value: object) -> None:
    require_plain("accumulate", name, value)


@attrs.frozen
class accumulate:
    """``accumulate(f, a)(n) = f(real_step(n, a)) = f((n - 1) // a + 1)`` for 1-based
    micro-steps ``n``; micro-step 0 (and negative ones) give ``f(0)``. The value changes only
    on the first micro-step of each window of ``a``. A float step counts as its floor.
    ``accum_grad`` must be a positive ``int``.
    The schedule must be plain: a clock-bound one is refused, naming its clock (write
    ``on(clock, accumulate(f, ...))``)."""

    schedule: Schedule = attrs.field(
        converter=bound_child,
        validator=[using(require_schedule), using(_require_plain)],
        **CHILD_OPTIONS,
    )
    accum_grad: int = attrs.field(validator=_check_accum_grad)

    def __call__(self, step: S) -> S:
        if isinstance(step, Tensor):
            return self.schedule(real_step(step, self.accum_grad))
        ops_for(step)
        return float(self.schedule(real_step(math.floor(step), self.accum_grad)))
