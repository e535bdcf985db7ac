"""GreedyLR: raise the lr while a metric keeps improving, lower it on a plateau, within bounds.

``rule = greedy(min_scale, max_scale, factor=0.95, patience=10, threshold=1e-6,
threshold_mode="abs", mode="min", cooldown=0, warmup=0, smooth=False, window_size=50,
reset_start=500)`` is a frozen record with the pure methods ``init() -> GreedyState`` (``scale
== 1.0``) and ``update(state, metric) -> GreedyState``; the lr is ``schedule(step) ·
state.scale``. One update, with ``m`` the metric::

    if smooth: m = the mean of the last window_size metrics (this one included)
    last_epoch += 1
    if cooldown_counter > 0:  cooldown_counter -= 1; bad = good = 0
    elif warmup_counter > 0:  warmup_counter -= 1;   bad = good = 0
    else:
        if improves(m, best): best = m; bad = 0; good += 1      # improves: as reduce_on_plateau
        else:                 bad += 1; good = 0
        if good > patience:                                       # raise
            scale = max(min(scale / factor, max_scale), scale); reset_left = reset_start
            warmup_counter = warmup; good = 0
        elif bad > patience:                                      # lower
            scale = min(max(scale · factor, min_scale), scale)
            if scale <= min_scale:
                reset_left -= 1
                if reset_left <= 0: back to init() (scale 1, best, counters, window)
            cooldown_counter = cooldown; bad = 0

So the scale rises by ``1 / factor`` after more than ``patience`` improvements in a row and
falls by ``factor`` after more than ``patience`` updates without one, never past a bound (a
bound on the other side of the scale, e.g. ``min_scale > 1``, only stops it moving that way);
``warmup`` (after a raise) and ``cooldown`` (after a fall) updates are ignored; after
``reset_start`` falls at (or below) ``min_scale`` the rule starts afresh.

Reference: transformers ``GreedyLR(optimizer, mode, factor, patience, threshold,
threshold_mode, cooldown, warmup, min_lr, max_lr, eps, verbose, smooth, window_size,
reset_start)`` (``get_scheduler("greedy", ...)``; Subramanian et al., "GreedyLR", 2025): with
one param group of lr ``base_lr``, its lr after every ``step(metric)`` is ``state.scale ·
base_lr`` for ``min_scale = min_lr / base_lr`` and ``max_scale = max_lr / base_lr`` (the tests
replay vectors that transformers 5.25.0 produced, rel. 1e-12). Its ``eps`` (a change of the lr
by ``eps = 1e-8`` or less is skipped) has no counterpart: here every change is applied; they
differ only when the lr gets within about ``1e-8 / (1 - factor)`` of 0 or of a bound.

Bad arguments are a ``ValueError`` naming them: ``factor`` outside (0, 1), a negative
``min_scale``, a ``max_scale`` not > 0 or below ``min_scale``, a negative count, an unknown
``mode`` or ``threshold_mode``, a ``window_size`` below 1. A metric that is not a finite number is a
``ValueError`` naming ``metric``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from schedules.combinator_fields import using
from schedules.reduce_on_plateau import MODES, THRESHOLD_MODES, read_metric
from schedules.rule_state import Check, RuleState
from schedules.validation import (
    require_bool,
    require_choice,
    require_int,
    require_non_negative,
    require_not_nan,
    require_number,
    require_open_unit,
    require_positive,
)

__all__ = ["GreedyState", "greedy"]

_COUNT = functools.partial(require_int, minimum=0)
"""A count: an int >= 0 (bools refused)."""


def _window(name: str, value: object) -> tuple[float, ...]:
    """The smoothing window: a sequence of finite numbers, as a tuple of floats."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list of numbers, got {type(value).__name__}")
    return tuple(require_number(f"{name}[{i}]", item) for i, item in enumerate(value))


_FIELDS: dict[str, Check] = {
    "scale": require_non_negative,
    "best": require_not_nan,
    "num_bad_epochs": _COUNT,
    "num_good_epochs": _COUNT,
    "cooldown_counter": _COUNT,
    "warmup_counter": _COUNT,
    "reset_left": _COUNT,
    "last_epoch": _COUNT,
    "window": _window,
    "window_sum": require_number,
}


@attrs.frozen
class GreedyState(RuleState):
    """What :class:`greedy` knows after ``last_epoch`` metrics (named as transformers'
    ``GreedyLR`` attributes; ``reset_left`` is its ``reset_start`` countdown, ``window`` and
    ``window_sum`` its streaming average)."""

    KIND: ClassVar[str] = "greedy"
    CHECKS: ClassVar[Mapping[str, Check]] = _FIELDS

    scale: float = attrs.field(validator=using(require_non_negative))
    best: float = attrs.field(validator=using(require_not_nan))
    num_bad_epochs: int = attrs.field(validator=using(_COUNT))
    num_good_epochs: int = attrs.field(validator=using(_COUNT))
    cooldown_counter: int = attrs.field(validator=using(_COUNT))
    warmup_counter: int = attrs.field(validator=using(_COUNT))
    reset_left: int = attrs.field(validator=using(_COUNT))
    last_epoch: int = attrs.field(validator=using(_COUNT))
    window: tuple[float, ...] = attrs.field(validator=using(_window))
    window_sum: float = attrs.field(validator=using(require_number))


