"""transformers' lr schedule shapes, built from the pieces of :mod:`schedules`.

``transformers_schedule(name, peak, num_warmup_steps=None, num_training_steps=None, ...)`` is
the schedule transformers' ``get_scheduler(name, ...)`` gives a param group whose initial lr is
``peak``, for every step-driven name of its ``SchedulerType`` (:data:`STEP_TYPES`), as one pure,
picklable schedule: a ``join`` of leaves (the table is in :func:`optimsche.get_scheduler`'s
module doc, which also lists where these part from transformers). ``count_from`` says how the
caller counts: ``0`` for a 0-based clock (``as_lr_scheduler(..., count_from=0)``, optax,
timm), ``1`` (the default) for the 1-based clock of the shell and of ``as_lr_scheduler``'s
default, where the k-th update sees step k: then the shape is ``join([constant(value at 0),
shape], boundaries=[1])``, so step k gives transformers' lr of its k-th update, ``f(k - 1)``.
(``inverse_sqrt`` without warmup and ``cosine_warmup_with_min_lr`` are counted from 1 by
nature and refuse ``count_from=0``.)

Its keywords are transformers' ``scheduler_specific_kwargs`` of the name
(:data:`SCHEDULER_KWARGS`; one not of the name is refused with its close matches) and ``lr``,
the optimizer's default lr (``polynomial`` and ``min_lr`` read it; default ``peak``). So an
expression or a config reads ``transformers_schedule(name="cosine", peak=3e-4,
num_warmup_steps=500, num_training_steps=10000)``. Bad arguments are a ``ValueError`` with
transformers' reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from schedules.bound_schedule import bind
from schedules.close_matches import did_you_mean
from schedules.constant import constant
from schedules.cosine import cosine
from schedules.cosine_restarts import cosine_restarts
from schedules.inverse_sqrt import inverse_sqrt
from schedules.join import join
from schedules.linear import linear
from schedules.polynomial import polynomial
from schedules.scale import scale
from schedules.schedule_protocol import Schedule
from schedules.validation import require_int, require_non_negative, require_number
from schedules.warmup import warmup
from schedules.warmup_cosine import warmup_cosine

__all__ = [
    "METRIC_TYPES",
    "SCHEDULER_KWARGS",
    "SCHEDULER_TYPES",
    "STEP_TYPES",
    "transformers_schedule",
    "transformers_shape",
]

SCHEDULER_TYPES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
    "greedy",
)
"""The names of transformers' ``SchedulerType``, in its order."""

SCHEDULER_KWARGS: dict[str, dict[str, Any]] = {
    "linear": {},
    "cosine": {"num_cycles": 0.5},
    "cosine_with_restarts": {"num_cycles": 1},
    "polynomial": {"lr_end": 1e-7, "power": 1.0},
    "constant": {},
    "constant_with_warmup": {},
    "inverse_sqrt": {"timescale": None},
    "reduce_lr_on_plateau": {
        "mode": "min",
        "factor": 0.1,
        "patience": 10,
        "threshold": 1e-4,
        "threshold_mode": "rel",
        "cooldown": 0,
        "min_lr": 0.0,
        "eps": 1e-8,
    },
    "cosine_with_min_lr": {"num_cycles": 0.5, "min_lr": None, "min_lr_rate": None},
    "cosine_warmup_with_min_lr": {
        "num_cycles": 0.5,
        "min_lr": None,
        "min_lr_rate": None,
        "warmup_lr_rate": None,
    },
    "warmup_stable_decay": {
        "num_decay_steps": None,
        "num_stable_steps": None,
        "warmup_type": "linear",
        "decay_type": "cosine",
        "min_lr_ratio": 0.0,
        "num_cycles": 0.5,
    },
    "greedy": {
        "mode": "min",
        "factor": 0.95,
        "patience": 10,
        "threshold": 1e-6,
        "threshold_mode": "abs",
        "cooldown": 0,
        "warmup": 0,
        "min_lr": 1e-3,
        "max_lr": 1.0,
        "eps": 1e-8,
        "verbose": False,
        "smooth": False,
        "window_size": 50,
        "reset_start": 500,
    },
}
"""Every name's ``scheduler_specific_kwargs`` with transformers' defaults (``constant`` and
``constant_with_warmup`` take none: transformers ignores them there)."""

