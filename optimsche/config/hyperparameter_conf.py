"""The ``hyperparameters:`` key of an ``optim_sches`` entry's ``conf``: param-group entries
scheduled besides the lr (``OptimScheduler(hyperparameters=...)``).

Each key names a param-group entry of the optimizer (``weight_decay``, ``momentum``,
``betas[0]``); each value is a schedule, written as

* an expression string, parsed (never evaluated) by
  :func:`~optimsche.config.schedule_expression.parse_schedule_expression`:
  ``weight_decay: "cosine(peak=0.1, steps=10000, final=0.01)"``;
* a mapping ``{type: <name>, <its arguments>...}``, the call of a leaf or of a name that
  builds a schedule from plain values (``eden``, ``transformers.linear``, ...) with literal
  arguments (:func:`~optimsche.config.schedule_expression.parse_schedule_call`):
  ``weight_decay: {type: cosine, peak: 0.1, steps: 10000, final: 0.01}``;
* or a list of those, one per param group.

The key's entry name must be an argument of the optimizer class (checked here, with close
matches); whether a tuple index exists (``betas[2]``) is checked when the optimizer is built.
Each schedule's values are checked at sampled steps, as the lr's are
(:mod:`optimsche.config.schedule_values`): a negative weight decay is an error here. The
shell evaluates these schedules on the entry's ``clock:``, counted as its ``count_from:``, so
they are parsed with both, exactly as the lr schedule is: a length with a unit (``steps:
3ep``) is read on the entry's clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from optimsche.config.error import ConfigError
from optimsche.config.schedule_expression import (
    ScheduleExpression,
    parse_schedule_call,
    parse_schedule_expression,
)
from optimsche.config.schedule_values import check_schedule_values
from optimsche.config.value_types import describe_value
from optimsche.optimizer.factory import optimizer_keywords
from schedules.close_matches import did_you_mean

KEY = "hyperparameters"
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\])?")


@attrs.frozen
class ConfiguredHyperparameter:
    """One configured key: its schedule ``expressions`` (one, or one per param group when
    ``per_group``)."""

    key: str
    expressions: tuple[ScheduleExpression, ...]
    per_group: bool = False

    @property
    def schedule(self) -> Any:
        """What ``OptimScheduler(hyperparameters={key: ...})`` takes: the schedule, or the
        list of schedules (one per param group)."""
        if self.per_group:
            return [expression.schedule for expression in self.expressions]
        return self.expressions[0].schedule

    @property
    def text(self) -> str:
        """The schedule(s) as calls, for labels: ``cosine(peak=0.1, steps=1000)``."""
        calls = [describe_expression(e) for e in self.expressions]
        return calls[0] if not self.per_group else "[" + ", ".join(calls) + "]"


def describe_expression(expression: ScheduleExpression) -> str:
    """A parsed schedule expression as a call: its text as written, else
    ``name(key=value, ...)``."""
    if expression.text:
        return expression.text
    arguments = ", ".join(f"{k}={v!r}" for k, v in expression.hyperparameters.items())
    return f"{expression.name}({arguments})"


def _expression(
    value: object, where: str, key: str, clock: str, count_from: int
) -> ScheduleExpression:
    if isinstance(value, Mapping):
        if "type" not in value:
            raise ConfigError(
                f"{where}: a mapping needs 'type' (a schedule function name) and its "
                f"hyperparameters, got {describe_value(value)}"
            )
        name = value["type"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.type: must name a schedule function, got {name!r}")
        if not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where}: keys must be strings, got {describe_value(value)}")
        arguments = {k: v for k, v in value.items() if k != "type"}
        expression = parse_schedule_call(name, arguments, where, clock, count_from)
    elif isinstance(value, str):
        try:
            expression = parse_schedule_expression(value, clock, count_from)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    else:
        raise ConfigError(
            f"{where}: must be a schedule expression such as 'cosine(peak=0.1, steps=1000)', "
            f"a mapping {{type: cosine, peak: 0.1, steps: 1000}}, or a list of them (one per "
            f"param group), got {describe_value(value)}"
        )
    check_schedule_values(expression.schedule, where, key=key)
    return expression


def _check_key(key: object, optim_class: type[torch.optim.Optimizer], where: str) -> str:
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise ConfigError(
            f"{where}: {key!r} is not a param-group key such as 'weight_decay' or 'betas[0]'"
        )
    if key == "lr":
        raise ConfigError(
            f"{where}.lr: the lr is scheduled by the entry's type (or its schedule), not here"
        )
    name = key.split("[", 1)[0]
    valid, takes_any = optimizer_keywords(optim_class)
    if name not in valid and not takes_any:
        raise ConfigError(
            f"{where}: {optim_class.__name__} has no hyperparameter {name!r}"
            f"{did_you_mean(name, valid)} (valid: {', '.join(v for v in valid if v != 'lr')})"
        )
    return key


def parse_hyperparameters(
    value: object,
    optim_class: type[torch.optim.Optimizer],
    where: str,
    *,
    clock: str = "update",
    count_from: int = 1,
) -> tuple[ConfiguredHyperparameter, ...]:
    """The ``hyperparameters`` mapping of an entry (``where`` is its place,
    ``optim_sches.<name>.conf.hyperparameters``), checked into records; ``None`` is none.

    ``clock`` and ``count_from`` are the entry's: the shell evaluates these schedules on the
    same clock, counted the same way, as the lr, so a length with a unit (``steps: 3ep``) is
    read on that clock and a ``transformers.<name>`` counts as the shell does, exactly as in
    the lr schedule."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: must map param-group keys (weight_decay, betas[0], ...) to schedules, "
            f"got {describe_value(value)}"
        )
    parsed = []
    for key, schedule in value.items():
        checked = _check_key(key, optim_class, where)
        place = f"{where}.{checked}"
        if isinstance(schedule, list):
            if not schedule:
                raise ConfigError(f"{place}: an empty list; give one schedule per param group")
            expressions = tuple(
                _expression(v, f"{place}[{g}]", checked, clock, count_from)
                for g, v in enumerate(schedule)
            )
            parsed.append(ConfiguredHyperparameter(checked, expressions, per_group=True))
        else:
            expression = _expression(schedule, place, checked, clock, count_from)
            parsed.append(ConfiguredHyperparameter(checked, (expression,)))
    return tuple(parsed)
