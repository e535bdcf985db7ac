"""A schedule kept within bounds."""

from __future__ import annotations

from typing import Any

import attrs
from torch import Tensor

from schedules.combinator_fields import CHILD_OPTIONS, require_schedule, using
from schedules.scalar_or_tensor import S, ops_for
from schedules.schedule_protocol import Schedule
from schedules.validation import require_number


def _check_bound(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        require_number(attribute.name, value)


def _check_max(instance: clamp, attribute: attrs.Attribute[Any], value: Any) -> None:
    _check_bound(instance, attribute, value)
    if value is not None and instance.min is not None and instance.min > value:
        raise ValueError(f"min must be <= max, got min={instance.min!r} and max={value!r}")


@attrs.frozen
class clamp:
    """``clamp(f, lo, hi)(s) = min(max(f(s), lo), hi)``; a bound left ``None`` is not
    applied. ``min <= max`` when both are given."""

    schedule: Schedule = attrs.field(validator=using(require_schedule), **CHILD_OPTIONS)
    min: float | None = attrs.field(default=None, validator=_check_bound)
    max: float | None = attrs.field(default=None, validator=_check_max)

    def __call__(self, step: S) -> S:
        ops = ops_for(step)
        value = self.schedule(step)
        if self.min is not None:
            value = ops.maximum(value, self.min)
        if self.max is not None:
            value = ops.minimum(value, self.max)
        return value if isinstance(value, Tensor) else float(value)