_WSD_TYPES = ("linear", "cosine", "1-sqrt")

Shape = Callable[[float], Schedule]
"""A name's schedule as a function of a param group's initial lr (its peak)."""


def _fail(name: str, message: str) -> ValueError:
    return ValueError(message)


def _ramp(peak: float, w: float, after: Schedule) -> Schedule:
    """``after`` preceded by transformers' linear warmup ``peak · s / w`` (none when w = 0)."""
    if w == 0:
        return after
    return join([bind(linear, start=0.0, end=peak, steps=w), after], boundaries=[w])


def _need_decay(name: str, w: float, t: float) -> float:
    if t <= w:
        raise _fail(
            name,
            f"num_training_steps ({t}) must exceed num_warmup_steps ({w}): transformers' "
            f"{name} has no decay phase then (it divides by zero)",
        )
    return t - w


def _min_rate(name: str, kw: dict[str, Any], default_lr: float) -> float:
    """``min_lr_rate``, or ``min_lr`` over the optimizer's default lr (exactly one given)."""
    if kw["min_lr"] is not None and kw["min_lr_rate"] is not None:
        raise _fail(name, "only one of min_lr or min_lr_rate should be set")
    if kw["min_lr"] is not None:
        return float(kw["min_lr"]) / default_lr
    if kw["min_lr_rate"] is None:
        raise _fail(name, "one of min_lr or min_lr_rate should be set (scheduler_specific_kwargs)")
    return float(kw["min_lr_rate"])


def _wsd(name: str, w: float, t: float | None, kw: dict[str, Any]) -> Shape:
    decay_steps = kw["num_decay_steps"]
    if decay_steps is None:
        raise _fail(name, "num_decay_steps is required (scheduler_specific_kwargs)")
    d = require_non_negative("num_decay_steps", decay_steps)
    if t is None and kw["num_stable_steps"] is None:
        raise _fail(name, "either num_training_steps or num_stable_steps must be specified")
    if t is not None and kw["num_stable_steps"] is not None:
        warnings.warn(
            "Both num_training_steps and num_stable_steps are specified. num_stable_steps will "
            "be used.",
            stacklevel=3,
        )
    for key in ("warmup_type", "decay_type"):
        if kw[key] not in _WSD_TYPES:
            raise _fail(
                name,
                f"unknown {key} {kw[key]!r}{did_you_mean(str(kw[key]), _WSD_TYPES)} "
                f"(expected one of {', '.join(map(repr, _WSD_TYPES))})",
            )
    stable = kw["num_stable_steps"] if kw["num_stable_steps"] is not None else t - w - d  # type: ignore[operator]
    if stable < 0:
        raise _fail(
            name,
            f"num_training_steps ({t}) is shorter than num_warmup_steps + num_decay_steps "
            f"({w} + {d}): transformers' decay would start midway",
        )
    r, cycles, up, down = kw["min_lr_ratio"], kw["num_cycles"], kw["warmup_type"], kw["decay_type"]

    def shape(peak: float) -> Schedule:
        low = r * peak
        warm = {
            "linear": lambda: bind(linear, start=low, end=peak, steps=w),
            "cosine": lambda: bind(cosine, peak=low, steps=w, final=peak),
            "1-sqrt": lambda: bind(polynomial, start=low, end=peak, steps=w, power=0.5),
        }[up]
        fall = {
            "linear": lambda: bind(linear, start=peak, end=low, steps=d),
            "cosine": lambda: bind(
                warmup_cosine, peak=peak, warmup=0, steps=d, final=low, cycles=cycles
            ),
            "1-sqrt": lambda: bind(polynomial, start=peak, end=low, steps=d, k_decay=0.5),
        }[down]
        pieces: list[tuple[float, Callable[[], Schedule]]] = [
            (w, warm),
            (stable, lambda: bind(constant, value=peak)),
            (d, fall),
        ]
        children: list[Schedule] = []
        boundaries: list[float] = []
        for width, build in pieces:
            if width > 0:  # a phase of no steps is left out
                children.append(build())
                boundaries.append((boundaries[-1] if boundaries else 0.0) + width)
        children.append(bind(constant, value=low))
        return join(children, boundaries=boundaries) if boundaries else children[0]

    return shape


