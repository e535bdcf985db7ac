"""Checks of hyperparameters at the boundary: each failure is a ``ValueError`` naming the
argument, its value and what was expected."""

from __future__ import annotations

import math
from collections.abc import Sequence

_INF = math.inf


def require_number(name: str, value: object) -> float:
    """``value`` as a float; it must be a finite real number (not a bool)."""
    if (value.__class__ is float or value.__class__ is int) and -_INF < value < _INF:
        return float(value)  # the fast path: a plain finite number
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    if not abs(value) < math.inf:  # not math.isfinite: dynamo traces this on symbolic floats
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def require_positive(name: str, value: object) -> float:
    """``value`` must be a finite number > 0."""
    if (value.__class__ is float or value.__class__ is int) and 0 < value < _INF:
        return float(value)  # the fast path
    number = require_number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def require_non_negative(name: str, value: object) -> float:
    """``value`` must be a finite number >= 0."""
    if (value.__class__ is float or value.__class__ is int) and 0 <= value < _INF:
        return float(value)  # the fast path
    number = require_number(name, value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def require_order(name: str, value: object) -> float:
    """``value`` must be a number > 0, infinity allowed (the order of a norm: 2.0 = L2,
    ``math.inf`` = max)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{name} must be a number > 0 or inf, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0 (2.0 = L2, inf = max), got {value!r}")
    return float(value)


def require_count(name: str, value: object) -> int:
    """``value`` must be an int >= 1 (a count: ``accum_grad``, ``step_per_update``, ...);
    bools are refused."""
    if value.__class__ is int and value >= 1:
        return value  # the fast path
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def require_open_unit(name: str, value: object) -> float:
    """``value`` must lie strictly between 0 and 1."""
    number = require_number(name, value)
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return number


def require_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` must be one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}, got {value!r}")
    return value


def require_increasing(name: str, values: Sequence[float], *, strict: bool = True) -> list[float]:
    """``values`` must be a sequence of numbers sorted in increasing order."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}")
    numbers = [require_number(f"{name}[{i}]", v) for i, v in enumerate(values)]
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


def require_non_negative_int(name: str, value: object) -> int:
    """``value`` must be an int >= 0 (a patience, a cooldown, a counter); bools are refused."""
    if value.__class__ is int and value >= 0:
        return value  # the fast path
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
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
    return float(value)
