"""The one exception type of the configuration layer, and the bridge from the
:mod:`schedules.validation` checks to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration mistake, with a one-line message that names where it is (file and line,
    or the optimizer and key), the bad value, and what would have been valid.

    It is a :class:`ValueError`, so code that guards against bad values catches it too.
    """


def config_require(
    validator: Callable[Concatenate[str, object, P], T],
    where: str,
    value: object,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``validator(where, value, ...)``, a :mod:`schedules.validation` ``require_*`` check of
    a config value, with its ``ValueError`` raised as a :class:`ConfigError` that reads
    ``"<where>: must be ..., got ..."`` (``require_count``, ``"accum_grad"``, ``0`` ->
    ``"accum_grad: must be a positive integer, got 0"``)."""
    try:
        return validator(f"{where}:", value, *args, **kwargs)
    except ValueError as error:
        raise ConfigError(str(error)) from None
