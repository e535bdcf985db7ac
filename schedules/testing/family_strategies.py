"""Hypothesis strategies for valid hyperparameters of every built-in schedule family.

``hyperparameters("cosine")`` draws keyword arguments for ``schedules.cosine(step,
**kwargs)``; ``schedules_with_kwargs()`` draws ``(function, kwargs)`` pairs across all
families (or the ones named). The draws are *typical* settings, not every valid one:

* learning rates (``peak``, ``start``, ``value``, ``base``) lie in ``[1e-6, 10]``, levels
  that may be 0 (``end``, ``final``, ``values``) in ``[0, 10]``;
* lengths (``steps``, ``warmup``, ``period``, ``every``, ...) are integers in
  ``[1, max_steps]`` (``hold``/``stable``/``begin`` may be 0);
* decays decay (``gamma``, ``decay``, a decaying ``rate`` in ``(0, 1]``), floors lie below
  peaks (``final <= peak``, ``base <= peak``, ``div >= 1``), and a growing ``exponential``
  always has its ceiling ``end``, so every drawn schedule is finite at every step, 10**12
  included.

The families are those of the registry ``schedules.FAMILIES`` (importing this module fails
loudly when a registered family has no strategy here); each draw is completed with the
family's defaults, so every hyperparameter is present.

Importing this module imports ``hypothesis``; the core package :mod:`schedules` never does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

import schedules
from schedules import ramp_shapes

Kwargs = dict[str, Any]
DEFAULT_MAX_STEPS = 10**6
"""Longest length drawn for a phase (``steps``, ``warmup``, ...) unless told otherwise."""


def learning_rates() -> st.SearchStrategy[float]:
    """Positive learning rates in ``[1e-6, 10]``."""
    return st.floats(1e-6, 10.0)


def levels() -> st.SearchStrategy[float]:
    """Learning-rate levels that may be 0: ``[0, 10]``."""
    return st.one_of(st.just(0.0), st.floats(0.0, 10.0))


def fractions() -> st.SearchStrategy[float]:
    """Numbers in ``[0, 1]``, the ends included and drawn often."""
    return st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))


def _lengths(max_steps: int, minimum: int = 1) -> st.SearchStrategy[int]:
    return st.integers(minimum, max(minimum, max_steps))


def _sorted_unique(max_steps: int, minimum: int, max_size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(
        st.integers(minimum, max(minimum, max_steps)), max_size=max_size, unique=True
    ).map(sorted)


@st.composite
def _constant(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {"value": draw(levels())}


@st.composite
def _linear(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        "start": draw(levels()),
        "end": draw(levels()),
        "steps": draw(_lengths(max_steps)),
        "begin": draw(st.one_of(st.just(0), _lengths(max_steps, 0))),
    }


@st.composite
def _polynomial(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        **draw(_linear(max_steps)),
        "power": draw(st.floats(0.1, 5.0)),
    }


@st.composite
def _exponential(draw: st.DrawFn, max_steps: int) -> Kwargs:
    start = draw(learning_rates())
    kwargs: Kwargs = {
        "start": start,
        "steps": draw(_lengths(max_steps)),
        "begin": draw(st.one_of(st.just(0), _lengths(max_steps, 0))),
        "staircase": draw(st.booleans()),
    }
    if draw(st.booleans()):  # growth, bounded by its ceiling
        kwargs["rate"] = draw(st.floats(1.0, 4.0))
        kwargs["end"] = start * draw(st.one_of(st.just(1.0), st.floats(1.0, 1e3)))
    else:
        kwargs["rate"] = draw(st.floats(0.01, 1.0))
        floor = draw(st.one_of(st.none(), st.just(1.0), st.floats(1e-3, 1.0)))
        kwargs["end"] = None if floor is None else start * floor
    return kwargs


@st.composite
def _step_decay(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        "start": draw(learning_rates()),
        "every": draw(_lengths(max_steps)),
        "gamma": draw(st.floats(0.01, 1.0)),
    }


@st.composite
def _multistep(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        "start": draw(learning_rates()),
        "milestones": draw(_sorted_unique(max_steps, 0, 6)),
        "gamma": draw(st.floats(0.01, 1.0)),
    }


@st.composite
def _cosine(draw: st.DrawFn, max_steps: int) -> Kwargs:
    peak = draw(learning_rates())
    return {
        "peak": peak,
        "steps": draw(_lengths(max_steps)),
        "final": peak * draw(fractions()),
        "exponent": draw(st.one_of(st.just(1.0), st.floats(0.25, 4.0))),
    }


@st.composite
def _warmup_cosine(draw: st.DrawFn, max_steps: int) -> Kwargs:
    peak = draw(learning_rates())
    steps = draw(_lengths(max(max_steps, 2), 2))
    return {
        "peak": peak,
        "warmup": draw(st.integers(0, steps - 1)),
        "steps": steps,
        "start": peak * draw(fractions()),
        "final": peak * draw(fractions()),
        "exponent": draw(st.one_of(st.just(1.0), st.floats(0.25, 4.0))),
    }


@st.composite
def _cosine_restarts(draw: st.DrawFn, max_steps: int) -> Kwargs:
    peak = draw(learning_rates())
    return {
        "peak": peak,
        "period": draw(_lengths(max_steps)),
        "mult": draw(st.one_of(st.sampled_from([1.0, 2.0]), st.floats(1.0, 3.0))),
        "final": peak * draw(fractions()),
        "decay": draw(st.one_of(st.just(1.0), st.floats(0.05, 1.0))),
    }


@st.composite
def _noam(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        "d_model": draw(st.integers(1, 8192)),
        "warmup": draw(_lengths(max_steps)),
        "scale": draw(st.floats(0.01, 100.0)),
    }


@st.composite
def _inverse_sqrt(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {"peak": draw(learning_rates()), "warmup": draw(_lengths(max_steps))}


@st.composite
def _tri_stage(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        "peak": draw(learning_rates()),
        "warmup": draw(_lengths(max_steps)),
        "hold": draw(_lengths(max_steps, 0)),
        "decay": draw(_lengths(max_steps)),
        "init_scale": draw(fractions()),
        "final_scale": draw(st.floats(1e-4, 1.0)),
    }


@st.composite
def _warmup_stable_decay(draw: st.DrawFn, max_steps: int) -> Kwargs:
    peak = draw(learning_rates())
    return {
        "peak": peak,
        "warmup": draw(_lengths(max_steps)),
        "stable": draw(_lengths(max_steps, 0)),
        "decay": draw(_lengths(max_steps)),
        "final": peak * draw(fractions()),
        "shape": draw(st.sampled_from(ramp_shapes.SHAPES)),
        "start": peak * draw(fractions()),
        "warmup_shape": draw(st.sampled_from(ramp_shapes.SHAPES)),
    }


@st.composite
def _one_cycle(draw: st.DrawFn, max_steps: int) -> Kwargs:
    steps = draw(_lengths(max(max_steps, 10), 10))
    return {
        "peak": draw(learning_rates()),
        "steps": steps,
        # the first phase lasts >= 1 step; three phases still end before steps - 1
        "pct_start": draw(st.floats(max(0.05, 2.0 / steps), 0.45)),
        "div": draw(st.floats(1.0, 100.0)),
        "final_div": draw(st.floats(1.0, 1e5)),
        "anneal": draw(st.sampled_from(["cos", "linear"])),
        "three_phase": draw(st.booleans()),
    }


@st.composite
def _cyclic(draw: st.DrawFn, max_steps: int) -> Kwargs:
    base = draw(levels())
    return {
        "base": base,
        "peak": base + draw(learning_rates()),
        "up": draw(_lengths(max_steps)),
        "down": draw(st.one_of(st.none(), _lengths(max_steps))),
        "mode": draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        "gamma": draw(st.one_of(st.just(1.0), st.floats(0.5, 1.0))),
    }


@st.composite
def _piecewise_constant(draw: st.DrawFn, max_steps: int) -> Kwargs:
    boundaries = draw(_sorted_unique(max_steps, 1, 6))
    values = draw(st.lists(levels(), min_size=len(boundaries) + 1, max_size=len(boundaries) + 1))
    return {"boundaries": boundaries, "values": values}


@st.composite
def _piecewise_linear(draw: st.DrawFn, max_steps: int) -> Kwargs:
    xs = draw(_sorted_unique(max_steps, 0, 6).filter(bool))
    return {"points": [(x, draw(levels())) for x in xs]}


@st.composite
def _tanh_decay(draw: st.DrawFn, max_steps: int) -> Kwargs:
    peak = draw(learning_rates())
    lower = draw(st.one_of(st.just(-7.0), st.floats(-10.0, 5.0)))
    return {
        "peak": peak,
        "steps": draw(_lengths(max_steps)),
        "final": peak * draw(fractions()),
        "lower": lower,
        "upper": lower + draw(st.one_of(st.just(10.0), st.floats(0.1, 15.0))),
    }


@st.composite
def _power_decay(draw: st.DrawFn, max_steps: int) -> Kwargs:
    return {
        "peak": draw(learning_rates()),
        "scale": draw(_lengths(max_steps)),
        "exponent": draw(st.one_of(st.sampled_from([0.25, 0.5, 1.0]), st.floats(0.05, 4.0))),
        "begin": draw(_lengths(max_steps, 0)),
        "order": draw(st.one_of(st.sampled_from([1.0, 2.0]), st.floats(0.25, 4.0))),
    }


_DRAWS: dict[str, Callable[[int], st.SearchStrategy[Kwargs]]] = {
    "constant": _constant,
    "linear": _linear,
    "polynomial": _polynomial,
    "exponential": _exponential,
    "step_decay": _step_decay,
    "multistep": _multistep,
    "cosine": _cosine,
    "warmup_cosine": _warmup_cosine,
    "cosine_restarts": _cosine_restarts,
    "noam": _noam,
    "inverse_sqrt": _inverse_sqrt,
    "tri_stage": _tri_stage,
    "warmup_stable_decay": _warmup_stable_decay,
    "one_cycle": _one_cycle,
    "cyclic": _cyclic,
    "piecewise_constant": _piecewise_constant,
    "piecewise_linear": _piecewise_linear,
    "tanh_decay": _tanh_decay,
    "power_decay": _power_decay,
}

FAMILIES: tuple[str, ...] = tuple(schedules.FAMILIES)
"""The names of the built-in leaf schedule families (``schedules.FAMILIES``), in the order of
the design table (the peer families of issue 9 after it)."""

_missing = [f for f in FAMILIES if f not in _DRAWS]
_unknown = [f for f in _DRAWS if f not in schedules.FAMILIES]
if _missing or _unknown:  # a leaf added to (or removed from) the registry, not here
    raise ImportError(
        f"schedules.testing has no strategy for the families {_missing} of schedules.FAMILIES"
        f" (and strategies for unknown families {_unknown}): add them to family_strategies.py"
    )


def hyperparameters(
    family: str, *, max_steps: int = DEFAULT_MAX_STEPS
) -> st.SearchStrategy[Kwargs]:
    """Keyword arguments valid for ``schedules.<family>(step, **kwargs)``; phase lengths are
    at most ``max_steps``. Every hyperparameter of the family (``schedules.FAMILIES[family].
    parameters``) is present: those not drawn hold their defaults."""
    if family not in schedules.FAMILIES:
        valid = ", ".join(repr(f) for f in FAMILIES)
        raise ValueError(f"family must be one of {valid}, got {family!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    return _DRAWS[family](max_steps).map(schedules.FAMILIES[family].complete)


def schedules_with_kwargs(
    families: Sequence[str] = FAMILIES, *, max_steps: int = DEFAULT_MAX_STEPS
) -> st.SearchStrategy[tuple[Callable[..., Any], Kwargs]]:
    """Pairs ``(schedules.<family>, kwargs)`` for the named families (all by default):
    ``fn(step, **kwargs)`` is a valid schedule, ``functools.partial(fn, **kwargs)`` too."""
    if isinstance(families, str) or not families:
        raise ValueError(f"families must be a non-empty sequence of names, got {families!r}")
    return st.one_of([_with_function(family, max_steps) for family in families])


def _with_function(
    family: str, max_steps: int
) -> st.SearchStrategy[tuple[Callable[..., Any], Kwargs]]:
    kwargs_strategy = hyperparameters(family, max_steps=max_steps)
    function: Callable[..., Any] = schedules.FAMILIES[family].function

    def pair(kwargs: Kwargs) -> tuple[Callable[..., Any], Kwargs]:
        return function, kwargs

    return kwargs_strategy.map(pair)
