"""A leaf schedule family: its checks, its formula for numbers and for Tensors, and what the
rest of the code needs to know of it.

Every leaf module (``schedules/cosine.py``, ...) is written in the same four parts, in the
manner of optax's ``cosine_decay_schedule`` (checks in the factory, pure math in the closure)
and einops' recipes (validate once into a recipe, then straight-line code):

1. ``_prepare(**hyperparameters) -> recipe``: every check (``require_*`` of
   :mod:`schedules.validation`, each failure a ``ValueError`` naming the hyperparameter) and
   every constant of the formula computed once (``math.pi / steps``, ``warmup ** -1.5``; a
   derived constant that overflows is a ``ValueError`` here, never an ``OverflowError`` at a
   step). The recipe is a ``NamedTuple`` of the checked values and those constants. Its
   parameters are the leaf's, in the same order, with the same defaults. A family may
   instead declare each hyperparameter's kind (``Family(checks={"steps": "positive",
   ...})``, :data:`schedules.validation.KINDS`): the family checks them first, and
   ``prepare`` gets the checked values (the recipe itself when nothing else is left).
2. ``_scalar(step, recipe) -> float``: the formula with :mod:`math` for a Python ``int`` or
   ``float`` step (never NaN: the caller has refused it). No checks, no tensors.
3. ``_tensor(step, recipe) -> Tensor``: the formula with torch for a Tensor step, elementwise
   and without Python branching on values (``vmap`` and ``torch.compile`` safe), on as few
   buffers and passes over memory as the formula needs (:func:`schedules.step_input.
   float_steps` makes the one buffer it may overwrite; :mod:`schedules.tensor_values` combines
   it with value hyperparameters, in place when they are floats). Value hyperparameters may
   be Tensors here (the result broadcasts); Python steps with Tensor values arrive as a 0-d
   ``float64`` Tensor.
4. ``FAMILY = Family(_prepare, _scalar, _tensor, values=..., lengths=..., horizon=...,
   extent=...)``, which :mod:`schedules.families` collects into ``FAMILIES``, then the
   public function, decorated by :meth:`Family.leaf`: ``@FAMILY.leaf def leaf(step,
   *hyperparameters)`` (its signature and docstring are the documentation), whose body is
   ``return FAMILY.call(step, (h1, h2, ..., h1.__class__, h2.__class__, ...))``. The
   decorator returns the leaf's front (:mod:`schedules.leaf_front`), which the module and
   :mod:`schedules` export.

:attr:`Family.call` is the direct keyword call: it validates every call, through a small cache
of recipes keyed on the hyperparameters and their classes (so that ``True`` never passes for
a cached ``1``; only Python numbers, strings, None and bools are cached; Tensor
hyperparameters and lists bypass it and are validated afresh). In front of it, the leaf's
front runs the formula at once when a Python-number step comes with the very hyperparameter
objects of the last cached call (``is``: the same objects of an immutable class, so the same
recipe). While ``torch.compile`` traces, a Tensor step never touches the cache or the memo
(no guard on their contents) and a recipe missing from the cache is checked but not stored.
:func:`schedules.bind` validates once and keeps the recipe.

Adding a hyperparameter to a leaf: add it to the public signature, to the key passed to
``FAMILY.call`` (its value and its class), to ``_prepare`` (check it, store it in the
recipe) and to the formulas; name it in ``values`` if it may be a Tensor, in ``lengths`` if it
is a step count; extend ``horizon`` and ``extent`` if it moves them. Adding a leaf: a module
in this pattern, its ``FAMILY`` in :mod:`schedules.families` (in table order), its export in
:mod:`schedules`, a hypothesis strategy in :mod:`schedules.testing.family_strategies` and its
facts in ``tests/schedules/test_family_properties.py`` (both fail loudly when one is missing).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

import attrs
import torch
from torch import Tensor

from schedules.close_matches import did_you_mean
from schedules.leaf_front import Memo, empty_memo, make_front
from schedules.scalar_or_tensor import S
from schedules.step_input import number_step
from schedules.validation import Check, check_of

Recipe = tuple[Any, ...]
"""The checked hyperparameters of one leaf and its formula's constants (a NamedTuple)."""

