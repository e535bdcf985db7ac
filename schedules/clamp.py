"""A schedule kept within bounds.

Clock-aware when its schedule is (``clocks`` is the schedule's; see :mod:`schedules.multiply`):
called with a :class:`~schedules.Time` it bounds ``at_time(schedule, time)``."""

from __future__ import annotations

from typing import Any

import attrs
import torch
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
from schedules.tensor_values import Value, promoted
from schedules.time_record import Time, at_time
from schedules.validation import require_value


def _check_bound(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        require_value(attribute.name, value)


def _check_max(instance: clamp, attribute: attrs.Attribute[Any], value: Any) -> None:
    _check_bound(instance, attribute, value)
    low = instance.min
    numbers = (float, int)
    if value.__class__ in numbers and low.__class__ in numbers and low > value:
        raise ValueError(f"min must be <= max, got min={low!r} and max={value!r}")


@attrs.frozen
class clamp:
    """``clamp(f, lo, hi)(s) = min(max(f(s), lo), hi)``; a bound left ``None`` is not
    applied. ``min <= max`` when both are given as numbers. A bound may be a Tensor
    broadcasting with the step (not range-checked; the result broadcasts, so a Python step
    gives a Tensor then)."""

    schedule: Schedule = attrs.field(
        converter=bound_child, validator=using(require_schedule), **CHILD_OPTIONS
    )
    min: Value | None = attrs.field(default=None, validator=_check_bound, **VALUE_OPTIONS)
    max: Value | None = attrs.field(default=None, validator=_check_max, **VALUE_OPTIONS)
    clocks: frozenset[str] = attrs.field(
        default=attrs.Factory(lambda self: clocks_union((self.schedule,)), takes_self=True),
        **CLOCKS_OPTIONS,
    )

    def __call__(self, step: S) -> S:
        if step.__class__ is Time:
            result: S = at_time(self.schedule, step)
        else:
            result = self.schedule(step)
        low, high = self.min, self.max
        if isinstance(result, Tensor) or isinstance(low, Tensor) or isinstance(high, Tensor):
            value = (
                result
                if isinstance(result, Tensor)
                else torch.tensor(float(result), dtype=torch.float64)
            )
            if low.__class__ is float or low.__class__ is int:
                value = value.clamp(min=low)
            elif low is not None:
                value, (bound,) = promoted(value, low)
                value = torch.maximum(value, bound)
            if high.__class__ is float or high.__class__ is int:
                value = value.clamp(max=high)
            elif high is not None:
                value, (bound,) = promoted(value, high)
                value = torch.minimum(value, bound)
            return value  # type: ignore[return-value]
        number = float(result)
        if low is not None and number < low:
            number = float(low)
        if high is not None and number > high:
            number = float(high)
        return number
