"""The attrs fields of combinators: the schedules they wrap (checked to be callable, compared
and shown by value) and their checked numbers.

``functools.partial`` objects compare by identity, so two combinators built from the same
``partial(cosine, peak=0.1, steps=100)`` would not be equal, nor would a combinator equal its
own pickled copy. :func:`schedules_equal` compares partials by function, arguments and
keywords instead, and :func:`schedule_repr` shows them as ``partial(cosine, peak=0.1,
steps=100)`` rather than with a memory address.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from torch import Tensor

from schedules.schedule_protocol import Schedule


def require_schedule(name: str, value: object) -> Schedule:
    """``value`` must be callable (a schedule ``step -> lr``)."""
    if not callable(value):
        raise ValueError(
            f"{name} must be a schedule (a callable step -> lr), got "
            f"{type(value).__name__}: {value!r}"
        )
    return value


def require_schedules(name: str, values: object) -> tuple[Schedule, ...]:
    """``values`` must be a non-empty sequence of schedules; returned as a tuple."""
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty sequence of schedules, got {values!r}")
    return tuple(require_schedule(f"{name}[{i}]", v) for i, v in enumerate(values))


def clocks_union(children: Sequence[object]) -> frozenset[str]:
    """The clocks a pointwise combinator of ``children`` reads: the union of theirs (empty when
    every child is plain: the combinator is then plain too, and is called with one number)."""
    from schedules.time_record import clocks_of  # it imports this module

    found: frozenset[str] = frozenset()
    for child in children:
        found |= clocks_of(child)
    return found


def require_plain(combinator: str, name: str, value: object) -> None:
    """A step-arithmetic combinator (``shift``, ``join``, ``stretch``, ``accumulate``, ...)
    computes with one number, the step of one clock: its child ``value`` must be plain (read
    no clock of its own). A clock-bound child is a ``ValueError`` naming the clock and the way
    to write it: bind the whole to that clock, ``on(clock, combinator(f, ...))`` with a plain
    ``f``."""
    from schedules.time_record import clocks_of  # it imports this module

    clocks = sorted(clocks_of(value))
    if clocks:
        raise ValueError(
            f"{combinator}: {name} reads the {' and '.join(map(repr, clocks))} clock"
            f"{'s' if len(clocks) > 1 else ''}, but {combinator} computes with the steps of one "
            f"clock: write on({clocks[0]!r}, {combinator}(f, ...)) with a plain f instead"
        )


CLOCKS_OPTIONS: dict[str, Any] = {"init": False, "eq": False, "hash": False, "repr": False}
"""``attrs.field`` options for the ``clocks`` of a pointwise combinator: computed from its
children when built (not an argument), not part of its equality, hash or repr."""


def require_arguments(combinator: str, values: object) -> None:
    """The schedules of a combinator taking them as separate arguments (``multiply(*fs)``,
    ``add(*fs)``): at least one, each a schedule; a list or tuple passed whole is refused with
    the way to write it."""
    if not values:
        raise ValueError(f"{combinator} needs at least one schedule, got none")
    assert isinstance(values, tuple)
    for i, schedule in enumerate(values):
        if not callable(schedule) and isinstance(schedule, list | tuple):
            raise ValueError(
                f"schedules[{i}] must be a schedule, got a {type(schedule).__name__}: pass the "
                f"schedules as separate arguments, {combinator}(*schedules)"
            )
        require_schedule(f"schedules[{i}]", schedule)


def schedules_equal(a: object, b: object) -> bool:
    """Whether two schedules (or hyperparameter values) are the same by value.

    Partials are equal when their functions, positional arguments and keywords are equal
    (recursively); tuples and lists element by element; anything else by ``==`` (falling back
    to identity when ``==`` does not give a bool, as for Tensors).
    """
    if a is b:
        return True
    if type(a) is functools.partial and type(b) is functools.partial:  # not subclasses
        return (
            schedules_equal(a.func, b.func)
            and schedules_equal(a.args, b.args)
            and a.keywords.keys() == b.keywords.keys()
            and all(schedules_equal(a.keywords[k], b.keywords[k]) for k in a.keywords)
        )
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(schedules_equal, a, b))
    try:
        same = a == b
    except Exception:
        return False
    return same if isinstance(same, bool) else False


def schedule_repr(schedule: object) -> str:
    """A readable repr that evaluates back: functions by qualified name, partials as
    ``partial(f, k=v)``, bound schedules as ``bind(f, k=v)``, tuples of schedules element by
    element, anything else by its own ``repr``."""
    from schedules.bound_schedule import BoundSchedule  # it imports this module

    if isinstance(schedule, BoundSchedule):
        given = "".join(f", {k}={v!r}" for k, v in schedule.given.items())
        return f"bind({schedule.family.name}{given})"
    if type(schedule) is functools.partial:
        parts = [schedule_repr(schedule.func)]
        parts += [repr(a) for a in schedule.args]
        parts += [f"{k}={v!r}" for k, v in schedule.keywords.items()]
        return f"partial({', '.join(parts)})"
    if isinstance(schedule, tuple):
        inner = ", ".join(schedule_repr(s) for s in schedule)
        return f"({inner},)" if len(schedule) == 1 else f"({inner})"
    qualname = getattr(schedule, "__qualname__", None)
    if isinstance(qualname, str) and not isinstance(schedule, type) and _is_function(schedule):
        return qualname
    return repr(schedule)


def _is_function(obj: object) -> bool:
    return hasattr(obj, "__code__") or type(obj).__name__ == "builtin_function_or_method"


CHILD_OPTIONS: dict[str, Any] = {
    "eq": attrs.cmp_using(eq=schedules_equal),
    "hash": False,
    "repr": schedule_repr,
}
"""``attrs.field`` options for wrapped schedule(s): compared with :func:`schedules_equal`,
left out of the hash (partials hash by identity), shown with :func:`schedule_repr`."""


def bound_child(value: Any) -> Any:
    """The converter of a field holding one wrapped schedule: a ``functools.partial`` of a
    built-in leaf becomes its bound form (:func:`schedules.bound_or_same`: checked now, fast
    at every step; a bad hyperparameter is a ``ValueError`` showing the partial), anything
    else is kept as given (the field's validator checks it is a schedule)."""
    from schedules.bound_schedule import bound_or_same  # it imports this module

    try:
        return bound_or_same(value)
    except ValueError as error:
        raise ValueError(f"{schedule_repr(value)}: {error}") from None


def bound_children(values: Any) -> Any:
    """The converter of a field holding a sequence of wrapped schedules: :func:`bound_child`
    of each element of a sequence (not a string), as a tuple; anything else as given (the
    field's validator refuses it)."""
    if isinstance(values, Sequence) and not isinstance(values, str):
        return tuple(bound_child(v) for v in values)
    return values


class _Identity:
    """A Tensor compared and hashed by identity (``==`` on Tensors is elementwise)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


def _value_key(value: object) -> object:
    return _Identity(value) if isinstance(value, Tensor) else value


VALUE_OPTIONS: dict[str, Any] = {"eq": _value_key}
"""``attrs.field`` options for a value hyperparameter: a number compares and hashes as
itself, a Tensor by identity."""


def using(check: Callable[[str, Any], object]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator that runs ``check(field_name, value)``: one of the ``require_*``
    functions of :mod:`schedules.validation`, raising ``ValueError`` naming the field."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check(attribute.name, value)

    validate.__name__ = f"using_{getattr(check, '__name__', 'check')}"
    return validate