Hyperparameters = Mapping[str, Any]
"""Hyperparameters by name, as keyword arguments of the leaf."""

CACHE_SIZE = 256
"""Recipes kept per family for direct calls; the cache is emptied when it is full."""

_CACHEABLE = frozenset({int, float, str, bool, type(None)})


_PLAIN = frozenset({int, float})

F = TypeVar("F", bound=Callable[..., Any])


def _holds_tensor(value: object) -> bool:
    """Whether ``value`` is a Tensor or a list/tuple holding one (at any depth)."""
    if isinstance(value, Tensor):
        return True
    if value.__class__ is list or value.__class__ is tuple:
        if _PLAIN.issuperset(map(type, value)):
            return False  # numbers only: the common case, checked in C
        return any(_holds_tensor(v) for v in value)
    return False


class DirectCall(Protocol):
    """``call(step, key)``: a leaf at ``step`` for ``key = (*hyperparameters, *their
    classes)``; a number in, a float out; a Tensor in, a Tensor out."""

    def __call__(self, step: S, key: tuple[Any, ...], /) -> S: ...


@attrs.frozen(eq=False)
class Family:
    """A built-in leaf schedule: its function and what the rest of the code needs of it.

    * ``function``: the public leaf, ``function(step, **hyperparameters)``;
    * ``prepare``, ``scalar``, ``tensor``: its checks and its two formulas (module docs);
    * ``values``: the hyperparameters that may be Tensors (any shape broadcasting with the
      step; not range-checked);
    * ``lengths``: the hyperparameters that are step counts (``steps``, ``warmup``,
      ``boundaries``, ...); with ``settings``, the rest (rates, exponents, modes), they
      stay Python values;
    * ``horizon(hyperparameters)``: a step from which the value holds for ever, or ``None``
      when there is none for these hyperparameters; ``horizon`` itself is ``None`` for a
      family that never settles (periodic, or decaying for ever);
    * ``extent(hyperparameters)``: how many steps show the schedule's shape (its horizon
      when it has one; a few warm-ups or periods otherwise), for plots and CLIs.

    ``parameters`` (in signature order), ``defaults`` and ``required`` are read from the
    function's signature. :meth:`resolve` turns keyword hyperparameters into the complete
    argument tuple (unknown or missing names are a ``ValueError`` with close matches).
    """

    prepare: Callable[..., Any] = attrs.field(repr=False)
    scalar: Callable[[Any, Any], float] = attrs.field(repr=False)
    tensor: Callable[[Tensor, Any], Tensor] = attrs.field(repr=False)
    values: tuple[str, ...] = ()
    lengths: tuple[str, ...] = ()
    horizon: Callable[[Hyperparameters], float | None] | None = attrs.field(
        default=None, repr=False
    )
    extent: Callable[[Hyperparameters], float] | None = attrs.field(default=None, repr=False)
    checks: Mapping[str, str | Check] = attrs.field(factory=dict, repr=False)
    """Each hyperparameter's kind (a name of :data:`schedules.validation.KINDS`, or a
    :data:`~schedules.validation.Check`), checked in signature order before ``prepare`` runs,
    which then gets the checked values and does only what the kinds cannot say (constants of
    the formula, checks between hyperparameters)."""
    function: Callable[..., Any] = attrs.field(init=False)
    """The public leaf: the front (:mod:`schedules.leaf_front`) of the function decorated by
    :meth:`leaf`, which ``function.__wrapped__`` is."""
    name: str = attrs.field(init=False)
    parameters: tuple[str, ...] = attrs.field(init=False)
    defaults: Mapping[str, Any] = attrs.field(init=False, repr=False)
    _cache: dict[Any, Any] = attrs.field(init=False, factory=dict, repr=False)
    _memo: Memo = attrs.field(init=False, repr=False)
    call: DirectCall = attrs.field(init=False, repr=False)
    """``call(step, key)``: the direct call of the leaf, ``key = (*hyperparameters, *their
    classes)`` in signature order."""

    def leaf(self, function: F) -> F:
        """Decorator: ``function`` (``function(step, *hyperparameters)``, whose body is
        ``return FAMILY.call(step, key)``) becomes this family's leaf; returns its front
        (:mod:`schedules.leaf_front`), the public function. Called once, in the leaf's module,
        right after the family is made."""
        if hasattr(self, "function"):
            raise ValueError(f"the family of {self.name} has its leaf already")
        signature = inspect.signature(function)
        names = list(signature.parameters)[1:]  # after the step
        defaults = {
            n: p.default
            for n, p in signature.parameters.items()
            if n in names and p.default is not inspect.Parameter.empty
        }
        unknown = [n for n in (*self.values, *self.lengths) if n not in names]
        if unknown:
            raise ValueError(f"{function.__name__} has no hyperparameters {unknown}")
        undeclared = [n for n in self.checks if n not in names]
        if undeclared:
            raise ValueError(f"{function.__name__} has no hyperparameters {undeclared}")
        memo = empty_memo(len(names))
        front = make_front(function, memo, self.scalar)
        if self.checks:
            object.__setattr__(
                self, "prepare", _checked_prepare(self.prepare, names, defaults, self.checks)
            )
        for field, value in (
            ("function", front),
            ("name", function.__name__),
            ("parameters", tuple(names)),
            ("defaults", defaults),
            ("_memo", memo),
        ):
            object.__setattr__(self, field, value)
        object.__setattr__(self, "call", self._make_call())
        return cast(F, front)

    @property
    def required(self) -> tuple[str, ...]:
        """The hyperparameters without a default."""
        return tuple(n for n in self.parameters if n not in self.defaults)

    @property
    def settings(self) -> tuple[str, ...]:
        """The hyperparameters that are neither values nor lengths (rates, exponents,
        modes, ``d_model``)."""
        return tuple(n for n in self.parameters if n not in self.values + self.lengths)

    def resolve(self, hyperparameters: Hyperparameters) -> tuple[Any, ...]:
        """The complete arguments after the step, in signature order, defaults filled in.

        An unknown name or a missing required one is a ``ValueError`` naming it, with the
        close matches and the valid names. Values are not checked here (``prepare`` does).
        """
        for name in hyperparameters:
            if name not in self.parameters:
                raise ValueError(
                    f"{self.name} has no hyperparameter {name!r}"
                    f"{did_you_mean(name, self.parameters)} (its hyperparameters: "
                    f"{', '.join(self.parameters)})"
                )
        missing = [n for n in self.required if n not in hyperparameters]
        if missing:
            raise ValueError(
                f"{self.name} needs {', '.join(repr(n) for n in missing)} (its hyperparameters: "
                f"{', '.join(self.parameters)}; required: {', '.join(self.required)})"
            )
        return tuple(
            hyperparameters[n] if n in hyperparameters else self.defaults[n]
            for n in self.parameters
        )

    def complete(self, hyperparameters: Hyperparameters) -> dict[str, Any]:
        """``hyperparameters`` with the defaults filled in (names checked as by
        :meth:`resolve`)."""
        return dict(zip(self.parameters, self.resolve(hyperparameters), strict=True))

    def horizon_of(self, hyperparameters: Hyperparameters) -> float | None:
        """:attr:`horizon` for these hyperparameters (defaults filled in; checked first)."""
        if self.horizon is None:
            return None
        complete = self.complete(hyperparameters)
        self.prepare(**complete)
        return self.horizon(complete)

    def extent_of(self, hyperparameters: Hyperparameters) -> float:
        """:attr:`extent` for these hyperparameters (defaults filled in; checked first)."""
        complete = self.complete(hyperparameters)
        self.prepare(**complete)
        if self.extent is not None:
            return self.extent(complete)
        horizon = None if self.horizon is None else self.horizon(complete)
        return 1000.0 if horizon is None else horizon

    def _make_call(self) -> DirectCall:
        """The direct call, as a closure over the cache and the formulas (no attribute
        lookups, no bound method per call: it runs at every direct call)."""
        cache, scalar, evaluate, uncached = self._cache, self.scalar, self.evaluate, self._uncached
        memo = self._memo
        arity = len(self.parameters)
        is_dynamo_compiling = torch.compiler.is_dynamo_compiling

        def call(step: Any, key: tuple[Any, ...]) -> Any:
            cls = step.__class__
            number = cls is int or (cls is float and step == step)
            # A Python number's value is a constant even under dynamo, which reads the cache
            # as it reads any global (and guards on what it read); a traced Tensor step must
            # not guard on the cache's contents.
            tracing = is_dynamo_compiling()
            if tracing and not number:
                args = key[:arity]
                return evaluate(step, self.prepare(*args), _holds_tensor(args))
            try:
                recipe = cache[key]
            except KeyError:
                return uncached(step, key, True)
            except TypeError:  # unhashable (a list of boundaries): checked afresh
                return uncached(step, key, False)
            if not number:
                return evaluate(step, recipe, False)
            if not tracing:  # the front's memo (schedules.leaf_front)
                memo[0] = (*key[:arity], recipe)
            return scalar(step, recipe)

        call.__doc__ = (
            f"{self.name}(step, *hyperparameters) for key = (*hyperparameters, *their "
            "classes): the hyperparameters validated (through the cache of recipes), then the "
            "formula for the step."
        )
        return call

    def _uncached(self, step: Any, key: tuple[Any, ...], hashable: bool) -> Any:
        arity = len(self.parameters)
        args = key[:arity]
        recipe = self.prepare(*args)
        tensor_values = _holds_tensor(args)
        if hashable and torch.compiler.is_dynamo_compiling():
            hashable = False  # traced: the cache is left as it is
        if hashable and not tensor_values and _CACHEABLE.issuperset(key[arity:]):
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = recipe
            self._memo[0] = (*args, recipe)
        return self.evaluate(step, recipe, tensor_values)

    def evaluate(self, step: Any, recipe: Any, tensor_values: bool) -> Any:
        """The formula at ``step`` for a checked ``recipe``: a Tensor step (or any step,
        when some value hyperparameter is a Tensor) gives a Tensor, a number a float."""
        if isinstance(step, Tensor):
            return self.tensor(step, recipe)
        number = number_step(step)
        if tensor_values:
            return self.tensor(torch.tensor(number, dtype=torch.float64), recipe)
        return float(self.scalar(number, recipe))


