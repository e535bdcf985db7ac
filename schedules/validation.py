"""Checks of hyperparameters at the boundary: each failure is a ``ValueError`` naming the
argument, its value and what was expected.

Numbers are Python ``int``/``float`` (numpy integers and floats too, not bools), finite unless
said otherwise. Only :func:`require_value` accepts a ``torch.Tensor`` (the value
hyperparameters of a schedule: ``peak``, ``final``, ...), which it does not range-check (that
would cost a device sync); every other check refuses a Tensor with a message saying so.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

from torch import Tensor

from schedules.close_matches import did_you_mean
from schedules.number_text import number_text

_MAX = sys.float_info.max
"""The largest finite float: the fast paths compare against it (``-_MAX <= v <= _MAX``), not
against ``inf``, so that an int beyond float range (``10**400 < inf`` holds) takes the slow
path and is refused there by name instead of overflowing in ``float()``."""

Checked = float
"""The type of a checked value hyperparameter in a recipe (:func:`require_value`): typed
``float``, so that the scalar formulas are checked as the float arithmetic they are; at run
time a Tensor where the caller gave one, which only the tensor formulas see (a recipe with a
Tensor value never reaches a scalar formula)."""


def require_number(name: str, value: object) -> float:
    """``value`` as a float; it must be a finite real number (not a bool)."""
    if (value.__class__ is float or value.__class__ is int) and -_MAX <= value <= _MAX:
        return float(value)  # the fast path: a plain finite number
    if isinstance(value, Tensor):
        raise ValueError(
            f"{name} must be a Python number, not a Tensor (only a schedule's value "
            f"hyperparameters, such as peak or final, may be Tensors), got {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    number = _as_float(name, value)
    if not abs(number) < math.inf:  # not math.isfinite: dynamo traces this on symbolic floats
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _as_float(name: str, value: int | float | numbers.Real) -> float:
    """``float(value)``, refusing by name a number beyond float range (an int such as
    ``10**400``, a ``Fraction``), where ``float()`` raises ``OverflowError``."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be within float range (|x| <= {_MAX!r}), got {value!r}"
        ) from None


def require_value(name: str, value: object) -> Checked:
    """A value hyperparameter (``peak``, ``final``, ``start``, ...): a finite number, as a
    float, or a floating-point ``torch.Tensor`` of any shape, returned as it is.

    A Tensor is not range-checked (no finiteness or sign check: that would cost a device
    sync); it may require grad, be batched under ``torch.func.vmap`` or traced by
    ``torch.compile``.
    """
    if value.__class__ is float or value.__class__ is int:
        if -_MAX <= value <= _MAX:
            return float(value)
    elif isinstance(value, Tensor):
        if not value.is_floating_point():
            raise ValueError(
                f"{name} must be a number or a floating-point Tensor, got a Tensor of dtype "
                f"{value.dtype}: {value!r}"
            )
        return value  # type: ignore[return-value]  # a Tensor: see Checked
    return require_number(name, value)


