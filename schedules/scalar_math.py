"""The two pieces of Python-number arithmetic that the scalar formulas share."""

from __future__ import annotations


def interpolate(start: float, end: float, fraction: float) -> float:
    """``start + (end - start) · fraction`` for ``fraction`` in [0, 1]: exactly ``end`` from
    ``fraction >= 1`` on, and never outside ``[min(start, end), max(start, end)]`` (the plain
    formula can miss ``end`` by an ulp, or overshoot it); monotone in ``fraction``.

    With ``start = 0`` this is ``end · fraction`` exactly (a product of ``end`` and a number
    in [0, 1] is never beyond ``end``): formulas on a hot path may write that instead of the
    call."""
    if fraction >= 1.0:
        return end
    value = start + (end - start) * fraction
    if start <= end:
        return start if value < start else (end if value > end else value)
    return end if value < end else (start if value > start else value)


def power(base: float, exponent: float) -> float:
    """``base ** exponent`` (``base > 0``) as a float; ``inf`` where it overflows, as for
    Tensors, never an ``OverflowError``."""
    try:
        return float(base**exponent)
    except OverflowError:
        return float("inf")
