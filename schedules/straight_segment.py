"""A straight segment of a curve on Tensors: no division, exact at both ends.

The segment goes from ``(x0, v0)`` to ``(x1, v1)`` (``x0 < x1``) and holds ``v0`` before
``x0`` and ``v1`` after ``x1``. On a float32 or float64 Tensor it has up to two forms, found
once per dtype when the segment is made (:func:`segment`, kept for the next call):

* **affine**, ``clamp(c + k · s, min(v0, v1), max(v0, v1))``: 2 passes over memory (one
  ``add`` with ``alpha``, one clamp). ``k`` and ``c`` are the line through both ends, moved
  outwards by a few ulps so that, computed either way (fused multiply-add in torch's vector
  loops, a product then a sum in its scalar tails), the line lies beyond ``v0`` at ``x0``
  and beyond ``v1`` at ``x1``: the clamp then gives both ends exactly. Used where the line's
  terms are no larger than a few times the values (``|k · x|, |c| <= 4 max(|v0|, |v1|)``: no
  cancellation beyond a few ulps of the larger end) and neither end value is 0; the values
  lie within a few ulps of the larger end of the line.
* **from the anchor**, ``a + |clip(s, x0, x1) - s_a| · k``: the anchor ``(s_a, a)`` is the end
  whose value is the smaller in magnitude, so that a decay to 0 keeps its relative
  precision up to its last step; ``k`` is the slope towards the other end ``(e, b)``, moved
  by an ulp or a few where that makes the far end exact, ``fl(fl(d · k) + a) == b`` for
  ``d = fl(|e - s_a|)``; where no ``k`` does, one that passes ``b`` and a clamp. 2 to 5
  passes: the clip (the fresh buffer), the distance (none when ``s_a = 0``), the product,
  the sum (none when ``a = 0`` and ``k >= 0``), the clamp (rare).

:func:`along_steps` (a Tensor of steps, any values) takes the affine form where there is one
(no clip), :func:`along` (values already within ``[x0, x1]``, written in place or into an
``out``) the form from the anchor where the anchor is at 0 (as few passes, and exact).
Neither divides (a division costs 2.5 products on a CPU) nor lerps (4 products). Every
operation is monotone, so the values are monotone in the step, exactly ``v0`` at and before
``x0``, exactly ``v1`` at and after ``x1``, NaN at NaN.

The Tensor's operations are emulated in Python to choose ``k`` and ``c``: float64 is Python's
``float``, and a float32 sum or product of float32 numbers, computed in float64 and rounded
once to float32, is the correctly rounded float32 one (53 >= 2 · 24 + 2: the double rounding
is harmless). Other dtypes (float16 and bfloat16 compute in float32 and round again), and
segments whose ends are one number in a dtype, get ``None`` from :func:`along_steps` and
:func:`along`: the caller's general formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from schedules.step_input import float_steps, steps_dtype

NUDGES = 4
"""How many ulps either way a slope is moved, at most, to make the far end exact."""

WIDENINGS = 4
"""How many times the affine form's outward margin is doubled, at most, before giving up."""

CANCELLATION = 4.0
"""The affine form's bound on its terms, in units of the larger end value."""

FLOAT32_MAX = math.ldexp(2.0**24 - 1.0, 104)
FLOAT32_MIN_EXPONENT = -125
"""The exponent (of :func:`math.frexp`) of float32's smallest normal number, 2**-126."""


class Anchored(NamedTuple):
    """The form from the anchor in one dtype: ``a + |clip(s) - s_a| · k``, clamped if
    ``clamped`` (no ``k`` made the far end exact)."""

    k: float
    clamped: bool


class Affine(NamedTuple):
    """The affine form in one dtype: ``clamp(c + k · s)``."""

    k: float
    c: float


class Forms(NamedTuple):
    """A segment's forms in one dtype (``None``: the form has no exact numbers there, or
    would cancel)."""

    anchored: Anchored | None
    affine: Affine | None


class Segment(NamedTuple):
    """A straight segment from ``(low, at_low)`` to ``(high, at_high)`` (module docs), with
    its forms per dtype."""

    low: float
    high: float
    at_low: float
    at_high: float
    anchored_low: bool
    float32: Forms
    float64: Forms

    @property
    def anchor(self) -> tuple[float, float]:
        """``(s_a, a)``: the end the values are measured from (the form from the anchor)."""
        return (self.low, self.at_low) if self.anchored_low else (self.high, self.at_high)


def to_float32(x: float) -> float:
    """``x`` rounded to the nearest float32 (ties to even, subnormals included);
    ``OverflowError`` beyond its range. Plain arithmetic (``torch.compile`` folds it)."""
    mantissa, exponent = math.frexp(x)  # x = mantissa · 2**exponent, 0.5 <= |mantissa| < 1
    bits = 24 - max(0, FLOAT32_MIN_EXPONENT - exponent)  # fewer below the normal range
    value = math.ldexp(float(round(math.ldexp(mantissa, bits))), exponent - bits)
    if abs(value) > FLOAT32_MAX:
        raise OverflowError(f"{x!r} is beyond float32's range")
    return value