def require_positive(name: str, value: object) -> float:
    """``value`` must be a finite number > 0."""
    if (value.__class__ is float or value.__class__ is int) and 0 < value <= _MAX:
        return float(value)  # the fast path
    number = require_number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def require_non_negative(name: str, value: object) -> float:
    """``value`` must be a finite number >= 0."""
    if (value.__class__ is float or value.__class__ is int) and 0 <= value <= _MAX:
        return float(value)  # the fast path
    number = require_number(name, value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def require_values(name: str, values: Sequence[object]) -> list[Checked]:
    """Each entry of ``values`` checked by :func:`require_value` (named ``name[i]``)."""
    return [
        float(v)
        if (v.__class__ is int or v.__class__ is float) and -_MAX <= v <= _MAX
        else require_value(f"{name}[{i}]", v)
        for i, v in enumerate(values)
    ]


def require_non_negative_value(name: str, value: object) -> Checked:
    """A value hyperparameter that must be >= 0 when it is a number (:func:`require_value`;
    a Tensor is not range-checked)."""
    checked = require_value(name, value)
    if checked.__class__ is float and checked < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return checked


def require_order(name: str, value: object) -> float:
    """``value`` must be a number > 0, infinity allowed (the order of a norm: 2.0 = L2,
    ``math.inf`` = max)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{name} must be a number > 0 or inf, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0 (2.0 = L2, inf = max), got {value!r}")
    return _as_float(name, value)


def require_count(name: str, value: object) -> int:
    """``value`` must be an int >= 1 (a count: ``accum_grad``, ``step_per_update``, ...);
    bools are refused."""
    if value.__class__ is int and value >= 1:
        return value  # the fast path
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def require_bool(name: str, value: object) -> bool:
    """``value`` must be ``True`` or ``False`` (not 0, 1, None or another truthy value)."""
    if value is True or value is False:
        return value
    raise ValueError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")


def require_open_unit(name: str, value: object) -> float:
    """``value`` must lie strictly between 0 and 1."""
    number = require_number(name, value)
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return number


def require_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` must be one of ``choices`` (the error names them, and the close ones first:
    ``"...; did you mean '1-sqrt'?"``)."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ValueError(f"{name} must be one of {valid}, got {value!r}{hint}")
    return value


def require_increasing(name: str, values: Sequence[float], *, strict: bool = True) -> list[float]:
    """``values`` must be a sequence of numbers sorted in increasing order."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}")
    numbers = [
        float(v)
        if (v.__class__ is int or v.__class__ is float) and -_MAX <= v <= _MAX
        else require_number(f"{name}[{i}]", v)
        for i, v in enumerate(values)
    ]
    for i in range(1, len(numbers)):
        if numbers[i] < numbers[i - 1] or (strict and numbers[i] == numbers[i - 1]):
            order = "strictly increasing" if strict else "sorted"
            raise ValueError(f"{name} must be {order}, got {list(values)!r}")
    return numbers


