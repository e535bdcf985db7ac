"""How many real steps of a schedule are worth showing, guessed from its hyperparameters.

Used by ``optimsche show``/``plot`` when ``--steps`` is not given; it only decides the extent
of a picture. The rules, first match wins (``begin`` is added when present):

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from schedules.validation import require_number

DEFAULT_HORIZON = 1000


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
    """The number of real steps to show for the schedule ``name`` with ``hyper`` (see the
    module docs), at least 10."""
    guess = _guess(name, hyper)
    begin = _number(hyper.get("begin")) or 0.0
    if guess is None or not math.isfinite(guess) or guess <= 0:
        return DEFAULT_HORIZON
    return max(10, math.ceil(round(guess + begin, 6)))
