"""A schedule written as a call, ``"warmup(cosine(peak=1e-3, steps=10000), steps=500)"``,
parsed safely: nothing is evaluated.

The language: one call, by bare name, of a leaf schedule function of :mod:`schedules`
(``cosine``, ``noam``, ...), of a combinator (``warmup``, ``join``, ``scale``, ``accumulate``,
``stretch``, ``clamp``, ``multiply``, ...) or of a rule such as ``reduce_on_plateau`` — every
name :mod:`schedules` exports that takes no step first (``real_step``, ``is_update_step`` and
``bind`` are not part of the language) — or of transformers' schedulers,
``transformers.cosine(peak=3e-4, num_warmup_steps=500, num_training_steps=10000)`` (and the
bare names that do not clash with :mod:`schedules`' own:
:mod:`optimsche.config.language_names`). The arguments are literals (numbers, strings,
booleans, ``None``, and lists or tuples of them; a leading sign is allowed) or, nested, such
calls again, and lists of calls (``join([constant(value=1e-3), cosine(peak=1e-3,
steps=9000)], boundaries=[1000])``). Positional arguments of a leaf are its hyperparameters
after the step, in order; those of a combinator follow its signature.

The text is parsed with :mod:`ast` and walked: no name is looked up outside those exports and
nothing is ``eval``-ed. Anything else (attribute access, variables, operators, ``*args``,
``**kwargs``, dicts, a nesting deeper than :data:`MAX_DEPTH`, a text longer than
:data:`MAX_LENGTH`) is refused with a one-line :class:`~optimsche.config.error.ConfigError`,
as are unknown names and keywords (with their close matches), wrong types, bad
hyperparameters and a combinator given something that is not a schedule.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import attrs

import schedules
from optimsche.config.durations import resolve_lengths
from optimsche.config.error import ConfigError
from optimsche.config.language_names import (
    TRANSFORMERS_PREFIX,
    combinators,
    known_names,
    lookup,
    transformers_hint,
)
from optimsche.config.type_resolution import (
    ScheduleFunctionType,
    conf_parameters,
    schedule_functions,
)
from optimsche.config.value_types import describe_value, require_fits
from optimsche.sche_conf import check_sche_conf
from schedules.close_matches import did_you_mean

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "ScheduleExpression",
    "combinators",
    "describe_signature",
    "known_names",
    "parse_schedule_call",
    "parse_schedule_expression",
]

MAX_DEPTH = 32
"""The deepest nesting of calls and lists an expression may have."""

MAX_LENGTH = 10_000
"""The longest expression text accepted, in characters."""


@attrs.frozen
class ScheduleExpression:
    """A parsed call: the function's or combinator's ``name``, its ``hyperparameters`` (the
    bound arguments by parameter name: literals, and for a combinator's schedule arguments
    the nested :class:`ScheduleExpression` or a list of them), and ``schedule``, what the
    call builds (for a built-in leaf ``schedules.bind(leaf, **hyperparameters)``, its bound
    form, checked once; for a leaf of the user's own, a ``functools.partial``; for a
    combinator its object). ``kind`` is ``"leaf"``, ``"combinator"``
    or ``"rule"``; ``text`` is the expression as written (on the outermost call)."""

    name: str
    hyperparameters: dict[str, Any]
    schedule: Any
    kind: str = "leaf"
    text: str = ""

    @property
    def children(self) -> list[ScheduleExpression]:
        """The nested expressions among the arguments, in order."""
        found: list[ScheduleExpression] = []
        for value in self.hyperparameters.values():
            if isinstance(value, ScheduleExpression):
                found.append(value)
            elif isinstance(value, list | tuple):
                found.extend(v for v in value if isinstance(v, ScheduleExpression))
        return found


def _kind(target: Callable[..., Any]) -> str:
    """``"combinator"`` for a class whose instances are schedules, else ``"rule"``."""
    return "combinator" if inspect.isclass(target) and "__call__" in vars(target) else "rule"


class _Parser:
    """One walk over the tree of one expression text (messages quote the whole text, or
    name ``where`` when given). ``clock`` is the clock lengths with units are read on
    (:mod:`optimsche.config.durations`); ``count_from`` is how the shell counts, given to a
    call that takes ``count_from`` and is not given one (``transformers.<name>``)."""

    def __init__(
        self, text: str, clock: str = "update", count_from: int = 1, where: str | None = None
    ) -> None:
        self.text = text
        self.where = f"schedule {text!r}" if where is None else where
        self.clock = clock
        self.count_from = count_from

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {message}")

    def fragment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.dump(node)

    def value(self, node: ast.expr, depth: int) -> tuple[Any, Any]:
        """``(built, tree)`` of one argument: a literal is both; a call builds its object and
        keeps its :class:`ScheduleExpression`; a list or tuple does so item by item."""
        if depth > MAX_DEPTH and isinstance(node, ast.Call | ast.List | ast.Tuple):
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Call):
            tree = self.call(node, depth)
            return tree.schedule, tree
        if isinstance(node, ast.List | ast.Tuple):
            pairs = [self.value(item, depth + 1) for item in node.elts]
            kind = list if isinstance(node, ast.List) else tuple
            return kind(b for b, _ in pairs), kind(t for _, t in pairs)
        if isinstance(node, ast.Constant) and not isinstance(node.value, bytes | complex):
            return node.value, node.value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            number = node.operand.value
            signed = -number if isinstance(node.op, ast.USub) else number
            return signed, signed
        raise self.fail(
            f"argument {self.fragment(node)!r} is not a literal (numbers, strings, true/false, "
            "None, lists of them, and calls of schedules only)"
        )

    def call(self, node: ast.Call, depth: int) -> ScheduleExpression:
        name = _called_name(node.func)
        if name is None:
            raise self.fail(
                f"expected one call of a schedule function by name, such as "
                f"'cosine(peak=0.1, steps=1000)', got {self.fragment(node.func)!r}"
            )
        target = self.target(name)
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail("*arguments are not allowed")
        if any(keyword.arg is None for keyword in node.keywords):
            raise self.fail("**arguments are not allowed")
        outer = self.clock
        self.clock = _bound_clock(node) if target is schedules.on else outer
        try:
            args = [self.value(arg, depth + 1) for arg in node.args]
            keywords = {
                str(keyword.arg): self.value(keyword.value, depth + 1) for keyword in node.keywords
            }
        finally:
            self.clock = outer
        return self.apply(name, target, args, keywords)

    def target(self, name: str) -> Callable[..., Any]:
        """What ``name`` calls (:func:`~optimsche.config.language_names.lookup`), or a
        failure listing the close matches."""
        found = lookup(name, self.where)
        if found is None:
            names = known_names()
            raise self.fail(
                f"unknown schedule {name!r}{did_you_mean(name, names)} (valid: {', '.join(names)})"
            )
        return found

    def apply(
        self,
        name: str,
        target: Callable[..., Any],
        args: list[tuple[Any, Any]],
        keywords: dict[str, tuple[Any, Any]],
    ) -> ScheduleExpression:
        """The call of ``target`` with the ``(built, tree)`` pairs of its arguments."""
        if name in schedule_functions():
            return self.leaf(name, target, args, keywords)
        return self.combinator(name, target, args, keywords)

    def leaf(
        self,
        name: str,
        function: Callable[..., Any],
        args: list[tuple[Any, Any]],
        keywords: dict[str, tuple[Any, Any]],
    ) -> ScheduleExpression:
        params = conf_parameters(ScheduleFunctionType(name=name, function=function))
        bound: dict[str, Any] = {}
        for position, (built, _) in enumerate(args):
            if position >= len(params.accepted):
                raise self.fail(
                    f"{name} takes at most {len(params.accepted)} positional hyperparameters "
                    f"({', '.join(params.accepted)}), got {len(args)}"
                )
            bound[params.accepted[position]] = built
        self.check_keywords(name, params.accepted, keywords, "schedule")
        for key, (built, _) in keywords.items():
            if key in bound:
                raise self.fail(f"{key!r} is given twice")
            bound[key] = built
        bound = resolve_lengths(name, bound, self.clock, f"{self.where}: {name}")
        missing = [key for key in params.required if key not in bound]
        if missing:
            raise self.fail(f"missing hyperparameter {missing[0]!r} of {describe_signature(name)}")
        for key, value in bound.items():
            if callable(value) or (isinstance(value, list | tuple) and any(map(callable, value))):
                raise self.fail(
                    f"{name}: {key} must be a number, not a schedule (leaves take literal "
                    f"hyperparameters; combinators such as warmup or join take schedules)"
                )
            if key in params.annotations:
                require_fits(f"{self.where}: {key}", value, params.annotations[key])
        try:
            schedule = schedules.bind(function, **bound)
            schedule(1)
        except (ValueError, TypeError, ArithmeticError) as error:
            raise self.fail(f"{name}: {_one_line(error)}") from None
        return ScheduleExpression(name=name, hyperparameters=bound, schedule=schedule)

    def combinator(
        self,
        name: str,
        target: Callable[..., Any],
        args: list[tuple[Any, Any]],
        keywords: dict[str, tuple[Any, Any]],
    ) -> ScheduleExpression:
        signature = inspect.signature(target)
        named = [
            p.name
            for p in signature.parameters.values()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        kind = _kind(target)
        self.check_keywords(name, named, keywords, kind if inspect.isclass(target) else "schedule")
        built_args = [built for built, _ in args]
        built_keywords = {key: built for key, (built, _) in keywords.items()}
        try:
            bound = signature.bind(*built_args, **built_keywords)
        except TypeError as error:
            raise self.fail(f"{describe_signature(name)}: {error}") from None
        trees = signature.bind(*(t for _, t in args), **{k: t for k, (_, t) in keywords.items()})
        if "count_from" in signature.parameters and "count_from" not in bound.arguments:
            bound.arguments["count_from"] = trees.arguments["count_from"] = self.count_from
        resolved = resolve_lengths(name, bound.arguments, self.clock, f"{self.where}: {name}")
        for key, value in resolved.items():
            if value is not bound.arguments[key]:  # a length with a unit, now in steps
                bound.arguments[key] = trees.arguments[key] = value
        try:
            built = target(*bound.args, **bound.kwargs)
        except (ValueError, TypeError, ArithmeticError) as error:
            raise self.fail(f"{name}: {_one_line(error)}") from None
        if kind == "rule" and callable(built):  # a function building a schedule (eden2)
            kind = "combinator"
        return ScheduleExpression(
            name=name, hyperparameters=dict(trees.arguments), schedule=built, kind=kind
        )

    def check_keywords(
        self,
        name: str,
        valid: list[str] | tuple[str, ...],
        keywords: dict[str, Any],
        kind: str,
    ) -> None:
        try:
            check_sche_conf(self.where, valid, keywords, owner=f"{kind} {name!r}")
        except ValueError as error:
            unknown = [key for key in keywords if key not in valid]
            raise ConfigError(f"{error}{transformers_hint(name, unknown)}") from None

    def literal(self, key: str, value: object) -> tuple[Any, Any]:
        """``(value, value)`` for a config value that is a literal of the language (numbers,
        strings, booleans, null, lists of them), else a failure naming ``key``."""
        if isinstance(value, list | tuple):
            for item in value:
                self.literal(key, item)
            return value, value
        if value is None or isinstance(value, bool | int | float | str):
            return value, value
        raise self.fail(
            f"{key}: {describe_value(value)} is not a literal (numbers, strings, true/false, "
            "null and lists of them)"
        )


def _called_name(func: ast.expr) -> str | None:
    """The name a call calls: ``cosine`` or ``transformers.cosine`` (a name, or a dotted name
    under ``transformers``); ``None`` for anything else."""
    if isinstance(func, ast.Name):
        return func.id
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id + "." == TRANSFORMERS_PREFIX
    ):
        return TRANSFORMERS_PREFIX + func.attr
    return None


def _bound_clock(node: ast.Call) -> str:
    """The clock an ``on(clock, ...)`` call binds (its first argument or ``clock=``) when it
    is a valid literal clock name, else ``"update"`` (``on`` itself then refuses it)."""
    given = node.args[0] if node.args else None
    for keyword in node.keywords:
        if keyword.arg == "clock":
            given = keyword.value
    if isinstance(given, ast.Constant) and given.value in schedules.CLOCKS:
        return str(given.value)
    return "update"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def parse_schedule_expression(
    text: str, clock: str = "update", count_from: int = 1
) -> ScheduleExpression:
    """Parse an expression (module doc) into a :class:`ScheduleExpression`.

    Each leaf's arguments are bound to its signature and checked against its annotations,
    then the leaf is evaluated once at step 1, so that a bad hyperparameter (``warmup=-5``)
    is reported here; each combinator is built (its own checks run). Lengths with units
    (``steps='3ep'``, ``warmup='5%'``) are resolved on ``clock`` (the shell's; inside
    ``on(c, ...)`` on ``c``) against :func:`~optimsche.config.durations.current_lengths`
    (:mod:`optimsche.config.durations`). ``count_from`` is how the shell running the
    schedule counts (its ``count_from``): a call taking ``count_from`` that is not given one
    gets it (``transformers.<name>``, ``transformers_schedule``). Every failure is a one-line
    :class:`ConfigError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("schedule: expected a call such as 'cosine(peak=0.1, steps=1000)'")
    if len(text) > MAX_LENGTH:
        raise ConfigError(
            f"schedule: the expression is {len(text)} characters long, more than {MAX_LENGTH}"
        )
    parser = _Parser(text.strip(), clock, count_from)
    try:
        tree = ast.parse(parser.text, mode="eval")
    except SyntaxError as error:
        raise parser.fail(f"not a valid call ({error.msg} at column {error.offset})") from None
    except (RecursionError, MemoryError):
        raise parser.fail(f"nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(tree.body, ast.Call):
        raise parser.fail(
            "expected one call of a schedule function by name, such as "
            "'cosine(peak=0.1, steps=1000)'"
        )
    return attrs.evolve(parser.call(tree.body, 1), text=parser.text)


def parse_schedule_call(
    name: str,
    arguments: Mapping[str, Any],
    where: str,
    clock: str = "update",
    count_from: int = 1,
) -> ScheduleExpression:
    """The call ``name(**arguments)`` of the language, as a config mapping writes it
    (``{type: eden, lr_batches: 7500}``, a config entry's ``type:`` with its keys): the same
    checks, units and defaults as :func:`parse_schedule_expression` of that call, with
    messages naming ``where`` (``optim_sches.main.conf``). Each argument must be a literal."""
    text = f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    parser = _Parser(text, clock, count_from, where)
    target = parser.target(name)
    keywords = {str(key): parser.literal(f"{key}", value) for key, value in arguments.items()}
    return attrs.evolve(parser.apply(name, target, [], keywords), text=text)


def describe_signature(name: str) -> str:
    """``name(hyper, ...)`` with defaults, as documentation for error messages and help: for
    a leaf its hyperparameters after the step, for a combinator its arguments."""
    leaves = schedule_functions()
    if name in leaves:
        parameters = list(inspect.signature(leaves[name]).parameters.values())[1:]
    else:
        target = lookup(name, "schedule")
        if target is None:
            raise ValueError(f"describe_signature: unknown schedule {name!r}")
        parameters = list(inspect.signature(target).parameters.values())
    return f"{name}({', '.join(_parameter(p) for p in parameters)})"


def _parameter(parameter: inspect.Parameter) -> str:
    prefix = "*" if parameter.kind is inspect.Parameter.VAR_POSITIONAL else ""
    if parameter.default is inspect.Parameter.empty:
        return prefix + parameter.name
    return f"{parameter.name}={parameter.default!r}"
