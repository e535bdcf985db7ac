"""transformers' ``get_scheduler`` as a drop-in: ``optimsche.get_scheduler(name, optimizer,
num_warmup_steps=None, num_training_steps=None, scheduler_specific_kwargs=None)``.

Every name of transformers' ``SchedulerType`` (:data:`SCHEDULER_TYPES`) with its arguments,
its defaults and its refusals; what it returns is a torch ``LRScheduler`` that sets the same
lr in every param group after every ``step()`` as transformers' own (checked against numbers
transformers 5.25.0 produced, at rel. 1e-12, with several param groups and settings per name),
without depending on transformers:

* the step-driven names are :func:`~optimsche.as_lr_scheduler` over one pure schedule per
  param group (its initial lr ``base_g`` as the peak), 0-based (``count_from=0``) as
  transformers' ``LambdaLR`` is. The shapes are built from :mod:`schedules`:

  ===========================  ============================================================
  name                         schedule of group ``g`` (``W``/``T``: warmup/training steps)
  ===========================  ============================================================
  constant                     ``constant(base_g)``
  constant_with_warmup         ``warmup(constant(base_g), W)``
  linear                       ``join([linear(0, base_g, W), linear(base_g, 0, T - W)], [W])``
  cosine                       ``warmup_cosine(base_g, W, T, cycles=num_cycles)``
  cosine_with_restarts         ``join([ramp, cosine_restarts(base_g, (T - W) / num_cycles),
                               constant(0)], [W, T])``
  polynomial                   ``scale(join([ramp, polynomial(lr, lr_end, T - W, power)],
                               [W]), base_g / lr)``, ``lr`` the optimizer's default lr
  inverse_sqrt                 ``inverse_sqrt(base_g, W, timescale)`` (``W = 0``: warmup 1,
                               counted from 1)
  cosine_with_min_lr           ``warmup_cosine(base_g, W, T, final=rate · base_g, cycles)``
  cosine_warmup_with_min_lr    the same counted from 1 (its warmup ends one step early and
                               its decay runs one step ahead); with ``warmup_lr_rate`` a
                               ``linear`` warmup from ``warmup_lr_rate · base_g`` joined to
                               the cosine
  warmup_stable_decay          ``join`` of the warmup (``linear``, ``cosine`` or
                               ``polynomial(power=0.5)`` for ``1-sqrt``), ``constant``, the
                               decay (``linear``, ``warmup_cosine``, ``polynomial(k_decay=
                               0.5)``) and ``constant(min_lr_ratio · base_g)``
  ===========================  ============================================================

* ``reduce_lr_on_plateau`` and ``greedy`` are a :class:`~optimsche.metric_rule_lr.MetricRuleLR`
  (a ``ReduceLROnPlateau`` subclass, so transformers' ``Trainer`` steps it with the evaluation
  metric) over :class:`schedules.reduce_on_plateau` / :class:`schedules.greedy`, one rule per
  group with that group's bounds as scales (``min_lr_g / base_g``, ``max_lr_g / base_g``).

Where it parts from transformers (each refused with a ``ValueError`` saying so, or listed
here): past ``num_training_steps`` transformers' cosine shapes keep cycling (its formula has no
end) while these hold their last value (transformers' ``Trainer`` never steps there);
``num_training_steps <= num_warmup_steps`` for the cosine and polynomial shapes (transformers
then cycles every step or divides by zero) and ``cosine_warmup_with_min_lr`` with
``warmup_lr_rate`` and ``num_warmup_steps = 1`` are refused; torch's and GreedyLR's ``eps``
(skip an lr change of ``eps`` or less) has no counterpart; with several param groups whose
``min_lr`` ratios differ GreedyLR resets when *all* groups sat at their minimum
``reset_start`` times, here each group on its own; an unknown keyword is a ``ValueError`` (with
close matches) where transformers raises ``TypeError``; a ``LayerWiseDummyOptimizer`` is not
supported.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from optimsche.lr_scheduler_adapter import ScheduleLR
from optimsche.metric_rule_lr import MetricRuleLR
from schedules import (
    bind,
    constant,
    cosine,
    cosine_restarts,
    greedy,
    inverse_sqrt,
    join,
    linear,
    polynomial,
    reduce_on_plateau,
    scale,
    warmup,
    warmup_cosine,
)
from schedules.close_matches import did_you_mean
from schedules.metric_rule import MetricRule
from schedules.schedule_protocol import Schedule
from schedules.validation import require_non_negative

__all__ = ["SCHEDULER_KWARGS", "SCHEDULER_TYPES", "get_scheduler"]

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
    return ValueError(f"get_scheduler({name!r}): {message}")


def _ramp(peak: float, w: float, after: Schedule) -> Schedule:
    """``after`` preceded by transformers' linear warmup ``peak · s / w`` (none when w = 0)."""
    if w == 0:
        return after
    return join([bind(linear, start=0.0, end=peak, steps=w), after], boundaries=[w])


