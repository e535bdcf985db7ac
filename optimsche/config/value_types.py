"""Checking a configuration value against a parameter's type annotation.

Only the shapes that appear in schedule and optimizer signatures are understood: ``float``
(any real number but a bool), ``int``, ``str``, ``bool``, ``None``, unions, ``Literal``,
sequences (``Sequence[float]``, ``list[...]``, ``tuple[...]``) and mappings; with
``classes=True`` also other classes (``torch.Tensor``: an instance of it), as the optimizer's
``optim_conf`` check asks. Any other annotation accepts every value: the callee still
validates what it receives.
"""

from __future__ import annotations

import collections.abc
import numbers
import reprlib
import types
import typing
from typing import Any

from optimsche.config.error import ConfigError

_SEQUENCE_ORIGINS = (
    list,
    tuple,
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_MAPPING_ORIGINS = (dict, collections.abc.Mapping)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def value_matches(value: object, annotation: Any, *, classes: bool = False) -> bool:
    """Whether ``value`` (plain YAML data) fits ``annotation``; unknown annotations fit all
    (with ``classes``, a class annotation wants an instance of it)."""
    if annotation is Any or annotation is typing.Any or annotation is object:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    if annotation is float:
        return _is_number(value)
    if annotation is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(value_matches(value, arg, classes=classes) for arg in args)
    if origin is typing.Literal:
        return value in args
    if annotation in _SEQUENCE_ORIGINS or origin in _SEQUENCE_ORIGINS:
        if not isinstance(value, list | tuple):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(
                value_matches(v, a, classes=classes) for v, a in zip(value, args, strict=True)
            )
        return not args or all(value_matches(v, args[0], classes=classes) for v in value)
    if annotation in _MAPPING_ORIGINS or origin in _MAPPING_ORIGINS:
        return isinstance(value, dict)
    if classes and isinstance(annotation, type) and origin is None:
        try:
            return isinstance(value, annotation)
        except TypeError:  # a Protocol that is not runtime-checkable, and the like
            return True
    return True


def require_fits(name: str, value: object, annotation: Any) -> None:
    """Raise a :class:`ConfigError` ``"<name> must be <what annotation accepts>, got <value>
    (<its kind>)"`` unless ``value`` fits ``annotation`` (:func:`value_matches`)."""
    if not value_matches(value, annotation):
        raise ConfigError(
            f"{name} must be {describe_annotation(annotation)}, got {describe_value(value)}"
        )


def describe_annotation(annotation: Any) -> str:
    """A short English description of what ``annotation`` accepts ("a number", ...)."""
    if annotation is None or annotation is type(None):
        return "null"
    simple = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}
    if annotation in simple:
        return simple[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(dict.fromkeys(describe_annotation(arg) for arg in args))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if annotation in _SEQUENCE_ORIGINS or origin in _SEQUENCE_ORIGINS:
        if not args or (args[-1] is Ellipsis and len(args) == 1):
            return "a list"
        if origin is tuple and args[-1] is not Ellipsis:
            each = list(dict.fromkeys(describe_annotation(arg) for arg in args))
            kinds = f" (each {each[0]})" if len(each) == 1 else ""
            return f"a list of {len(args)} items{kinds}"
        inner = describe_annotation(args[0])
        return "a list of " + _plural(inner)
    if annotation in _MAPPING_ORIGINS or origin in _MAPPING_ORIGINS:
        return "a mapping"
    if isinstance(annotation, type):
        return f"a {annotation.__name__}"
    return getattr(annotation, "__name__", str(annotation))


def _plural(description: str) -> str:
    for article in ("an ", "a "):
        if description.startswith(article):
            noun = description[len(article) :]
            return noun if noun.endswith("s") else noun + "s"
    return description


class _ShortRepr(reprlib.Repr):
    """Bounded reprs for messages: a huge or deeply nested value shows its start, with
    ``...``; an integer too long to print whole (Python refuses more than 4300 digits) says
    how many digits it has."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlong = 4, 80, 80, 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 1000:
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_SHORT = _ShortRepr()


def describe_value(value: object) -> str:
    """``value`` with its YAML-ish kind, for error messages: ``'abc' (a string)``."""
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "null",
    }
    kind = kinds.get(type(value), type(value).__name__)
    return f"{_SHORT.repr(value)} ({kind})"
