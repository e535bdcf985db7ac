"""How many real steps of a schedule are worth showing, guessed from its hyperparameters.

Used by ``optimsche show``/``plot`` when ``--steps`` is not given; it only decides the extent
of a picture. A leaf of :data:`schedules.FAMILIES` says it itself (``Family.extent_of``). For
the shell classes (``NoamLr``, ``ExponentDecayLr``, a user's own) the rules, first match wins
(``begin`` is added when present):

* a total length ``steps`` (cosine, warmup_cosine, linear, polynomial, one_cycle): ``steps``;
  for ``exponential`` (where ``steps`` is the decay period) the steps until the lr has
  moved by a factor of 100, at most ``100·steps``;
* phases ``warmup`` + ``hold``/``stable`` + ``decay`` (tri_stage, warmup_stable_decay): their
  sum, plus a tenth;
* a ``warmup`` or ``warmup_steps`` alone (noam, inverse_sqrt, NoamLr): ``10·warmup``;
* a ``period`` (cosine_restarts): three cycles; ``up``/``down`` (cyclic): three cycles;
* ``every`` (step_decay): four periods; ``milestones``/``boundaries``/``points``: the last one
  plus a quarter;
* ``decay_factor`` (ExponentDecayLr): the steps until the lr is 1% of its start;
* otherwise 1000.

A schedule expression with combinators (:func:`expression_horizon`) composes the horizons of
its parts: ``warmup(x, steps)``: ``steps`` + x's; ``join(xs, boundaries)``: the last boundary
+ the last part's; ``stretch(x, ratio)``: ``ratio`` · x's; ``accumulate(x, accum_grad)``:
``accum_grad`` · x's; ``shift(x, k)``: x's + ``k`` (at least 10); ``on(clock, x)``: x's
(``on("epoch", x)``: times the updates per epoch when known);
``eden``: ``10 · lr_batches``; transformers' names (``transformers.cosine``,
``transformers_schedule``): ``num_training_steps`` (``warmup_stable_decay`` with
``num_stable_steps``: warmup + stable + decay; without a training length: ``10 ·
num_warmup_steps``); ``scale``/``clamp``/``offset``: x's; ``multiply``, ``add`` and
any other combinator: the longest of its parts'. Every horizon is at most :data:`MAX_HORIZON`
steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from optimsche.config.language_names import transformers_names
from optimsche.config.schedule_expression import ScheduleExpression
from schedules import FAMILIES
from schedules.validation import require_number

DEFAULT_HORIZON = 1000

MAX_HORIZON = 10**15
"""The longest guessed horizon: past 2^53 steps a float64 no longer counts every step."""


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else ``None`` (no guess from it)."""
    try:
        return require_number("hyperparameter", value)
    except ValueError:
        return None


def _last(values: Any) -> float | None:
    if not isinstance(values, list | tuple) or not values:
        return None
    last = values[-1]
    if isinstance(last, list | tuple) and last:  # points: (step, value)
        last = last[0]
    return _number(last)


def _guess(name: str, hyper: Mapping[str, Any]) -> float | None:
    get = {key: _number(value) for key, value in hyper.items()}
    warmup = get.get("warmup") or get.get("warmup_steps")
    if get.get("steps"):
        steps = get["steps"]
        assert steps is not None
        if name == "exponential":
            rate = get.get("rate")
            if rate and rate > 0 and rate != 1:
                return min(100 * steps, steps * abs(math.log(100) / math.log(rate)))
            return 10 * steps
        return steps
    middle = get.get("hold") or get.get("stable")
    if warmup is not None and middle is not None and get.get("decay"):
        return 1.1 * (warmup + middle + (get.get("decay") or 0.0))
    if warmup:
        return 10 * warmup
    if get.get("period"):
        period, mult = get["period"] or 0.0, get.get("mult") or 1.0
        return period * (1 + mult + mult * mult)
    if get.get("up"):
        return 3 * ((get["up"] or 0.0) + (get.get("down") or get["up"] or 0.0))
    if get.get("every"):
        return 4 * (get["every"] or 0.0)
    for key in ("milestones", "boundaries", "points"):
        last = _last(hyper.get(key))
        if last:
            return 1.25 * last
    factor = get.get("decay_factor")
    if factor and 0 < factor < 1:
        return math.log(0.01) / math.log(factor)
    return None


def schedule_horizon(name: str, hyper: Mapping[str, Any]) -> int:
    """The number of real steps to show for the schedule ``name`` with ``hyper``, at least
    10: for a leaf of :data:`schedules.FAMILIES` its family's ``extent_of`` (the horizon, or a
    few warm-ups or periods), else (a shell class such as ``NoamLr``) the guess of the module
    docs."""
    family = FAMILIES.get(name)
    if family is not None:
        try:
            return _finish(float(family.extent_of(dict(hyper))))
        except (ValueError, TypeError, ArithmeticError):
            pass  # the guess below; the hyperparameters are refused elsewhere
    guess = _guess(name, hyper)
    begin = _number(hyper.get("begin")) or 0.0
    return _finish(None if guess is None else guess + begin)


def _finish(guess: float | None) -> int:
    """A guess as a horizon: at least 10 steps, at most :data:`MAX_HORIZON`, the default when
    there is no usable guess."""
    if guess is None or math.isnan(guess) or guess <= 0:
        return DEFAULT_HORIZON
    if guess >= MAX_HORIZON:
        return MAX_HORIZON
    return max(10, math.ceil(round(guess, 6)))


def _transformers_horizon(hyper: Mapping[str, Any]) -> float | None:
    """The horizon of a transformers scheduler's arguments (module doc)."""
    warmup = _number(hyper.get("num_warmup_steps")) or 0.0
    stable = _number(hyper.get("num_stable_steps"))
    if stable is not None:
        return warmup + stable + (_number(hyper.get("num_decay_steps")) or 0.0)
    return _number(hyper.get("num_training_steps")) or 10 * warmup


def expression_horizon(expression: ScheduleExpression, updates_per_epoch: int | None = None) -> int:
    """The number of steps (updates) to show for a parsed schedule expression (module doc);
    ``on("epoch", x)`` spans x's horizon in epochs times ``updates_per_epoch`` when given."""
    if expression.kind == "leaf":
        return schedule_horizon(expression.name, expression.hyperparameters)
    hyper = expression.hyperparameters
    parts = [expression_horizon(child, updates_per_epoch) for child in expression.children]
    inner = float(parts[-1]) if parts else float(DEFAULT_HORIZON)
    name = expression.name
    if name == "warmup":
        guess = (_number(hyper.get("steps")) or 0.0) + inner
    elif name == "join":
        guess = (_last(hyper.get("boundaries")) or 0.0) + inner
    elif name == "stretch":
        guess = (_number(hyper.get("ratio")) or 1.0) * inner
    elif name == "accumulate":
        guess = (_number(hyper.get("accum_grad")) or 1.0) * inner
    elif name == "shift":
        guess = max(inner + (_number(hyper.get("steps")) or 0.0), 10.0)
    elif name == "on" and hyper.get("clock") == "epoch":
        guess = inner * (updates_per_epoch or 1)
    elif name == "eden":
        guess = 10 * (_number(hyper.get("lr_batches")) or float(DEFAULT_HORIZON) / 10)
    elif name == "transformers_schedule" or name in transformers_names():
        guess = _transformers_horizon(hyper) or float(DEFAULT_HORIZON)
    else:  # scale, clamp, multiply, and combinators added later: the longest part
        guess = float(max(parts, default=DEFAULT_HORIZON))
    return _finish(guess)