def _need_decay(name: str, w: float, t: float) -> float:
    if t <= w:
        raise _fail(
            name,
            f"num_training_steps ({t}) must exceed num_warmup_steps ({w}): transformers' shape "
            f"has no decay phase then (it cycles every step or divides by zero)",
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


def _step_shape(
    name: str, w: float | None, t: float | None, kw: dict[str, Any], default_lr: float
) -> tuple[Shape, int]:
    """The schedule of a step-driven name as a function of the group's peak, and the
    ``count_from`` it runs with (transformers' requirements checked in its order)."""
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
    decay = _need_decay(name, w, t)
    if name == "cosine":
        cycles = kw["num_cycles"]
        return (lambda peak: bind(warmup_cosine, peak=peak, warmup=w, steps=t, cycles=cycles)), 0
    if name == "cosine_with_restarts":
        cycles = kw["num_cycles"]
        if not isinstance(cycles, int | float) or cycles <= 0:
            raise _fail(name, f"num_cycles must be a number > 0, got {cycles!r}")

        def restarts(peak: float) -> Schedule:
            children = [bind(cosine_restarts, peak=peak, period=decay / cycles)]
            children.append(bind(constant, value=0.0))
            inner = join(children, boundaries=[decay])
            return _ramp(peak, w, inner)

        return restarts, 0
    if name == "polynomial":
        lr_end, power = kw["lr_end"], kw["power"]
        if not default_lr > lr_end:
            raise _fail(name, f"lr_end ({lr_end}) must be smaller than initial lr ({default_lr})")

        def poly(peak: float) -> Schedule:
            curve = bind(polynomial, start=default_lr, end=lr_end, steps=decay, power=power)
            return scale(_ramp(default_lr, w, curve), peak / default_lr)

        return poly, 0
    rate = _min_rate(name, kw, default_lr)
    cycles = kw["num_cycles"]
    if name == "cosine_with_min_lr":
        return (
            lambda peak: bind(
                warmup_cosine, peak=peak, warmup=w, steps=t, cycles=cycles, final=rate * peak
            )
        ), 0
    # cosine_warmup_with_min_lr: the k-th update (0-based s) sees s + 1
    start_rate = kw["warmup_lr_rate"]
    if start_rate is None or w == 0:
        return (
            lambda peak: bind(
                warmup_cosine, peak=peak, warmup=w, steps=t, cycles=cycles, final=rate * peak
            )
        ), 1
    if w < 2:
        raise _fail(
            name,
            "warmup_lr_rate with num_warmup_steps=1 is not expressible here (its one warmup "
            "step is followed by a decay counted one step ahead)",
        )

    def warm_cosine(peak: float) -> Schedule:
        ramp = bind(linear, start=start_rate * peak, end=peak, steps=w - 1, begin=1)
        fall = bind(
            warmup_cosine, peak=peak, warmup=0, steps=decay, cycles=cycles, final=rate * peak
        )
        return join([ramp, fall], boundaries=[w])

    return warm_cosine, 1


def _bound_scales(
    name: str, key: str, value: Any, bases: list[float], default: float
) -> list[float]:
    """A per-group absolute lr bound (a number or one per group) as scales of each group's
    initial lr (``default`` for a group at 0); reduce_on_plateau's ``min_scale`` is clipped to
    1, as a bound above the lr only stops reductions there."""
    values = list(value) if isinstance(value, list | tuple) else [value] * len(bases)
    if len(values) != len(bases):
        raise _fail(name, f"expected {len(bases)} {key}s (one per param group), got {len(values)}")
    scales = []
    for bound, base in zip(values, bases, strict=True):
        bound = require_non_negative(key, bound)
        ratio = bound / base if base > 0 else default
        scales.append(min(ratio, 1.0) if name == "reduce_lr_on_plateau" else ratio)
    return scales


def _metric_rules(name: str, optimizer: Optimizer, kw: dict[str, Any]) -> list[MetricRule]:
    bases = [float(group["lr"]) for group in optimizer.param_groups]
    lows = _bound_scales(name, "min_lr", kw["min_lr"], bases, 0.0)
    common = {
        key: kw[key]
        for key in ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown")
    }
    try:
        if name == "reduce_lr_on_plateau":
            return [reduce_on_plateau(min_scale=low, **common) for low in lows]
        highs = _bound_scales(name, "max_lr", kw["max_lr"], bases, math.inf)
        extra = {key: kw[key] for key in ("warmup", "smooth", "window_size", "reset_start")}
        return [
            greedy(min_scale=low, max_scale=high, **common, **extra)
            for low, high in zip(lows, highs, strict=True)
        ]
    except ValueError as error:
        raise _fail(name, str(error)) from None


def get_scheduler(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
) -> LRScheduler:
    """transformers' ``get_scheduler``: the scheduler of ``name`` (a :data:`SCHEDULER_TYPES`
    name, or transformers' ``SchedulerType`` member) over ``optimizer`` (module doc).

    ``num_warmup_steps`` is required by every name but ``constant``, ``reduce_lr_on_plateau``
    and ``greedy``; ``num_training_steps`` by every name that decays to an end
    (``warmup_stable_decay`` takes it or ``num_stable_steps``). ``scheduler_specific_kwargs``
    holds the name's own arguments (:data:`SCHEDULER_KWARGS`, with transformers' defaults).
    An unknown name or keyword, a missing argument or a bad value is a ``ValueError`` naming
    it (with close matches), and nothing is changed.
    """
    key = getattr(name, "value", name)
    if not isinstance(key, str) or key not in SCHEDULER_TYPES:
        raise ValueError(
            f"get_scheduler: unknown scheduler name {key!r}"
            f"{did_you_mean(str(key), SCHEDULER_TYPES)} (valid names: {', '.join(SCHEDULER_TYPES)})"
        )
    given = dict(scheduler_specific_kwargs or {})
    valid = SCHEDULER_KWARGS[key]
    if key not in ("constant", "constant_with_warmup"):
        unknown = [k for k in given if k not in valid]
        if unknown:
            raise _fail(
                key,
                f"unknown scheduler_specific_kwargs key {unknown[0]!r}"
                f"{did_you_mean(str(unknown[0]), valid)} (valid keys: {', '.join(valid)})",
            )
    kw = {**valid, **given}
    if key in ("reduce_lr_on_plateau", "greedy"):
        return MetricRuleLR(optimizer, _metric_rules(key, optimizer, kw))
    w = (
        None
        if num_warmup_steps is None
        else require_non_negative("num_warmup_steps", num_warmup_steps)
    )
    t = (
        None
        if num_training_steps is None
        else require_non_negative("num_training_steps", num_training_steps)
    )
    default_lr = float(optimizer.defaults.get("lr", optimizer.param_groups[0]["lr"]))
    shape, count_from = _step_shape(key, w, t, kw, default_lr)
    bases = [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]
    try:
        per_group = [shape(base) for base in bases]
    except ValueError as error:
        raise _fail(key, str(error)) from None
    return ScheduleLR(optimizer, per_group, count_from=count_from)
