"""A leaf schedule with its hyperparameters checked once: ``schedules.bind(cosine, peak=0.1,
steps=1000)``.

:class:`BoundSchedule` is a small callable record behind the public factory :func:`bind` (as
attrs' ``validators.instance_of``): :func:`bind` checks the hyperparameters once (the leaf's
``prepare``, the same checks as a direct call) and keeps the recipe; calling the bound
schedule checks only the step (its type; a NaN Python step is a ``ValueError``), then runs
the formula. It is frozen, picklable (it is bound afresh, checks included, when unpickled),
compared and hashed by its family and complete hyperparameters (Tensors by identity), and its
repr reads like the call: ``noam(d_model=512, warmup=4000)``.

:func:`bound_or_same` is what the shell, the config builder and the CLI apply to a schedule
they are given: a ``functools.partial`` of a built-in leaf with keyword arguments becomes its
bound form (the same values, faster, checked now rather than at the first step); anything
else is returned as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from torch import Tensor

from schedules.close_matches import did_you_mean
from schedules.combinator_fields import schedules_equal
from schedules.families import FAMILIES, family_of
from schedules.leaf_family import Family


def _frozen(value: Any) -> Any:
    """Lists (and tuples) of hyperparameters as tuples, recursively: hashable and immutable."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _has_tensor(value: Any) -> bool:
    if isinstance(value, Tensor):
        return True
    return isinstance(value, tuple) and any(_has_tensor(v) for v in value)


def _tensor_formula(family: Family, step: Any, recipe: Any) -> Any:
    """A Python step with Tensor values: the tensor formula (the result broadcasts)."""
    return family.evaluate(step, recipe, True)


def _run(scalar: Callable[[Any, Any], Any], family: Family, recipe: Any, step: Any) -> Any:
    """The call of a bound schedule: the formula for a Python ``int``/``float`` step (not
    NaN), :meth:`Family.evaluate` for anything else (Tensors, numpy numbers, refusals)."""
    cls = step.__class__
    if cls is int:
        return scalar(step, recipe)
    if cls is float and step == step:
        return scalar(step, recipe)
    return family.evaluate(step, recipe, scalar is not family.scalar)


class BoundSchedule(functools.partial):  # type: ignore[type-arg]
    """``family.function(step, **hyperparameters)`` with the hyperparameters checked once.

    Build it with :func:`bind`. ``family`` is the :class:`~schedules.leaf_family.Family`,
    ``function`` its leaf, ``hyperparameters`` the complete keyword arguments (defaults
    filled in; lists as tuples) and ``given`` the names given to :func:`bind`.

    It is a ``functools.partial`` of its runner (the C-level call of a partial is the
    cheapest there is: a bound scalar call costs about what the formula written inline does),
    but compares, hashes, prints and pickles as the bound leaf, and is frozen.
    """

    __slots__ = ("_given", "_hash", "_values", "family")

    family: Family
    _values: tuple[Any, ...]
    _given: tuple[str, ...]
    _hash: int | None

    def __new__(cls, family: Family, hyperparameters: Mapping[str, Any]) -> BoundSchedule:
        values = tuple(_frozen(v) for v in family.resolve(hyperparameters))
        recipe = family.prepare(*values)
        tensor_values = any(_has_tensor(v) for v in values)
        scalar = functools.partial(_tensor_formula, family) if tensor_values else family.scalar
        self = super().__new__(cls, _run, scalar, family, recipe)
        for name, value in (
            ("family", family),
            ("_values", values),
            ("_given", tuple(n for n in family.parameters if n in hyperparameters)),
            ("_hash", None),
        ):
            object.__setattr__(self, name, value)
        return self

    @property
    def function(self) -> Callable[..., Any]:
        """The leaf function: ``bound(s) == bound.function(s, **bound.hyperparameters)``."""
        return self.family.function

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The complete hyperparameters (defaults filled in), by name."""
        return dict(zip(self.family.parameters, self._values, strict=True))

    @property
    def given(self) -> dict[str, Any]:
        """The hyperparameters given to :func:`bind`, by name."""
        return {n: v for n, v in self.hyperparameters.items() if n in self._given}

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"a bound schedule is frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"a bound schedule is frozen: cannot delete {name!r}")

    def __repr__(self) -> str:
        given = ", ".join(f"{n}={v!r}" for n, v in self.given.items())
        return f"{self.family.name}({given})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BoundSchedule):
            return NotImplemented
        return self.family is other.family and schedules_equal(self._values, other._values)

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash((self.family.name, self._values)))
        assert self._hash is not None
        return self._hash

    def __reduce__(self) -> tuple[Callable[..., BoundSchedule], tuple[str, dict[str, Any]]]:
        return _rebind, (self.family.name, self.given)


def _rebind(name: str, hyperparameters: dict[str, Any]) -> BoundSchedule:
    """Unpickling: bind the family ``name`` afresh (its checks run again)."""
    return BoundSchedule(FAMILIES[name], hyperparameters)


def bind(leaf: Callable[..., Any] | str, /, **hyperparameters: Any) -> Any:
    """``leaf`` with its hyperparameters checked once: a :class:`BoundSchedule`.

    ``leaf`` is a built-in leaf function (``schedules.cosine``) or its name (``"cosine"``).
    An unknown or missing hyperparameter is a ``ValueError`` naming it, with close matches
    (``bind(noam, d_model=512, warmup_steps=4000)``: "did you mean 'warmup'?"); a bad value
    the ``ValueError`` of the leaf's own checks. Any other callable (a user's own schedule
    function) is bound as a plain ``functools.partial(leaf, **hyperparameters)``.
    """
    if isinstance(leaf, str):
        if leaf not in FAMILIES:
            raise ValueError(
                f"no built-in schedule named {leaf!r}{did_you_mean(leaf, FAMILIES)} (they "
                f"are: {', '.join(FAMILIES)})"
            )
        return BoundSchedule(FAMILIES[leaf], hyperparameters)
    family = family_of(leaf)
    if family is not None:
        return BoundSchedule(family, hyperparameters)
    if not callable(leaf):
        raise ValueError(
            f"leaf must be a schedule function or the name of a built-in one, got "
            f"{type(leaf).__name__}: {leaf!r}"
        )
    return functools.partial(leaf, **hyperparameters)


def bound_or_same(schedule: Any) -> Any:
    """The bound form of a ``functools.partial`` of a built-in leaf with keyword arguments
    only (``partial(cosine, peak=0.1, steps=1000)`` -> ``bind(cosine, peak=0.1,
    steps=1000)``); any other object, returned unchanged.

    The hyperparameters are checked now: a bad one is the leaf's ``ValueError`` here instead
    of at the first step. Values are the same, step for step (the same formula).
    """
    if type(schedule) is functools.partial and not schedule.args:
        family = family_of(schedule.func)
        if family is not None:
            return BoundSchedule(family, schedule.keywords)
    return schedule
