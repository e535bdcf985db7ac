"""The names a schedule expression may call, and with them the schedule names a config's
``type:`` takes, transformers' scheduler names among them.

Three kinds of names, looked up by :func:`lookup`:

1. the leaves, :data:`schedules.FAMILIES` (``cosine``, ``noam``, ...);
2. the combinators and rules :mod:`schedules` exports (:func:`combinators`: ``warmup``,
   ``join``, ``eden``, ``transformers_schedule``, ``reduce_on_plateau``, ...);
3. transformers' ``SchedulerType`` names (:func:`transformers_names`), by one rule:

   * ``transformers.<name>`` always names transformers' scheduler ``<name>``
     (``transformers.cosine``, ``transformers.linear``, ...);
   * the bare ``<name>`` names it too where :mod:`schedules` has no name of its own
     (``cosine_with_restarts``, ``constant_with_warmup``, ``cosine_with_min_lr``,
     ``cosine_warmup_with_min_lr``); the names both have (:data:`CLASHING`: ``linear``,
     ``cosine``, ``polynomial``, ``constant``, ``inverse_sqrt``, ``warmup_stable_decay``,
     ``greedy``) are always :mod:`schedules`' own.

   ``transformers.<name>(peak, num_warmup_steps, num_training_steps, lr, count_from,
   <its scheduler_specific_kwargs>)`` is ``transformers_schedule(name="<name>", ...)``:
   transformers' lr of a param group of initial lr ``peak``; ``count_from`` defaults to the
   counting of the shell the schedule runs in (the entry's ``count_from:``), so the lr of
   every update is transformers'. The metric names (``reduce_lr_on_plateau``, ``greedy``) are
   rules, not schedules: looking them up as schedules is an error saying how to write them.

An unknown ``transformers.<x>`` is a :class:`~optimsche.config.error.ConfigError` with its
close matches among transformers' names.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any

import schedules
from optimsche.config.error import ConfigError
from schedules.close_matches import did_you_mean
from schedules.transformers_shapes import (
    METRIC_TYPES,
    SCHEDULER_KWARGS,
    SCHEDULER_TYPES,
    STEP_TYPES,
    transformers_schedule,
)

TRANSFORMERS_PREFIX = "transformers."
"""The prefix that always names transformers' schedulers (module doc)."""

NOT_IN_THE_LANGUAGE = frozenset(
    {"real_step", "is_update_step", "bind", "bound_or_same", "family_of"}
)
"""Lower-case exports of :mod:`schedules` that are helpers, not names of the language."""

TRANSFORMERS_COMMON = ("peak", "num_warmup_steps", "num_training_steps", "lr", "count_from")
"""The arguments every ``transformers.<name>`` takes before its own keywords."""


def leaves() -> dict[str, Callable[..., Any]]:
    """The leaf schedule functions by name (:data:`schedules.FAMILIES`)."""
    return {name: family.function for name, family in schedules.FAMILIES.items()}


def combinators() -> dict[str, Callable[..., Any]]:
    """The names of the language that are not leaves: the combinators :mod:`schedules`
    exports (lower-case classes whose instances are schedules, and functions building one
    such as ``eden``) and its rules (``reduce_on_plateau``)."""
    found: dict[str, Callable[..., Any]] = {}
    leaf_names = schedules.FAMILIES
    for name in schedules.__all__:
        value = getattr(schedules, name)
        if name in NOT_IN_THE_LANGUAGE or name in leaf_names or not name.islower():
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            found[name] = value
    return found


CLASHING = tuple(
    name for name in SCHEDULER_TYPES if name in schedules.FAMILIES or name in schedules.__all__
)
"""transformers' names that :mod:`schedules` also has: bare, they are :mod:`schedules`' own;
``transformers.<name>`` is transformers'."""


def _transformers_signature(name: str) -> inspect.Signature:
    """``(peak, num_warmup_steps=None, num_training_steps=None, lr=None, count_from=1,
    <the name's scheduler_specific_kwargs with transformers' defaults>)``."""
    signature = inspect.signature(transformers_schedule)
    own = signature.parameters
    parameters = [own[key] for key in TRANSFORMERS_COMMON]
    parameters += [
        inspect.Parameter(
            key,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=default,
            annotation=own[key].annotation,
        )
        for key, default in SCHEDULER_KWARGS[name].items()
    ]
    return inspect.Signature(parameters, return_annotation=signature.return_annotation)


def _named_transformers_schedule(name: str, /, *args: Any, **kwargs: Any) -> Any:
    bound = _transformers_signature(name).bind(*args, **kwargs)
    bound.apply_defaults()
    return transformers_schedule(name, **bound.arguments)