def _checked_prepare(
    prepare: Callable[..., Any],
    names: list[str],
    defaults: Mapping[str, Any],
    checks: Mapping[str, str | Check],
) -> Callable[..., Any]:
    """``prepare`` behind the declared checks: each hyperparameter with a kind is checked (in
    signature order) and replaced by its checked value, then ``prepare`` runs on them."""
    plan = tuple((n, check_of(checks[n]) if n in checks else None) for n in names)

    def checked_prepare(*args: Any, **kwargs: Any) -> Any:
        values = list(args)
        for name in names[len(values) :]:  # keywords, then defaults
            values.append(kwargs[name] if name in kwargs else defaults[name])
        return prepare(
            *(
                v if check is None else check(n, v)
                for (n, check), v in zip(plan, values, strict=True)
            )
        )

    checked_prepare.__doc__ = prepare.__doc__
    return checked_prepare


def finite_constant(name: str, value: object, constant: float, what: str) -> float:
    """``constant``, a number the formula derives from hyperparameter ``name`` (``π /
    steps``, ``scale · d_model ** -0.5``), which must be finite: a ``ValueError`` naming
    ``name`` and its ``value`` otherwise, at validation, instead of an ``OverflowError``,
    a ``ZeroDivisionError`` or an infinite value at some step."""
    if not abs(constant) < math.inf:  # not math.isfinite: dynamo traces symbolic floats
        raise ValueError(
            f"{name}={value!r} is out of range: {what} would be {constant!r}, and the "
            "formula needs it finite"
        )
    return constant
