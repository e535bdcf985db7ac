"""The sum of several schedules, and a schedule plus a constant.

``add(f1, ..., fn)(s) = f1(s) + ... + fn(s)``, added left to right; ``offset(f, c)(s) = f(s) +
c`` (Megatron's exponential WSD decay ``2 · 0.5^q - 1`` is ``offset(scale(g, 2.0), -1.0)``).
Python number steps give a Python ``float``; Tensor steps give a Tensor (vmap- and
compile-safe as long as every part is).

Both are pointwise, so they take clock-bound schedules like :class:`schedules.multiply`:
``clocks`` is the union of the parts' clocks; called with a :class:`~schedules.Time` each part
is evaluated at it (:func:`schedules.at_time`); with only plain parts the sum is plain.
"""

from __future__ import annotations

import operator
from typing import Any

import attrs
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    CLOCKS_OPTIONS,
    VALUE_OPTIONS,
    bound_child,
    bound_children,
    clocks_union,
    require_arguments,
    require_schedule,
    schedule_repr,
    using,
)
from schedules.scalar_or_tensor import S
from schedules.schedule_protocol import Schedule
from schedules.tensor_values import Value
from schedules.time_record import Time, at_time, pointwise
from schedules.validation import require_value


def _check_schedules(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_arguments("add", value)


@attrs.frozen(init=False, repr=False)
class add:
    """``add(f1, ..., fn)(s) = f1(s) + ... + fn(s)`` (at least one schedule, each callable);
    compared, hashed and pickled by its schedules; ``clocks``: the union of theirs."""

    schedules: tuple[Schedule, ...] = attrs.field(
        converter=bound_children, validator=_check_schedules, **CHILD_OPTIONS
    )
    clocks: frozenset[str] = attrs.field(
        default=attrs.Factory(lambda self: clocks_union(self.schedules), takes_self=True),
        **CLOCKS_OPTIONS,
    )

    def __init__(self, *schedules: Schedule) -> None:
        self.__attrs_init__(schedules)

    def __repr__(self) -> str:
        return f"add({', '.join(schedule_repr(s) for s in self.schedules)})"

    def __call__(self, step: S) -> S:
        return pointwise(self.schedules, step, operator.add)  # type: ignore[no-any-return]


@attrs.frozen
class offset:
    """``offset(f, c)(s) = f(s) + c``, with ``amount`` a finite number ``c`` of either sign or
    a Tensor broadcasting with the step (not range-checked; the result broadcasts, so a Python
    step gives a Tensor then). ``clocks``: the schedule's."""

    schedule: Schedule = attrs.field(
        converter=bound_child, validator=using(require_schedule), **CHILD_OPTIONS
    )
    amount: Value = attrs.field(validator=using(require_value), **VALUE_OPTIONS)
    clocks: frozenset[str] = attrs.field(
        default=attrs.Factory(lambda self: clocks_union((self.schedule,)), takes_self=True),
        **CLOCKS_OPTIONS,
    )

    def __call__(self, step: S) -> S:
        if step.__class__ is Time:
            value = at_time(self.schedule, step) + self.amount
        else:
            value = self.schedule(step) + self.amount
        return value if isinstance(value, Tensor) else float(value)  # type: ignore[return-value]