def transformers_shape(
    name: str, w: float | None, t: float | None, kw: dict[str, Any], default_lr: float
) -> tuple[Shape, int]:
    """The schedule of step-driven ``name`` as a function of a group's initial lr (its peak),
    and the ``count_from`` it is written for (0, or 1 where transformers' shape runs a step
    ahead); transformers' requirements are checked in its order, ``kw`` holds every key of
    :data:`SCHEDULER_KWARGS` of the name, ``default_lr`` the optimizer's default lr. ``w`` and
    ``t`` (the warmup and training steps, ``None`` when not given) are checked here, once for
    every caller."""
    w = None if w is None else require_non_negative("num_warmup_steps", w)
    t = None if t is None else require_non_negative("num_training_steps", t)
    if name == "constant":
        return (lambda peak: bind(constant, value=peak)), 0
    if w is None:
        raise _fail(name, f"{name} requires `num_warmup_steps`, please provide that argument")
    if name == "constant_with_warmup":
        if w == 0:
            return (lambda peak: bind(constant, value=peak)), 0
        return (lambda peak: warmup(bind(constant, value=peak), steps=w)), 0
    if name == "inverse_sqrt":
        tau = kw["timescale"] if kw["timescale"] is not None else (w or 10_000)
        if w == 0:  # no warmup: the first update sees step 1 of a 1-step warmup's decay
            return (lambda peak: bind(inverse_sqrt, peak=peak, warmup=1, timescale=tau)), 1
        return (lambda peak: bind(inverse_sqrt, peak=peak, warmup=w, timescale=tau)), 0
    if name == "warmup_stable_decay":
        return _wsd(name, w, t, kw), 0
    if t is None:
        raise _fail(name, f"{name} requires `num_training_steps`, please provide that argument")
    if name == "linear":

        def linear_shape(peak: float) -> Schedule:
            after = (
                bind(linear, start=peak, end=0.0, steps=t - w)
                if t > w
                else bind(constant, value=0.0)
            )
            return _ramp(peak, w, after)

        return linear_shape, 0
    span = max(1.0, t - w)  # transformers' max(1, num_training_steps - num_warmup_steps)
    if name == "cosine_with_restarts":
        cycles = kw["num_cycles"]
        if not isinstance(cycles, int | float) or cycles <= 0:
            raise _fail(name, f"num_cycles must be a number > 0, got {cycles!r}")

        def restarts(peak: float) -> Schedule:
            children = [bind(cosine_restarts, peak=peak, period=span / cycles)]
            children.append(bind(constant, value=0.0))
            return _ramp(peak, w, join(children, boundaries=[span]))

        return restarts, 0
    if name == "polynomial":
        decay = _need_decay(name, w, t)
        lr_end, power = kw["lr_end"], kw["power"]
        if not default_lr > lr_end:
            raise _fail(name, f"lr_end ({lr_end}) must be smaller than initial lr ({default_lr})")

        def poly(peak: float) -> Schedule:
            curve = bind(polynomial, start=default_lr, end=lr_end, steps=decay, power=power)
            return scale(_ramp(default_lr, w, curve), peak / default_lr)

        return poly, 0
    cycles = require_number("num_cycles", kw["num_cycles"])
    rate = 0.0 if name == "cosine" else _min_rate(name, kw, default_lr)

    def wave(peak: float) -> Schedule:
        """½(1 + cos(2π · cycles · t / span)) from peak down to rate · peak, cycling for
        ever as transformers' formula does (cosine(cycle=True): period 2 · steps)."""
        curve: Schedule = bind(constant, value=peak)
        if cycles != 0:
            steps = span / (2.0 * abs(cycles))
            curve = bind(cosine, peak=peak, steps=steps, final=rate * peak, cycle=True)
        return curve

    if name in ("cosine", "cosine_with_min_lr"):
        return (lambda peak: _ramp(peak, w, wave(peak))), 0
    # cosine_warmup_with_min_lr: the k-th update (0-based s) sees s + 1
    start_rate = kw["warmup_lr_rate"]
    if start_rate is None or w == 0:
        return (lambda peak: _ramp(peak, w, wave(peak))), 1
    if w < 2:
        raise _fail(
            name,
            "warmup_lr_rate with num_warmup_steps=1 is not expressible here (its one warmup "
            "step is followed by a decay counted one step ahead)",
        )

    def warm_cosine(peak: float) -> Schedule:
        ramp = bind(linear, start=start_rate * peak, end=peak, steps=w - 1, begin=1)
        return join([ramp, wave(peak)], boundaries=[w])

    return warm_cosine, 1


