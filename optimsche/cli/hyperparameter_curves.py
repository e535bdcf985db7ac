"""The values of a configuration's scheduled hyperparameters (``hyperparameters:``), at the
updates of its lr curve, computed without a model.

A hyperparameter schedule gives the reference param group's value (the first group whose
initial value is not 0; the others keep their ratios to it, see
:mod:`optimsche.optimizer.group_rule`), from the same clock as the lr and without
``ft_factor``: at real step ``r`` the value is ``schedule(r)``. A schedule per param group
gives one curve per group.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from optimsche.config.error import ConfigError
from optimsche.config.hyperparameter_conf import describe_expression
from optimsche.config.records import OptimSchedulerSpec


@attrs.frozen
class ValueCurve:
    """The value of one scheduled hyperparameter at each update of an :class:`LrCurve`:
    ``values[i]`` at its ``steps[i]``. ``key`` is the param-group key (``weight_decay``,
    ``betas[0]``; ``"momentum (group 1)"`` for one of a schedule per group), ``label`` the
    schedule as a call."""

    key: str
    label: str
    values: tuple[float, ...]


def hyperparameter_curves(
    spec: OptimSchedulerSpec,
    real_steps: tuple[int, ...],
    evaluate: Callable[[Any, tuple[int, ...]], list[float]],
) -> tuple[ValueCurve, ...]:
    """The :class:`ValueCurve` of every scheduled hyperparameter of ``spec``, at
    ``real_steps``, each schedule evaluated by ``evaluate(schedule, real_steps)`` (the lr
    curves' :func:`~optimsche.cli.lr_curves.schedule_values`); a value that is not a finite
    number >= 0 is a ``ConfigError`` naming the key and the step."""
    curves = []
    for configured in spec.hyperparameters:
        for g, expression in enumerate(configured.expressions):
            key = configured.key if not configured.per_group else f"{configured.key} (group {g})"
            values = evaluate(expression.schedule, real_steps)
            for real, value in zip(real_steps, values, strict=True):
                if not (math.isfinite(value) and value >= 0):
                    raise ConfigError(
                        f"{spec.where}.conf.hyperparameters.{key}: the schedule gives "
                        f"{value!r} at real step {real}"
                    )
            curves.append(ValueCurve(key, describe_expression(expression), tuple(values)))
    return tuple(curves)
