"""A schedule multiplied by a constant factor: the fine-tuning factor ``ft_factor`` of
SpeeChain's OptimScheduler."""

from __future__ import annotations

import attrs
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    VALUE_OPTIONS,
    bound_child,
    require_schedule,
    using,
)
from schedules.scalar_or_tensor import S
from schedules.schedule_protocol import Schedule
from schedules.tensor_values import Value
from schedules.validation import require_non_negative_value


@attrs.frozen
class scale:
    """``scale(f, c)(s) = c · f(s)``, with ``factor`` a finite number ``c >= 0`` or a Tensor
    broadcasting with the step (not range-checked; the result broadcasts, so a Python step
    gives a Tensor then)."""

    schedule: Schedule = attrs.field(
        converter=bound_child, validator=using(require_schedule), **CHILD_OPTIONS
    )
    factor: Value = attrs.field(validator=using(require_non_negative_value), **VALUE_OPTIONS)

    def __call__(self, step: S) -> S:
        value = self.factor * self.schedule(step)
        return value if isinstance(value, Tensor) else float(value)  # type: ignore[return-value]
