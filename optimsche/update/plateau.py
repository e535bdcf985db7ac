"""Metric rules in the shell: the ``plateau=`` argument and its checkpointed state.

The rule is any pure metric rule of :mod:`schedules` (:class:`~schedules.metric_rule.MetricRule`:
``init() -> state``, ``update(state, metric) -> state``): ``reduce_on_plateau`` (torch, and
SpeechBrain with ``strict=False``), ``newbob`` (SpeechBrain), ``greedy`` (transformers'
GreedyLR) or ``plateau_warmup`` around one of them (ESPnet, SpeechBrain's
``dont_halve_until_epoch``). An OptimScheduler built with ``plateau=`` keeps its state, feeds it
each metric given to ``observe(metric)``, and multiplies the lr of every update by
``state.scale``:

    lr = ft_factor · update_lr(t) · state.scale

so ``schedule=warmup(...)`` plus ``plateau=`` is "warmup, then reduce on plateau". The scale
changes only in ``observe``; the next update applies it.

As a dict (``plateau=`` or a config's ``plateau:``), ``type`` names the rule (default
``reduce_on_plateau``) and the other keys are its arguments; ``plateau_warmup`` takes the
wrapped rule as such a dict under ``rule``::

    plateau: {patience: 2}                                   # reduce_on_plateau
    plateau: {type: newbob, factor: 0.5, threshold: 0.0025}
    plateau: {type: greedy, min_scale: 0.1, max_scale: 10}
    plateau: {type: plateau_warmup, warmup: 3, ignore: metrics,
              rule: {type: reduce_on_plateau, threshold: 0, strict: false}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from schedules.close_matches import did_you_mean
from schedules.greedy import greedy
from schedules.metric_rule import MetricRule
from schedules.newbob import newbob
from schedules.plateau_warmup import plateau_warmup
from schedules.reduce_on_plateau import reduce_on_plateau

RULE_TYPES: dict[str, type[Any]] = {
    "reduce_on_plateau": reduce_on_plateau,
    "newbob": newbob,
    "greedy": greedy,
    "plateau_warmup": plateau_warmup,
}
"""The rules a ``plateau`` dict may name with ``type``."""

DEFAULT_RULE = "reduce_on_plateau"
"""The rule of a ``plateau`` dict without ``type``."""

PLATEAU_ARGUMENTS = tuple(field.name for field in attrs.fields(reduce_on_plateau))
"""The arguments of :class:`schedules.reduce_on_plateau`, the keys a ``plateau`` dict without
``type`` takes."""


def rule_arguments(name: str) -> tuple[str, ...]:
    """The keys a ``plateau`` dict of rule ``name`` takes besides ``type``."""
    return tuple(field.name for field in attrs.fields(RULE_TYPES[name]))


def resolve_plateau(plateau: object, where: str = "plateau") -> MetricRule | None:
    """``plateau=`` as a rule: ``None``, a metric rule (module doc), or a dict naming one
    (``{"factor": 0.5, "patience": 2}``, ``{"type": "newbob"}``, ...). Anything else, an
    unknown ``type`` or key, or a bad value is a ``ValueError`` naming it (``where`` first)."""
    if plateau is None or isinstance(plateau, MetricRule):
        return plateau
    if not isinstance(plateau, Mapping):
        raise ValueError(
            f"{where} must be a metric rule (schedules.reduce_on_plateau, newbob, greedy, "
            f"plateau_warmup) or a dict naming one, got {type(plateau).__name__}: {plateau!r}"
        )
    name = plateau.get("type", DEFAULT_RULE)
    if name not in RULE_TYPES:
        raise ValueError(
            f"{where}: unknown type {name!r}{did_you_mean(str(name), RULE_TYPES)} "
            f"(valid types: {', '.join(RULE_TYPES)})"
        )
    valid = rule_arguments(name)
    arguments = {key: value for key, value in plateau.items() if key != "type"}
    unknown = [key for key in arguments if key not in valid]
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}{did_you_mean(str(unknown[0]), valid)} "
            f"(valid keys of {name}: type, {', '.join(valid)})"
        )
    if name == "plateau_warmup" and "rule" in arguments:
        arguments["rule"] = resolve_plateau(arguments["rule"], f"{where}.rule")
    try:
        rule: MetricRule = RULE_TYPES[name](**arguments)
    except TypeError as error:  # a required argument missing
        raise ValueError(f"{where}: {name}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return rule