def _check_choice(choices: tuple[str, ...]) -> Any:
    def check(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
        require_choice(attribute.name, value, choices)

    return check


def _check_max_scale(instance: greedy, attribute: attrs.Attribute[float], value: object) -> None:
    number = require_positive(attribute.name, value) if value != math.inf else math.inf
    if number < instance.min_scale:
        raise ValueError(f"max_scale must be >= min_scale ({instance.min_scale!r}), got {value!r}")


@attrs.frozen
class greedy:
    """Raise the scale by ``1 / factor`` on sustained improvement, lower it by ``factor`` on a
    plateau, within [``min_scale``, ``max_scale``] (transformers ``GreedyLR``; the formula is in
    the module doc). ``init()`` and ``update(state, metric)`` are pure."""

    min_scale: float = attrs.field(validator=using(require_non_negative))
    max_scale: float = attrs.field(validator=_check_max_scale)
    factor: float = attrs.field(default=0.95, validator=using(require_open_unit))
    patience: int = attrs.field(default=10, validator=using(_COUNT))
    threshold: float = attrs.field(default=1e-6, validator=using(require_non_negative))
    threshold_mode: str = attrs.field(default="abs", validator=_check_choice(THRESHOLD_MODES))
    mode: str = attrs.field(default="min", validator=_check_choice(MODES))
    cooldown: int = attrs.field(default=0, validator=using(_COUNT))
    warmup: int = attrs.field(default=0, validator=using(_COUNT))
    smooth: bool = attrs.field(default=False, validator=using(require_bool))
    window_size: int = attrs.field(
        default=50, validator=using(functools.partial(require_int, minimum=1))
    )
    reset_start: int = attrs.field(default=500, validator=using(_COUNT))

    def init(self) -> GreedyState:
        """Scale 1.0, the worst possible ``best``, no counts, an empty window."""
        return GreedyState(
            scale=1.0,
            best=math.inf if self.mode == "min" else -math.inf,
            num_bad_epochs=0,
            num_good_epochs=0,
            cooldown_counter=0,
            warmup_counter=0,
            reset_left=self.reset_start,
            last_epoch=0,
            window=(),
            window_sum=0.0,
        )

    def improves(self, metric: float, best: float) -> bool:
        """Whether ``metric`` beats ``best`` (as :meth:`reduce_on_plateau.improves`, strict)."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + self.threshold)
        return metric > best + self.threshold

    def update(self, state: GreedyState, metric: object) -> GreedyState:
        """The state after ``metric`` (module doc)."""
        if not isinstance(state, GreedyState):
            raise ValueError(
                f"state must be a GreedyState (from init() or update()), got "
                f"{type(state).__name__}: {state!r}"
            )
        current = read_metric(metric)
        window, window_sum = state.window, state.window_sum
        if self.smooth:
            window, window_sum = (*window, current), window_sum + current
            if len(window) > self.window_size:
                window_sum -= window[0]
                window = window[1:]
            current = window_sum / len(window)
        new = attrs.evolve(
            state, last_epoch=state.last_epoch + 1, window=window, window_sum=window_sum
        )
        if state.cooldown_counter > 0:
            return attrs.evolve(
                new,
                cooldown_counter=state.cooldown_counter - 1,
                num_bad_epochs=0,
                num_good_epochs=0,
            )
        if state.warmup_counter > 0:
            return attrs.evolve(
                new, warmup_counter=state.warmup_counter - 1, num_bad_epochs=0, num_good_epochs=0
            )
        if self.improves(current, state.best):
            new = attrs.evolve(
                new, best=current, num_bad_epochs=0, num_good_epochs=state.num_good_epochs + 1
            )
        else:
            new = attrs.evolve(new, num_bad_epochs=state.num_bad_epochs + 1, num_good_epochs=0)
        if new.num_good_epochs > self.patience:
            raised = min(new.scale / self.factor, self.max_scale)
            return attrs.evolve(
                new,
                scale=max(raised, new.scale),
                reset_left=self.reset_start,
                warmup_counter=self.warmup,
                num_good_epochs=0,
            )
        if new.num_bad_epochs > self.patience:
            scale = min(max(new.scale * self.factor, self.min_scale), new.scale)
            reset_left = new.reset_left
            if scale <= self.min_scale:
                reset_left -= 1
                if reset_left <= 0:
                    new = attrs.evolve(self.init(), last_epoch=new.last_epoch)
                    scale, reset_left = new.scale, new.reset_left
            return attrs.evolve(
                new,
                scale=scale,
                reset_left=reset_left,
                cooldown_counter=self.cooldown,
                num_bad_epochs=0,
            )
        return new
