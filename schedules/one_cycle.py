"""The 1cycle policy: warm up from ``peak/div`` to ``peak``, then anneal to a tiny minimum.

Reference: torch ``torch.optim.lr_scheduler.OneCycleLR`` (Smith & Topin 2018,
"Super-Convergence").
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from torch import Tensor

from schedules.leaf_family import Family, finite_constant
from schedules.number_text import number_text
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.tensor_values import Checked, Value
from schedules.validation import (
    choice,
)

ANNEALS = ("cos", "linear")
"""The annealing strategies of :func:`one_cycle`."""


def _anneal(ops: Ops[S], start: float, end: float, pct: S, anneal: str) -> S:
    if anneal == "cos":
        return end + (start - end) / 2.0 * (ops.cos(math.pi * pct) + 1.0)
    return (end - start) * pct + start


class _Recipe(NamedTuple):
    last: float  # steps - 1: the horizon
    phases: tuple[tuple[float, float, Any, Any], ...]  # (begin, end step, from, to value)
    anneal: str


def _prepare(
    peak: Checked,
    steps: float,
    pct_start: float = 0.3,
    div: float = 25.0,
    final_div: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
) -> _Recipe:
    first_end = pct_start * steps - 1.0
    if first_end == 0.0:
        raise ValueError(
            f"pct_start · steps must not be 1 (got pct_start={number_text(pct_start)}, "
            f"steps={number_text(steps)}): "
            "the warm-up phase would have zero length"
        )
    if peak.__class__ is float:
        finite_constant("div", div, peak / div, "peak / div")
        finite_constant("final_div", final_div, peak / div / final_div, "peak / div / final_div")
    initial = peak / div
    minimum = initial / final_div
    last = steps - 1.0
    phases: list[tuple[float, Any, Any]]  # (end step, start value, end value)
    if three_phase:
        phases = [
            (first_end, initial, peak),
            (2.0 * pct_start * steps - 2.0, peak, initial),
            (last, initial, minimum),
        ]
    else:
        phases = [(first_end, initial, peak), (last, peak, minimum)]

    bounded: list[tuple[float, float, Any, Any]] = []
    for i, (end, start_value, end_value) in enumerate(phases):
        begin = phases[i - 1][0] if i > 0 else 0.0
        bounded.append((begin, end, start_value, end_value))
    return _Recipe(last, tuple(bounded), anneal)


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    last, phases, anneal = r
    s = ops.minimum(ops.step(step), last)
    value: S | None = None
    # Build from the last phase back, so that the first phase whose end is >= s wins.
    for begin, end, start_value, end_value in reversed(phases):
        # A phase of non-positive length is never entered (see above): its denominator
        # only has to keep the unused branch finite.
        length = end - begin if end > begin else 1.0
        phase_value = _anneal(ops, start_value, end_value, (s - begin) / length, anneal)
        value = phase_value if value is None else ops.where(s <= end, phase_value, value)
    assert value is not None
    return value


def _scalar(step: float, r: _Recipe) -> float:
    return _formula(SCALAR, step, r)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return _formula(TENSOR, step, r)


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("peak",),
    lengths=("steps",),
    horizon=lambda h: float(h["steps"] - 1),
    checks={
        "peak": "value",
        "steps": "positive",
        "pct_start": "open_fraction",
        "div": "positive",
        "final_div": "positive",
        "anneal": choice(*ANNEALS),
        "three_phase": "bool",
    },
)


@FAMILY.leaf
def one_cycle(
    step: S,
    peak: Value,
    steps: float,
    pct_start: float = 0.3,
    div: float = 25.0,
    final_div: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
) -> S:
    """torch ``OneCycleLR(max_lr=peak, total_steps=steps, pct_start, div_factor=div,
    final_div_factor=final_div, anneal_strategy=anneal, three_phase)``, at 0-based step ``s``.

    With ``initial = peak / div``, ``minimum = initial / final_div`` and ``e₁ = pct_start ·
    steps - 1``, the phases are (each from the previous end, 0 for the first)::

        two phases:   initial → peak  until e₁;   peak → minimum  until steps - 1
        three_phase:  initial → peak  until e₁;   peak → initial  until 2·pct_start·steps - 2;
                      initial → minimum  until steps - 1

    ``s`` lies in the first phase whose end is >= ``s``; in a phase from step ``a`` to step
    ``b`` with values ``u → v`` and ``pct = (s - a) / (b - a)``, the value is
    ``v + (u - v)/2 · (cos(π·pct) + 1)`` (``anneal="cos"``) or ``(v - u)·pct + u``
    (``"linear"``). This is torch's code path, step for step, for ``s <= steps - 1``.

    A phase that ends before it begins is never entered, as in torch: the first phase when
    ``pct_start · steps < 1``, and the third when ``three_phase`` and the second ends at or
    after ``steps - 1`` (``pct_start >= (steps + 1) / (2·steps)``; then ``minimum`` is never
    reached). torch divides by zero when ``pct_start · steps == 1`` (a first phase of zero
    length): that is a ``ValueError`` here.

    Past the horizon the value holds the value at ``steps - 1`` (``minimum``, except in
    that last case), where torch raises after ``total_steps`` and, at exactly ``total_steps``,
    extrapolates the last phase. Negative steps behave as step 0.
    """
    return FAMILY.call(
        step,
        (
            peak,
            steps,
            pct_start,
            div,
            final_div,
            anneal,
            three_phase,
            peak.__class__,
            steps.__class__,
            pct_start.__class__,
            div.__class__,
            final_div.__class__,
            anneal.__class__,
            three_phase.__class__,
        ),
    )
