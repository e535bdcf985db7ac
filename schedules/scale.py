"""A schedule multiplied by a constant factor: the fine-tuning factor ``ft_factor`` of
SpeeChain's OptimScheduler.

Clock-aware when its schedule is (``clocks`` is the schedule's; see :mod:`schedules.multiply`):
called with a :class:`~schedules.Time` it scales ``at_time(schedule, time)``."""

from __future__ import annotations

import attrs
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    CLOCKS_OPTIONS,
    VALUE_OPTIONS,
    bound_child,
    clocks_union,
    require_schedule,
    using,
)
from schedules.scalar_or_tensor import S
from schedules.schedule_protocol import Schedule
from schedules.tensor_values import Value
from schedules.time_record import Time, at_time
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
    clocks: frozenset[str] = attrs.field(
        default=attrs.Factory(lambda self: clocks_union((self.schedule,)), takes_self=True),
        **CLOCKS_OPTIONS,
    )

    def __call__(self, step: S) -> S:
        if step.__class__ is Time:
            value = self.factor * at_time(self.schedule, step)
        else:
            value = self.factor * self.schedule(step)
        return value if isinstance(value, Tensor) else float(value)  # type: ignore[return-value]
