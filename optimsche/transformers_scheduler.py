"""transformers' ``get_scheduler`` as a drop-in: ``optimsche.get_scheduler(name, optimizer,
num_warmup_steps=None, num_training_steps=None, scheduler_specific_kwargs=None)``.

Every name of transformers' ``SchedulerType`` (:data:`SCHEDULER_TYPES`) with its arguments,
its defaults and its refusals; what it returns is a torch ``LRScheduler`` that sets the same
lr in every param group after every ``step()`` as transformers' own (checked against numbers
transformers 5.25.0 produced, at rel. 1e-12, with several param groups and settings per name,
past ``num_training_steps`` too),
without depending on transformers:

* the step-driven names are :func:`~optimsche.as_lr_scheduler` over one pure schedule per
  param group (its initial lr ``base_g`` as the peak), 0-based (``count_from=0``) as
  transformers' ``LambdaLR`` is. The shapes
  (:func:`schedules.transformers_shapes.transformers_shape`, also an expression:
  ``transformers_schedule(name=..., peak=..., ...)``) are built from :mod:`schedules`:

  ===========================  ============================================================
  name                         schedule of group ``g`` (``W``/``T``: warmup/training steps)
  ===========================  ============================================================
  constant                     ``constant(base_g)``
  constant_with_warmup         ``warmup(constant(base_g), W)``
  linear                       ``join([linear(0, base_g, W), linear(base_g, 0, T - W)], [W])``
  cosine                       ``join([ramp, cosine(base_g, steps=S / (2 · num_cycles),
                               cycle=True)], [W])``, ``S = max(1, T - W)``: it keeps
                               cycling past ``T``, as transformers' formula does
  cosine_with_restarts         ``join([ramp, cosine_restarts(base_g, S / num_cycles),
                               constant(0)], [W, W + S])``
  polynomial                   ``scale(join([ramp, polynomial(lr, lr_end, T - W, power)],
                               [W]), base_g / lr)``, ``lr`` the optimizer's default lr
  inverse_sqrt                 ``inverse_sqrt(base_g, W, timescale)`` (``W = 0``: warmup 1,
                               counted from 1)
  cosine_with_min_lr           the cosine with ``final=rate · base_g``
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
here): ``polynomial`` with ``num_training_steps <= num_warmup_steps`` (transformers divides by
zero) and ``cosine_warmup_with_min_lr`` with ``warmup_lr_rate`` and ``num_warmup_steps = 1``
are refused; torch's and GreedyLR's ``eps``
(skip an lr change of ``eps`` or less) has no counterpart; with several param groups whose
``min_lr`` ratios differ GreedyLR resets when *all* groups sat at their minimum
``reset_start`` times, here each group on its own; an unknown keyword is a ``ValueError`` (with
close matches) where transformers raises ``TypeError``; a ``LayerWiseDummyOptimizer`` is not
supported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from optimsche.lr_scheduler_adapter import ScheduleLR
from optimsche.metric_rule_lr import MetricRuleLR
from schedules.close_matches import did_you_mean
from schedules.greedy import greedy
from schedules.metric_rule import MetricRule
from schedules.reduce_on_plateau import reduce_on_plateau
from schedules.transformers_shapes import (
    METRIC_TYPES,
    SCHEDULER_KWARGS,
    SCHEDULER_TYPES,
    transformers_shape,
)
from schedules.validation import require_non_negative

__all__ = ["SCHEDULER_KWARGS", "SCHEDULER_TYPES", "get_scheduler"]


def _fail(name: str, message: str) -> ValueError:
    return ValueError(f"get_scheduler({name!r}): {message}")


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


_ARGUMENTS = (
    "name",
    "optimizer",
    "num_warmup_steps",
    "num_training_steps",
    "scheduler_specific_kwargs",
)
"""get_scheduler's arguments, transformers' five."""


def _unexpected(name: object, bad: str) -> TypeError:
    """Python's ``TypeError`` for an unexpected keyword argument, naming the valid ones (and
    ``scheduler_specific_kwargs`` when ``bad`` is one of the name's own keywords)."""
    key = getattr(name, "value", name)
    own = ""
    if isinstance(key, str) and bad in SCHEDULER_KWARGS.get(key, {}):
        own = (
            f" ({bad} is one of {key}'s scheduler_specific_kwargs: pass "
            f"scheduler_specific_kwargs={{{bad!r}: ...}})"
        )
    return TypeError(
        f"get_scheduler() got an unexpected keyword argument {bad!r}"
        f"{did_you_mean(bad, _ARGUMENTS)}{own} (its arguments: {', '.join(_ARGUMENTS)})"
    )


def get_scheduler(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
    **unexpected: Any,
) -> LRScheduler:
    """transformers' ``get_scheduler``: the scheduler of ``name`` (a :data:`SCHEDULER_TYPES`
    name, or transformers' ``SchedulerType`` member) over ``optimizer`` (module doc).

    ``num_warmup_steps`` is required by every name but ``constant``, ``reduce_lr_on_plateau``
    and ``greedy``; ``num_training_steps`` by every name that decays to an end
    (``warmup_stable_decay`` takes it or ``num_stable_steps``). ``scheduler_specific_kwargs``
    holds the name's own arguments (:data:`SCHEDULER_KWARGS`, with transformers' defaults).
    An unknown name or keyword, a missing argument or a bad value is a ``ValueError`` naming
    it (with close matches), and nothing is changed; a keyword argument that is none of
    these five is a ``TypeError`` (as Python's) naming the valid ones, with close matches
    (``num_warmup`` -> ``num_warmup_steps``; a name's own keyword such as ``num_cycles``
    belongs in ``scheduler_specific_kwargs``).
    """
    if unexpected:
        raise _unexpected(name, next(iter(unexpected)))
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
    if key in METRIC_TYPES:
        return MetricRuleLR(optimizer, _metric_rules(key, optimizer, kw))
    default_lr = float(optimizer.defaults.get("lr", optimizer.param_groups[0]["lr"]))
    bases = [float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups]
    try:
        shape, count_from = transformers_shape(
            key, num_warmup_steps, num_training_steps, kw, default_lr
        )
        per_group = [shape(base) for base in bases]
    except ValueError as error:
        raise _fail(key, str(error)) from None
    return ScheduleLR(optimizer, per_group, count_from=count_from)