METRIC_TYPES = ("reduce_lr_on_plateau", "greedy")
"""The names transformers steps with a metric (rules, not schedules)."""

STEP_TYPES = tuple(name for name in SCHEDULER_TYPES if name not in METRIC_TYPES)
"""The names whose lr is a schedule of the step."""


def transformers_schedule(
    name: str,
    peak: float,
    num_warmup_steps: float | None = None,
    num_training_steps: float | None = None,
    lr: float | None = None,
    count_from: int = 1,
    num_cycles: float | None = None,
    lr_end: float | None = None,
    power: float | None = None,
    timescale: float | None = None,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
    num_decay_steps: float | None = None,
    num_stable_steps: float | None = None,
    warmup_type: str | None = None,
    decay_type: str | None = None,
    min_lr_ratio: float | None = None,
) -> Schedule:
    """transformers' lr of a param group of initial lr ``peak`` under ``get_scheduler(name,
    ...)``, as one pure schedule for a clock counted from ``count_from`` (module doc).
    ``None`` keywords take transformers' defaults; a keyword the name does not take is
    refused."""
    if name not in STEP_TYPES:
        raise ValueError(
            f"name must be one of transformers' step-driven scheduler names "
            f"({', '.join(STEP_TYPES)}){did_you_mean(str(name), STEP_TYPES)}, got {name!r}"
            + (
                " (a metric rule: use schedules.reduce_on_plateau / greedy)"
                if name in METRIC_TYPES
                else ""
            )
        )
    given = {
        key: value
        for key, value in {
            "num_cycles": num_cycles,
            "lr_end": lr_end,
            "power": power,
            "timescale": timescale,
            "min_lr": min_lr,
            "min_lr_rate": min_lr_rate,
            "warmup_lr_rate": warmup_lr_rate,
            "num_decay_steps": num_decay_steps,
            "num_stable_steps": num_stable_steps,
            "warmup_type": warmup_type,
            "decay_type": decay_type,
            "min_lr_ratio": min_lr_ratio,
        }.items()
        if value is not None
    }
    valid = SCHEDULER_KWARGS[name]
    unknown = [key for key in given if key not in valid]
    if unknown:
        raise ValueError(
            f"{name} takes no {unknown[0]}{did_you_mean(unknown[0], valid)} "
            f"(its keywords: {', '.join(valid) or 'none'})"
        )
    peak = require_number("peak", peak)
    count_from = require_int("count_from", count_from, minimum=0, maximum=1)
    shape, native = transformers_shape(
        name, num_warmup_steps, num_training_steps, {**valid, **given}, peak if lr is None else lr
    )
    schedule = shape(peak)
    if count_from == native:
        return schedule
    if native == 1:
        raise ValueError(
            f"{name} with these arguments runs a step ahead of a 0-based clock: use "
            f"count_from=1 (a 1-based clock)"
        )
    return join([bind(constant, value=float(schedule(0))), schedule], boundaries=[1])