class _Arithmetic(NamedTuple):
    """A dtype's rounding of a Python number, and its ulp as a multiple of float64's."""

    rounded: Callable[[float], float]
    ulp_scale: float

    def ulp(self, x: float) -> float:
        return math.ulp(x) * self.ulp_scale


_FLOAT32 = _Arithmetic(to_float32, 2.0**29)
_FLOAT64 = _Arithmetic(float, 1.0)


def _from_anchor(r: _Arithmetic, anchor: tuple[float, float], far: tuple[float, float]) -> Anchored:
    """The form from the anchor in one dtype; ``OverflowError``, ``ZeroDivisionError`` or
    ``ValueError`` where it has none."""
    d = r.rounded(abs(r.rounded(far[0]) - r.rounded(anchor[0])))
    a, b = r.rounded(anchor[1]), r.rounded(far[1])
    k0 = r.rounded((b - a) / d)  # ZeroDivisionError when d = 0 (ends one number)
    step = r.ulp(k0)
    candidates = [k0]
    for j in range(1, NUDGES + 1):
        candidates += [r.rounded(k0 + j * step), r.rounded(k0 - j * step)]
    passing: float | None = None
    for k in candidates:
        end = r.rounded(r.rounded(d * k) + a)
        if end == b:
            return Anchored(k, False)
        if passing is None and (end - b) * (b - a) > 0:
            passing = k
    if passing is None:
        raise ValueError("no slope reaches the far end")
    return Anchored(passing, True)


def _affine(r: _Arithmetic, x0: float, v0: float, x1: float, v1: float) -> Affine | None:
    """The affine form in one dtype, or ``None`` where its terms would cancel (module docs)."""
    x0, x1, v0, v1 = r.rounded(x0), r.rounded(x1), r.rounded(v0), r.rounded(v1)
    rising = 1.0 if v1 > v0 else -1.0
    span = max(abs(v0), abs(v1))
    margin = 4.0 * r.ulp(span)
    for _ in range(WIDENINGS):
        w0, w1 = v0 - rising * margin, v1 + rising * margin
        k = r.rounded((w1 - w0) / (x1 - x0))
        c = r.rounded(w0 - k * x0)
        size = max(abs(k * x0), abs(k * x1), abs(c))
        if not size <= CANCELLATION * span:
            return None
        guard = 2.0 * r.ulp(size)  # a fused and an unfused c + k·x differ by less
        below = (v0 - r.rounded(r.rounded(k * x0) + c)) * rising
        beyond = (r.rounded(r.rounded(k * x1) + c) - v1) * rising
        if below >= guard and beyond >= guard:
            return Affine(k, c)
        margin *= 2.0
    return None


def _forms(r: _Arithmetic, x0: float, v0: float, x1: float, v1: float, low: bool) -> Forms:
    """The segment's forms in one dtype."""
    anchor, far = ((x0, v0), (x1, v1)) if low else ((x1, v1), (x0, v0))
    anchored: Anchored | None = None
    affine: Affine | None = None
    try:
        anchored = _from_anchor(r, anchor, far)
        if not math.isfinite(anchored.k):
            anchored = None
    except (OverflowError, ValueError, ZeroDivisionError):
        pass
    try:
        if r.rounded(anchor[1]) != 0.0 and r.rounded(v0) != r.rounded(v1):
            affine = _affine(r, x0, v0, x1, v1)
    except (OverflowError, ValueError, ZeroDivisionError):
        pass
    return Forms(anchored, affine)


def segment(x0: float, v0: float, x1: float, v1: float) -> Segment | None:
    """The straight segment from ``(x0, v0)`` to ``(x1, v1)``, ``x0 < x1``, all finite; ``None``
    unless all four are Python numbers (values that are Tensors, or symbolic numbers while
    ``torch.compile`` traces, keep the caller's general formula). Finding its forms costs some
    20 µs of Python, so the segments of the last :data:`CACHE_SIZE` ends are kept (a leaf
    calls this from its Tensor formula, not when its hyperparameters are checked: Python
    steps never need it)."""
    for number in (x0, v0, x1, v1):
        if number.__class__ is not float and number.__class__ is not int:
            return None
    compiling = torch.compiler.is_compiling()
    key = (x0, v0, x1, v1)
    if not compiling:
        kept = _SEGMENTS.get(key)
        if kept is not None:
            return kept
    low = abs(v0) <= abs(v1)
    line = Segment(
        x0,
        x1,
        v0,
        v1,
        low,
        _forms(_FLOAT32, x0, v0, x1, v1, low),
        _forms(_FLOAT64, x0, v0, x1, v1, low),
    )
    if not compiling:  # (while tracing, nothing that outlives the trace)
        if len(_SEGMENTS) >= CACHE_SIZE:
            _SEGMENTS.clear()
        _SEGMENTS[key] = line
    return line


CACHE_SIZE = 256
"""Segments kept by :func:`segment`; the cache is emptied when it is full."""

