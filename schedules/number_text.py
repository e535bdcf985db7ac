"""How messages write a number: an integral value as an integer (``200000``, not
``200000.0``), any other value as its ``repr``.

The checks convert numbers to ``float`` (:mod:`schedules.validation`), so a message that
quotes a checked number (``steps must be > warmup (200000)``) or a value a schedule gave
would otherwise print ``200000.0`` for the ``200000`` the user wrote. A value the user gave
and that was refused is quoted as given (its ``repr``), so ``"steps must be an int, got
1.0"`` still shows the float.
"""

from __future__ import annotations

import numbers

__all__ = ["number_text"]

_EXACT_LIMIT = 2.0**53
"""Floats below this magnitude that are integral are exactly the integer they print as."""


def number_text(value: object) -> str:
    """``value`` as messages write it.

    * ``bool``: ``True`` / ``False``;
    * a real number (``int``, ``float``, numpy scalars) with an integral value of magnitude
      below 2^53: ``str(int(value))``, e.g. ``200000.0 -> "200000"``, ``-3.0 -> "-3"``;
    * any other real number (fractional, huge, ``inf``, ``nan``): ``repr(float(value))``,
      e.g. ``"0.001"``, ``"1e+20"``, ``"nan"``; an ``int`` of any size: ``str(value)``;
    * anything else: ``repr(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if number.is_integer() and abs(number) < _EXACT_LIMIT:
        return str(int(number))
    return repr(number)
