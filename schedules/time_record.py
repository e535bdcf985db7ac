"""The time of an update on every clock, and schedules bound to one clock.

A plain schedule is a callable of one number: the shell gives it the value of its own clock
(``clock="update"``, ``"epoch"`` or ``"items"``). A *clock-aware* schedule (one with a
``clocks`` attribute, a ``frozenset`` of the clock names it reads) is called with a whole
:class:`Time` instead and picks the clocks it needs, so one pure schedule can combine the
update count and the epoch (icefall's Eden). :func:`on` binds a plain schedule to one clock.

``at_time(schedule, time)`` is the one place that evaluates a schedule at a :class:`Time`:
``schedule(time)`` when it is clock-aware, else ``schedule(time.of(time.clock))``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs
from torch import Tensor

from schedules.combinator_fields import CHILD_OPTIONS, bound_child, require_schedule, schedule_repr

CLOCKS = ("update", "epoch", "items")
"""The clocks a shell can track: the real step (updates), the epoch, the items (tokens) seen."""


def require_clock(name: str, value: object) -> str:
    """``value`` must be one of :data:`CLOCKS` (a ``ValueError`` naming ``name`` and the
    valid clocks, with a close match when there is one)."""
    if isinstance(value, str) and value in CLOCKS:
        return value
    from schedules.close_matches import did_you_mean

    raise ValueError(
        f"{name} must be one of {', '.join(map(repr, CLOCKS))}, got {value!r}"
        + (did_you_mean(value, CLOCKS) if isinstance(value, str) else "")
    )


@attrs.frozen
class Time:
    """The time of one update on every clock: ``update`` (the real step), ``epoch`` and
    ``items`` (seen so far); a clock the shell does not track is ``None``. ``clock`` names the
    one a plain (not clock-aware) schedule reads."""

    update: Any = None
    epoch: Any = None
    items: Any = None
    clock: str = attrs.field(default="update", validator=lambda _, a, v: require_clock(a.name, v))

    def of(self, clock: str) -> Any:
        """The value of ``clock`` at this time; a ``ValueError`` naming it when it is not
        tracked (``None``)."""
        value = getattr(self, require_clock("clock", clock))
        if value is None:
            raise ValueError(
                f"this schedule reads the {clock!r} clock, which is not tracked here "
                f"(an epoch schedule needs epoch_num on every step(); an items schedule "
                f"needs num_items)"
            )
        return value


def clocks_of(schedule: object) -> frozenset[str]:
    """The clocks a schedule reads: its ``clocks`` attribute when it is clock-aware, else the
    empty set (a plain schedule reads whichever clock it is given)."""
    clocks = getattr(schedule, "clocks", None)
    return clocks if isinstance(clocks, frozenset) else frozenset()


def at_time(schedule: Any, time: Time) -> Any:
    """``schedule`` evaluated at ``time``: called with the :class:`Time` when it is
    clock-aware, else with the value of ``time.clock``."""
    if clocks_of(schedule):
        return schedule(time)
    return schedule(time.of(time.clock))


@attrs.frozen
class on:
    """``on(clock, f)``: the plain schedule ``f`` read on ``clock`` whatever the shell's own
    clock: called with a :class:`Time` it gives ``f(time.of(clock))``; called with a number
    (a direct call) it gives ``f(number)``. ``clocks`` is ``{clock}``."""

    clock: str = attrs.field(validator=lambda _, a, v: require_clock(a.name, v))
    schedule: Any = attrs.field(converter=bound_child, **CHILD_OPTIONS)

    @schedule.validator
    def _check_schedule(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        require_schedule("schedule", value)
        inner = clocks_of(value)
        if inner and inner != {self.clock}:
            raise ValueError(
                f"on({self.clock!r}, ...): the schedule already reads the clocks "
                f"{sorted(inner)}; a schedule bound to one clock cannot read another"
            )

    clocks: frozenset[str] = attrs.field(
        default=attrs.Factory(lambda self: frozenset((self.clock,)), takes_self=True),
        init=False,
        eq=False,
        hash=False,
        repr=False,
    )
    """The one clock this schedule reads (made once: read at every step)."""
    _inner_aware: bool = attrs.field(
        default=attrs.Factory(lambda self: bool(clocks_of(self.schedule)), takes_self=True),
        init=False,
        eq=False,
        hash=False,
        repr=False,
    )

    def __repr__(self) -> str:
        return f"on({self.clock!r}, {schedule_repr(self.schedule)})"

    def __call__(self, t: Any) -> Any:
        if t.__class__ is Time:
            if self._inner_aware:  # its plain parts read this clock too
                return self.schedule(attrs.evolve(t, clock=self.clock))
            return self.schedule(t.of(self.clock))  # no new Time: torch.compile traces it
        return self.schedule(t)


def pointwise(schedules: tuple[Any, ...], step: Any, op: Callable[[Any, Any], Any]) -> Any:
    """``op`` folded left to right over the values of ``schedules`` at ``step`` (a number, a
    Tensor, or a :class:`Time` handed to each through :func:`at_time`): the one evaluation of
    the pointwise combinators ``multiply`` and ``add``. A Python ``float`` unless a value is a
    Tensor."""
    if step.__class__ is Time:
        values = [at_time(schedule, step) for schedule in schedules]
    else:
        values = [schedule(step) for schedule in schedules]
    value = functools.reduce(op, values)
    return value if isinstance(value, Tensor) else float(value)