_SEGMENTS: dict[tuple[float, float, float, float], Segment] = {}


def has_form(line: Segment, dtype: torch.dtype) -> bool:
    """Whether :func:`along` and :func:`along_steps` compute ``line`` in ``dtype``."""
    forms = _forms_for(line, dtype)
    return forms is not None and (forms.anchored is not None or forms.affine is not None)


def _forms_for(line: Segment, dtype: torch.dtype) -> Forms | None:
    if dtype == torch.float32:
        return line.float32
    if dtype == torch.float64:
        return line.float64
    return None


def along_steps(line: Segment, step: Tensor) -> Tensor | None:
    """The segment's values at ``step`` (any Tensor of steps; integer steps in float64) in a
    fresh Tensor, or ``None`` where it has no form in the steps' dtype. The affine form
    where there is one (2 passes: no clip), else the form from the anchor."""
    dtype = steps_dtype(step)
    forms = _forms_for(line, dtype)
    if forms is None:
        return None
    plain = not torch.compiler.is_compiling()
    if forms.affine is not None:
        if step.dtype == dtype:  # a fresh result
            return _affine_values(line, forms.affine, step, None, plain)
        x = step.to(dtype)  # integer steps: a float64 copy, then in place
        return _affine_values(line, forms.affine, x, x, plain)
    if forms.anchored is None:
        return None
    clipped = float_steps(step, line.low, line.high)
    return _anchored(line, forms.anchored, clipped, clipped, plain)


def along(line: Segment, x: Tensor, out: Tensor | None = None) -> Tensor | None:
    """The segment's values at ``x``, a floating Tensor whose elements lie in ``[low, high]``
    already, written into ``out`` (a Tensor of ``x``'s shape and dtype; by default ``x``
    itself, which the caller then owns) where the operators allow it (else a new Tensor),
    or ``None`` where it has no form in ``x``'s dtype. The form from the anchor where the
    anchor is at 0 or there is no affine form (as few passes, and exact), else the affine
    one (one pass fewer)."""
    forms = _forms_for(line, x.dtype)
    if forms is None:
        return None
    plain = not torch.compiler.is_compiling()
    target = x if out is None else out
    anchored, affine = forms
    if anchored is not None and (line.anchor[0] == 0.0 or affine is None):
        return _anchored(line, anchored, x, target, plain)
    if affine is None:
        return None
    return _affine_values(line, affine, x, target, plain)


def _affine_values(
    line: Segment, form: Affine, x: Tensor, out: Tensor | None, plain: bool
) -> Tensor:
    """``clamp(c + k · x)`` for steps ``x``: into ``out`` where the operators allow it, a
    fresh Tensor where ``out`` is ``None``."""
    c, k = form.c, form.k
    if out is None:
        values = torch.add(x.new_full((), c), x, alpha=k)
    else:
        values = _in_place(
            lambda: torch.add(x.new_full((), c), x, alpha=k, out=out),
            lambda: torch.add(c, x, alpha=k),
            plain,
        )
    return _clamped(line, values, plain)


def _anchored(line: Segment, form: Anchored, x: Tensor, out: Tensor, plain: bool) -> Tensor:
    """``a + |x - s_a| · k`` for the clipped steps ``x``, into ``out`` where the operators
    allow it, clamped where the form says so."""
    s = line.anchor[0]
    if line.anchored_low:
        if s != 0.0:
            x = _in_place(lambda: torch.sub(x, s, out=out), lambda: x - s, plain)
        elif out is not x:
            x = _in_place(lambda: torch.mul(x, form.k, out=out), lambda: x * form.k, plain)
            return _finished(line, form, x, plain)
    else:
        x = _in_place(lambda: torch.sub(x.new_full((), s), x, out=out), lambda: s - x, plain)
    return _finished(line, form, x.mul_(form.k), plain)


def _finished(line: Segment, form: Anchored, x: Tensor, plain: bool) -> Tensor:
    """The product ``|x - s_a| · k`` made a value: plus ``a``, clamped where needed."""
    a = line.anchor[1]
    if a != 0.0 or form.k < 0.0:  # (a = 0, k < 0: +0 at the anchor, not the product's -0)
        x = x.add_(a)
    return _clamped(line, x, plain) if form.clamped else x


def _clamped(line: Segment, x: Tensor, plain: bool) -> Tensor:
    """``x`` clamped to the segment's values, in place where the operators allow it."""
    low, high = min(line.at_low, line.at_high), max(line.at_low, line.at_high)
    return _in_place(
        lambda: torch.clamp(x, low, high, out=x),
        lambda: x.clamp_min(low).clamp_max_(high),
        plain,
    )


def _in_place(write: Callable[[], Tensor], fresh: Callable[[], Tensor], plain: bool) -> Tensor:
    """``write()`` (an ``out=`` operation, one pass in place) where ``plain``, else, or where
    it raises (``vmap`` has no batching rule for ``out=``, autograd refuses it), ``fresh()``."""
    if plain:
        try:
            return write()
        except RuntimeError:
            pass
    return fresh()
