"""The product of several schedules: torch's ``ChainedScheduler`` of multiplicative schedulers.

``multiply(f1, ..., fn)(s) = f1(s) · f2(s) · ... · fn(s)``, multiplied left to right. Stepping
torch's ``ExponentialLR``, ``StepLR``, ``MultiStepLR`` or ``MultiplicativeLR`` together in a
``ChainedScheduler`` multiplies the lr by each one's factor in turn, so its lr at step ``t`` is
``base_lr`` times the product of each scheduler's own factor at ``t``: ``multiply`` of the
schedules that give those curves, with ``base_lr`` in one of them (the tests check it against
torch). A schedule times a constant is :func:`schedules.scale`.

Python number steps give a Python ``float``; Tensor steps give a Tensor, multiplied
elementwise (vmap- and compile-safe as long as every factor is).

Clocks: ``clocks`` is the union of the factors' clocks (:func:`schedules.clocks_of`). When a
factor is bound to a clock (``multiply(on("update", f), on("epoch", g))``, icefall's Eden) the
product is clock-aware: called with a :class:`~schedules.Time` it evaluates each factor at
that time (:func:`schedules.at_time`: a bound factor reads its own clock, a plain one the
time's ``clock``). Called with a number, every factor gets that number. With only plain
factors ``clocks`` is empty and the product is a plain schedule, as before.
"""

from __future__ import annotations

import operator
from typing import Any

import attrs

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    CLOCKS_OPTIONS,
    bound_children,
    clocks_union,
    require_arguments,
    schedule_repr,
)
from schedules.scalar_or_tensor import S
from schedules.schedule_protocol import Schedule
from schedules.time_record import pointwise


def _check_schedules(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    require_arguments("multiply", value)


@attrs.frozen(init=False, repr=False)
class multiply:
    """``multiply(f1, ..., fn)(s) = f1(s) · ... · fn(s)`` (at least one schedule, each
    callable); compared, hashed and pickled by its schedules. ``clocks``: the union of the
    factors' clocks (module doc)."""

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
        return f"multiply({', '.join(schedule_repr(s) for s in self.schedules)})"

    def __call__(self, step: S) -> S:
        return pointwise(self.schedules, step, operator.mul)  # type: ignore[no-any-return]