@functools.cache
def transformers_builder(name: str) -> Callable[..., Any]:
    """The builder ``transformers.<name>`` stands for (module doc): a function of the
    arguments of :func:`_transformers_signature`, calling
    :func:`schedules.transformers_schedule` with ``name``."""
    builder = functools.partial(_named_transformers_schedule, name)
    builder.__doc__ = f"transformers_schedule({name!r}, ...): transformers' {name} schedule"
    builder.__name__ = builder.__qualname__ = TRANSFORMERS_PREFIX + name  # type: ignore[attr-defined]
    builder.__signature__ = _transformers_signature(name)  # type: ignore[attr-defined]
    return builder


def transformers_names() -> dict[str, str]:
    """Every name that stands for a transformers scheduler -> its ``SchedulerType`` name:
    ``transformers.<name>`` for each, and the bare names that do not clash (module doc)."""
    names = {TRANSFORMERS_PREFIX + name: name for name in SCHEDULER_TYPES}
    names.update({name: name for name in SCHEDULER_TYPES if name not in CLASHING})
    return names


def _metric_refusal(name: str, where: str) -> ConfigError:
    rule = "reduce_on_plateau" if name == "reduce_lr_on_plateau" else name
    return ConfigError(
        f"{where}: transformers' {name!r} is a metric rule, not a schedule of the step: keep "
        f"the optimizer's lr and give plateau: {{type: {rule}, ...}} (scales of the lr, "
        f"observe(metric) feeds it), or in Python optimsche.get_scheduler({name!r}, ...)"
    )


def transformers_target(name: str, where: str) -> str | None:
    """The ``SchedulerType`` name ``name`` stands for, or ``None`` when it is no transformers
    name (a leaf, a combinator, anything else). An unknown ``transformers.<x>`` and a metric
    name are a :class:`ConfigError` naming ``where``."""
    target = transformers_names().get(name)
    if target is None:
        if name.startswith(TRANSFORMERS_PREFIX):
            valid = [TRANSFORMERS_PREFIX + n for n in STEP_TYPES]
            raise ConfigError(
                f"{where}: unknown transformers scheduler {name!r}{did_you_mean(name, valid)} "
                f"(valid: {', '.join(valid)})"
            )
        return None
    if target in METRIC_TYPES:
        raise _metric_refusal(target, where)
    return target


def lookup(name: str, where: str) -> Callable[..., Any] | None:
    """What ``name`` calls in the language (module doc), or ``None`` when it is unknown; a
    :class:`ConfigError` for an unknown ``transformers.<x>`` or a metric name."""
    found = leaves().get(name) or combinators().get(name)
    if found is not None:
        return found
    target = transformers_target(name, where)
    return None if target is None else transformers_builder(target)


_PLAIN = (float, int, str, bool, type(None))


def _takes_plain_values(function: Callable[..., Any]) -> bool:
    """Whether every parameter of ``function`` is annotated with plain values only (numbers,
    strings, booleans, ``None`` and unions of them): no schedule among its arguments."""
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError):
        return False
    parameters = inspect.signature(function).parameters
    if not parameters or any(name not in hints for name in parameters):
        return False
    return all(
        all(arg in _PLAIN for arg in (typing.get_args(hint) or (hint,)))
        for name, hint in hints.items()
        if name != "return"
    )


def builders() -> dict[str, Callable[..., Any]]:
    """The names of the language that build a schedule from plain values (numbers,
    strings, booleans), which a config's ``type:`` may therefore name with its keys as the
    arguments: the functions :mod:`schedules` exports whose arguments are all plain
    (``eden``, ``eden2``, ``transformers_schedule``), then transformers' step-driven names.
    Combinators, which take schedules, and rules are not among them."""
    found: dict[str, Callable[..., Any]] = {
        name: function
        for name, function in combinators().items()
        if inspect.isfunction(function) and _takes_plain_values(function)
    }
    for name, target in transformers_names().items():
        if target in STEP_TYPES:
            found[name] = transformers_builder(target)
    return found


def known_names() -> list[str]:
    """Every name an expression may call: the leaves, the combinators and rules, then
    transformers' step-driven names (``transformers.<name>``, and the bare ones that do not
    clash)."""
    step_names = [n for n, target in transformers_names().items() if target in STEP_TYPES]
    return [*leaves(), *combinators(), *step_names]


def transformers_hint(name: str, keys: Iterable[str]) -> str:
    """``" (transformers' cosine is 'transformers.cosine')"`` when ``name`` is one of
    :data:`CLASHING` and one of ``keys`` (the unknown keys it was given) is a key of
    transformers' scheduler of that name; else ``""``."""
    if name not in CLASHING or name in METRIC_TYPES:
        return ""
    theirs = {*TRANSFORMERS_COMMON, *SCHEDULER_KWARGS[name]} - {"peak", "lr", "count_from"}
    if not any(key in theirs for key in keys):
        return ""
    return (
        f" (this is optimsche's {name}; transformers' {name} is "
        f"'{TRANSFORMERS_PREFIX}{name}', with num_warmup_steps and num_training_steps)"
    )
