"""The check of a value about to be written into a param group: finite and >= 0.

Every scheduled value (the lr, ``weight_decay``, ``momentum``, ``betas[0]``, ...) passes
through :func:`checked_value` before the shell writes anything, so a schedule that gives NaN,
an infinity or a negative number stops the update with a ``ValueError`` naming the entry, the
step and the value, and no parameter, param group or optimizer state has changed.
"""

from __future__ import annotations

import math

_INF = math.inf


def checked_value(key: str, time: float, value: object, source: object = None) -> float:
    """``value`` as a float, which must be a finite number ``>= 0``; else a ``ValueError``
    naming ``key`` (``"lr"``, ``"betas[0]"``), the clock value ``time`` at which the
    schedule (``source``: shown by its repr, a string as it is) gave it, and the value."""
    if value.__class__ is float and 0.0 <= value < _INF:
        return value  # the fast path: a plain finite float >= 0
    number = math.nan
    kind = f"a {type(value).__name__}, not a number"
    if not isinstance(value, bool | str | bytes):
        try:
            number = float(value)  # type: ignore[arg-type]  # numbers, 1-element Tensors
            kind = "not a finite number >= 0"
        except (TypeError, ValueError, RuntimeError):
            pass
    if not 0.0 <= number < _INF:
        origin = "" if source is None else f" ({_short_repr(source)})"
        raise ValueError(
            f"{key}: the schedule{origin} gave {value!r} at step {time}, {kind}; a value "
            f"written into a param group must be a finite number >= 0. Nothing was changed"
        )
    return number


def _short_repr(source: object, limit: int = 120) -> str:
    text = source if isinstance(source, str) else repr(source)
    return text if len(text) <= limit else text[: limit - 3] + "..."
