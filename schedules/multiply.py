"""The product of several schedules: torch's ``ChainedScheduler`` of multiplicative schedulers.

``multiply(f1, ..., fn)(s) = f1(s) · f2(s) · ... · fn(s)``, multiplied left to right. Stepping
torch's ``ExponentialLR``, ``StepLR``, ``MultiStepLR`` or ``MultiplicativeLR`` together in a
``ChainedScheduler`` multiplies the lr by each one's factor in turn, so its lr at step ``t`` is
``base_lr`` times the product of each scheduler's own factor at ``t``: ``multiply`` of the
schedules that give those curves, with ``base_lr`` in one of them (the tests check it against
torch). A schedule times a constant is :func:`schedules.scale`.

Python number steps give a Python ``float``; Tensor steps give a Tensor, multiplied
elementwise (vmap- and compile-safe as long as every factor is).
"""

from __future__ import annotations

from typing import Any

import attrs
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    bound_children,
    require_schedule,
    schedule_repr,
)
from schedules.scalar_or_tensor import S
from schedules.schedule_protocol import Schedule


def _check_schedules(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value:
        raise ValueError("multiply needs at least one schedule, got none")
    for i, schedule in enumerate(value):
        if not callable(schedule) and isinstance(schedule, list | tuple):
            raise ValueError(
                f"schedules[{i}] must be a schedule, got a {type(schedule).__name__}: pass the "
                f"schedules as separate arguments, multiply(*schedules)"
            )
        require_schedule(f"schedules[{i}]", schedule)


@attrs.frozen(init=False, repr=False)
class multiply:
    """``multiply(f1, ..., fn)(s) = f1(s) · ... · fn(s)`` (at least one schedule, each
    callable); compared, hashed and pickled by its schedules."""

    schedules: tuple[Schedule, ...] = attrs.field(
        converter=bound_children, validator=_check_schedules, **CHILD_OPTIONS
    )

    def __init__(self, *schedules: Schedule) -> None:
        self.__attrs_init__(schedules)

    def __repr__(self) -> str:
        return f"multiply({', '.join(schedule_repr(s) for s in self.schedules)})"

    def __call__(self, step: S) -> S:
        first, *rest = self.schedules
        value = first(step)
        for schedule in rest:
            value = value * schedule(step)
        return value if isinstance(value, Tensor) else float(value)
