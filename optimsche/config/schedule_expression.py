"""A schedule written as a call, ``"warmup_cosine(peak=3e-4, warmup=2000, steps=100000)"``,
parsed safely: nothing is evaluated.

The text must be one call of a leaf schedule function of :mod:`schedules`, by its bare name,
with literal arguments only (numbers, strings, booleans, ``None``, and lists or tuples of
them; a leading minus sign is allowed). Positional arguments are the hyperparameters after
the step, in order. Anything else (attribute access, names, operators, ``*args``,
``**kwargs``, nested calls) is refused with a :class:`~optimsche.config.error.ConfigError`.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Callable
from typing import Any

import attrs

from optimsche.config.error import ConfigError
from optimsche.config.type_resolution import (
    ScheduleFunctionType,
    conf_parameters,
    resolve_type,
    schedule_functions,
)
from optimsche.config.value_types import require_fits
from optimsche.sche_conf import check_sche_conf
from schedules.close_matches import did_you_mean


@attrs.frozen
class ScheduleExpression:
    """A parsed schedule call: the function's ``name``, its bound ``hyperparameters``, and
    ``schedule``, the function with them applied (a callable ``step -> lr``)."""

    name: str
    hyperparameters: dict[str, Any]
    schedule: Callable[[Any], Any]


def _literal(node: ast.expr, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        fragment = ast.get_source_segment(text, node) or ast.dump(node)
        raise ConfigError(
            f"schedule {text!r}: argument {fragment!r} is not a literal (numbers, strings, "
            "true/false, None and lists of them only)"
        ) from None


def parse_schedule_expression(text: str) -> ScheduleExpression:
    """Parse ``"name(arg, key=value, ...)"`` into a :class:`ScheduleExpression`.

    The arguments are bound to the function's signature and checked against its
    annotations, then the schedule is evaluated once at step 1 so that a bad hyperparameter
    (``warmup=-5``) is reported here. Every failure is a one-line :class:`ConfigError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("schedule: expected a call such as 'cosine(peak=0.1, steps=1000)'")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ConfigError(
            f"schedule {text!r}: not a valid call ({error.msg} at column {error.offset})"
        ) from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ConfigError(
            f"schedule {text!r}: expected one call of a schedule function by name, such as "
            f"'cosine(peak=0.1, steps=1000)'"
        )
    name = call.func.id
    functions = schedule_functions()
    if name not in functions:
        raise ConfigError(
            f"schedule {text!r}: unknown schedule {name!r}{did_you_mean(name, functions)} "
            f"(valid: {', '.join(functions)})"
        )
    target = resolve_type(name, f"schedule {text!r}")
    assert isinstance(target, ScheduleFunctionType)
    params = conf_parameters(target)
    bound: dict[str, Any] = {}
    for position, node in enumerate(call.args):
        if isinstance(node, ast.Starred):
            raise ConfigError(f"schedule {text!r}: *arguments are not allowed")
        if position >= len(params.accepted):
            raise ConfigError(
                f"schedule {text!r}: {name} takes at most {len(params.accepted)} "
                f"positional hyperparameters ({', '.join(params.accepted)}), "
                f"got {len(call.args)}"
            )
        bound[params.accepted[position]] = _literal(node, text)
    if any(keyword.arg is None for keyword in call.keywords):
        raise ConfigError(f"schedule {text!r}: **arguments are not allowed")
    try:
        check_sche_conf(
            f"schedule {text!r}",
            params.accepted,
            {keyword.arg: keyword for keyword in call.keywords if keyword.arg is not None},
            owner=f"schedule {name!r}",
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    for keyword in call.keywords:
        assert keyword.arg is not None
        if keyword.arg in bound:
            raise ConfigError(f"schedule {text!r}: {keyword.arg!r} is given twice")
        bound[keyword.arg] = _literal(keyword.value, text)
    missing = [key for key in params.required if key not in bound]
    if missing:
        raise ConfigError(
            f"schedule {text!r}: missing hyperparameter {missing[0]!r} of "
            f"{describe_signature(name)}"
        )
    for key, value in bound.items():
        if key in params.annotations:
            require_fits(f"schedule {text!r}: {key}", value, params.annotations[key])
    schedule = functools.partial(target.function, **bound)
    try:
        schedule(1)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"schedule {text!r}: {error}") from None
    return ScheduleExpression(name=name, hyperparameters=bound, schedule=schedule)


def describe_signature(name: str) -> str:
    """``name(hyper, ...)`` with defaults, as documentation for error messages and help."""
    function = schedule_functions()[name]
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return f"{name}({', '.join(str(p).split(':')[0] + _default(p) for p in parameters)})"


def _default(parameter: inspect.Parameter) -> str:
    if parameter.default is inspect.Parameter.empty:
        return ""
    return f"={parameter.default!r}"
