"""What the ``type`` of an ``optim_sches`` entry names, and which conf keys it takes.

``resolve_type(name)`` tries, in order:

1. the shell classes by their SpeeChain names: ``noam.NoamLr`` (alias ``noam.Noamlr``),
   ``exp.ExponentDecayLr`` and plain ``OptimScheduler``;
2. transformers' scheduler names ``transformers.<name>`` (before any import: ``transformers``
   is never imported), an :class:`ExpressionCallType`;
3. any importable dotted path ``pkg.mod.Class`` naming an
   :class:`~optimsche.optim_scheduler.OptimScheduler` subclass (a user's own);
4. the name of a leaf schedule function of :mod:`schedules` (``cosine``, ``warmup_cosine``,
   ...), whose hyperparameters are then given among the conf keys;
5. a name of the schedule expression language that builds a schedule from plain values
   (:func:`optimsche.config.language_names.builders`: ``eden``, ``eden2``,
   ``transformers_schedule``, or a transformers name that does not clash with a name of
   :mod:`schedules`, ``cosine_with_restarts``): an :class:`ExpressionCallType`, whose conf
   keys are the call's arguments. Combinators (which take schedules) and rules are no types.

An unknown name is a :class:`ConfigError` listing the close matches (``difflib``).

``conf_parameters(resolved)`` tells which scheduling keys the type takes: the keyword
parameters of the class's ``sche_init`` or of the schedule function after its step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from optimsche.config.error import ConfigError
from optimsche.config.language_names import (
    TRANSFORMERS_PREFIX,
    builders,
    leaves,
    lookup,
)
from optimsche.dotted_import import ImportRefused, import_dotted
from schedules.close_matches import did_you_mean

if TYPE_CHECKING:
    from optimsche.optim_scheduler import OptimScheduler

SHELL_CLASSES: dict[str, str] = {
    "noam.NoamLr": "optimsche.speechain.NoamLr",
    "noam.Noamlr": "optimsche.speechain.Noamlr",
    "exp.ExponentDecayLr": "optimsche.speechain.ExponentDecayLr",
    "OptimScheduler": "optimsche.optim_scheduler.OptimScheduler",
}
"""The shell classes by the names a config uses -> their dotted paths."""


def schedule_functions() -> dict[str, Callable[..., Any]]:
    """The leaf schedule functions of :mod:`schedules` by name, from its one registry
    (:data:`schedules.FAMILIES`): combinators, rules and helpers are not leaves."""
    return leaves()


@attrs.frozen
class ShellClassType:
    """``type`` names an OptimScheduler class (``noam.NoamLr`` or a user's own subclass)."""

    name: str
    cls: type[OptimScheduler]


@attrs.frozen
class ScheduleFunctionType:
    """``type`` names a leaf schedule function; the conf keys hold its hyperparameters."""

    name: str
    function: Callable[..., Any]


@attrs.frozen
class ExpressionCallType:
    """``type`` names a name of the expression language that is not a leaf (``eden``,
    ``transformers.cosine``): the entry is ``type: OptimScheduler`` with the schedule
    ``name(<conf keys>)`` (:func:`optimsche.config.schedule_expression.parse_schedule_call`)."""

    name: str
    function: Callable[..., Any]


ResolvedType = ShellClassType | ScheduleFunctionType


@attrs.frozen
class ConfParameters:
    """The scheduling keys a type takes: all of ``accepted`` (any key at all when
    ``accepts_any``), ``required`` among them, and each key's annotation when known."""

    accepted: tuple[str, ...]
    required: tuple[str, ...]
    accepts_any: bool
    annotations: dict[str, Any]


def known_type_names() -> list[str]:
    """Every name ``resolve_type`` knows without importing user code: the shell classes and
    the leaves and the other names of the expression language that build a schedule
    (:func:`~optimsche.config.language_names.builders`)."""
    return [*SHELL_CLASSES, *schedule_functions(), *builders()]


def _optim_scheduler_class() -> type[OptimScheduler]:
    from optimsche.optim_scheduler import OptimScheduler

    return OptimScheduler


def _import_dotted(name: str, where: str) -> object:
    try:
        return import_dotted(name, f"{where}: unknown type", suggest=known_type_names())
    except ImportRefused as refused:
        raise ConfigError(f"{where}: {name!r}: {refused.reason}") from None
    except ValueError as error:
        raise ConfigError(str(error)) from None


def resolve_type(name: object, where: str = "type") -> ResolvedType | ExpressionCallType:
    """The class, schedule function or call of the expression language that ``name`` (a
    config's ``type``) stands for (module doc).

    ``where`` prefixes error messages (``"optim_sches.main.type"``).
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{where}: must be a non-empty string naming an OptimScheduler class or a "
            f"schedule function, got {name!r}"
        )
    base = _optim_scheduler_class()
    functions = schedule_functions()
    if name.startswith(TRANSFORMERS_PREFIX):
        builder = lookup(name, where)  # refuses an unknown or metric transformers name
        assert builder is not None
        return ExpressionCallType(name=name, function=builder)
    if name not in functions and name not in SHELL_CLASSES and "." not in name:
        lookup(name, where)  # refuses a metric transformers name (reduce_lr_on_plateau)
        builder = builders().get(name)
        if builder is not None:
            return ExpressionCallType(name=name, function=builder)
    if name in SHELL_CLASSES or "." in name:
        target = _import_dotted(SHELL_CLASSES.get(name, name), where)
        if inspect.isclass(target) and issubclass(target, base):
            return ShellClassType(name=name, cls=target)
        function_name = getattr(target, "__name__", "")
        if functions.get(function_name) is target:
            return ScheduleFunctionType(name=function_name, function=functions[function_name])
        raise ConfigError(
            f"{where}: {name!r} is not an OptimScheduler subclass (got {target!r}); a type "
            "names an OptimScheduler class or a schedule function of `schedules`"
        )
    if name in functions:
        return ScheduleFunctionType(name=name, function=functions[name])
    valid = ", ".join(known_type_names())
    raise ConfigError(
        f"{where}: unknown type {name!r}{did_you_mean(name, known_type_names())} "
        f"(valid: {valid}, or an importable dotted path to an OptimScheduler subclass)"
    )


def _signature(function: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(function, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        return inspect.signature(function)


def _parameters_of(
    parameters: list[inspect.Parameter],
) -> ConfParameters:
    accepted: list[str] = []
    required: list[str] = []
    annotations: dict[str, Any] = {}
    accepts_any = False
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_any = True
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        accepted.append(parameter.name)
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        if parameter.annotation is not inspect.Parameter.empty:
            annotations[parameter.name] = parameter.annotation
    return ConfParameters(
        accepted=tuple(accepted),
        required=tuple(required),
        accepts_any=accepts_any,
        annotations=annotations,
    )


def conf_parameters(resolved: ResolvedType) -> ConfParameters:
    """The scheduling keys ``resolved`` takes.

    For a class: the parameters of ``cls.sche_init`` (after ``self``); a ``**kwargs`` there
    means any key, and the base class's own hook takes none. For a schedule function: its
    parameters after the step.
    """
    if isinstance(resolved, ShellClassType):
        if resolved.cls.sche_init is _optim_scheduler_class().sche_init:
            # the base hook takes no keys (it is driven by schedule= or keeps the lr)
            return ConfParameters(accepted=(), required=(), accepts_any=False, annotations={})
        parameters = list(_signature(resolved.cls.sche_init).parameters.values())[1:]
    else:
        parameters = list(_signature(resolved.function).parameters.values())[1:]
    return _parameters_of(parameters)