def require_int(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` must be an int (bools are refused) in ``[minimum, maximum]``; either bound
    may be ``None`` (unbounded). The message states the bounds: ``"step_num must be an int
    >= 0, got -1"``, ``"rank must be an int in [0, 3], got 4"``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        if minimum is not None and maximum is not None:
            bounds = f" in [{minimum}, {maximum}]"
        elif minimum is not None:
            bounds = f" >= {minimum}"
        elif maximum is not None:
            bounds = f" <= {maximum}"
        else:
            bounds = ""
        raise ValueError(f"{name} must be an int{bounds}, got {value!r}")
    return value


def require_unit_interval(name: str, value: object) -> float:
    """``value`` must lie in the closed interval [0, 1]."""
    number = require_number(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must lie in the closed interval [0, 1], got {value!r}")
    return number


def require_not_nan(name: str, value: object) -> float:
    """``value`` as a float; it must be a real number (not a bool), ``inf`` and ``-inf``
    allowed, NaN refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    if value != value:
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    return _as_float(name, value)


Check = Callable[[str, object], Any]
"""A check of one hyperparameter: ``check(name, value)`` returns the checked value or raises a
``ValueError`` naming ``name``, ``value`` and what was expected (one of the ``require_*``
above, or what :func:`choice` and :func:`optional` make of them)."""


def choice(*choices: str) -> Check:
    """The check that a value is one of ``choices`` (:func:`require_choice`)."""

    def check(name: str, value: object) -> str:
        return require_choice(name, value, choices)

    check.__qualname__ = check.__name__ = f"choice{choices!r}"
    return check


def optional(check: Check) -> Check:
    """``check``, or ``None`` passing as it is."""

    def checked(name: str, value: object) -> Any:
        return None if value is None else check(name, value)

    checked.__qualname__ = checked.__name__ = f"optional({check.__name__})"
    return checked


def increasing(*, strict: bool = True, minimum: float | None = None) -> Check:
    """The check that a value is a sequence of numbers in increasing order
    (:func:`require_increasing`: strictly, or sorted with repeats when not ``strict``), each
    ``>= minimum`` when it is given; the checked value is a tuple in which plain ``int``
    entries stay ints (exact beyond 2**53, and a Python int step compares with an int
    faster than with a float: the tables of :func:`bisect.bisect_right`)."""

    def check(name: str, value: object) -> tuple[float, ...]:
        numbers = require_increasing(name, cast(Sequence[float], value), strict=strict)
        given = cast(Sequence[float], value)
        if minimum is not None and numbers and numbers[0] < minimum:
            raise ValueError(f"{name} must be >= {minimum!r}, got {list(given)!r}")
        return tuple(g if g.__class__ is int else n for g, n in zip(given, numbers, strict=True))

    bound = "" if minimum is None else f", minimum={minimum!r}"
    check.__qualname__ = check.__name__ = f"increasing(strict={strict}{bound})"
    return check


def require_value_sequence(name: str, value: object) -> tuple[Checked, ...] | Checked:
    """A sequence of value hyperparameters (each checked by :func:`require_value`, named
    ``name[i]``), as a tuple; or one floating-point Tensor whose first dimension runs over
    them (returned as it is, not range-checked)."""
    if isinstance(value, Tensor):
        return require_value(name, value)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a sequence of numbers, got {value!r}")
    return tuple(require_values(name, value))


def require_points(name: str, value: object) -> tuple[tuple[float, Checked], ...]:
    """A non-empty sequence of ``(step, value)`` pairs sorted by step (repeats allowed: a
    jump), as a tuple of pairs: each step a number (named ``name[i] step``), each value a
    value hyperparameter (:func:`require_value`, named ``name[i] value``)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(
            f"{name} must be a non-empty sequence of (step, value) pairs, got {value!r}"
        )
    pairs: list[tuple[float, Checked]] = []
    for i, point in enumerate(value):
        if isinstance(point, str) or not isinstance(point, Sequence) or len(point) != 2:
            raise ValueError(f"{name}[{i}] must be a (step, value) pair, got {point!r}")
        step = require_number(f"{name}[{i}] step", point[0])
        if pairs and step < pairs[-1][0]:
            raise ValueError(
                f"{name} must be sorted by step, but {name}[{i}] step {number_text(step)} < "
                f"{name}[{i - 1}] step {number_text(pairs[-1][0])}: {list(value)!r}"
            )
        pairs.append((step, require_value(f"{name}[{i}] value", point[1])))
    return tuple(pairs)


KINDS: Mapping[str, Check] = MappingProxyType(
    {
        "value": require_value,
        "non_negative_value": require_non_negative_value,
        "number": require_number,
        "positive": require_positive,
        "non_negative": require_non_negative,
        "count": require_count,
        "fraction": require_unit_interval,
        "open_fraction": require_open_unit,
        "bool": require_bool,
        "increasing": increasing(),
        "sorted": increasing(strict=False),
        "value_sequence": require_value_sequence,
        "points": require_points,
    }
)
"""The kinds a family may declare its hyperparameters of (``Family(checks=...)``), by name:
the declaration reads ``checks={"peak": "value", "steps": "positive", "shape":
choice("linear", "cosine")}``; a kind is one of these names or a :data:`Check`. The
sequences: ``increasing`` (strictly: boundaries), ``sorted`` (repeats allowed: milestones;
:func:`increasing` makes others, with a minimum), ``value_sequence`` (levels: numbers or
Tensors, or one Tensor of them), ``points`` (``(step, value)`` pairs sorted by step)."""


def check_of(kind: str | Check) -> Check:
    """The check of a declared ``kind`` (a name of :data:`KINDS`, or a check itself); an
    unknown name is a ``ValueError`` naming the valid ones."""
    if isinstance(kind, str):
        try:
            return KINDS[kind]
        except KeyError:
            valid = ", ".join(repr(k) for k in KINDS)
            raise ValueError(
                f"unknown kind of hyperparameter {kind!r}{did_you_mean(kind, KINDS)} (the kinds: "
                f"{valid})"
            ) from None
    return kind
