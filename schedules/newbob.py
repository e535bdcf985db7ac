"""NewBob: anneal the lr when a metric improved too little on the *previous* one, as a pure rule.

``rule = newbob(factor=0.5, threshold=0.0025, patience=0)`` is a frozen record with the pure
methods ``init() -> NewBobState`` (``scale == 1.0``) and ``update(state, metric) ->
NewBobState``; the lr is ``schedule(step) · state.scale``. One update, with ``m`` the metric
(a loss: lower is better) and ``previous`` the metric before it::

    if previous is not None:                          # the first metric is only remembered
        improvement = (previous - m) / previous       # 0 when previous == 0
        if improvement < threshold:
            if patience_left == 0: scale = scale · factor; patience_left = patience
            else:                  patience_left -= 1
    previous = m; last_epoch += 1

(``patience_left`` starts at ``patience``.) Unlike :class:`~schedules.reduce_on_plateau`, the
comparison is with the previous metric, not the best one, and relative to it; as in the
anchor, a negative ``previous`` flips the sign of the improvement.

Reference: SpeechBrain ``speechbrain.nnet.schedulers.NewBobScheduler(initial_value,
annealing_factor, improvement_threshold, patient)``: after every ``scheduler(metric)`` its
value is ``initial_value · state.scale`` with ``factor = annealing_factor``, ``threshold =
improvement_threshold``, ``patience = patient`` (the tests replay vectors that SpeechBrain
1.1.2 produced; the value is the same number up to rounding of the repeated products, rel.
1e-12).

Bad arguments are a ``ValueError`` naming them: ``factor`` outside (0, 1], a ``threshold`` that
is not a finite number, a negative or non-integer ``patience``. A metric that is not a finite
number is a ``ValueError`` naming ``metric``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

import attrs

from schedules.combinator_fields import using
from schedules.reduce_on_plateau import read_metric
from schedules.rule_state import Check, RuleState
from schedules.validation import require_int, require_non_negative, require_number

__all__ = ["NewBobState", "newbob"]

_COUNT = functools.partial(require_int, minimum=0)
"""A count: an int >= 0 (bools refused)."""


def _require_factor(name: str, value: object) -> float:
    """A factor in (0, 1]."""
    number = require_number(name, value)
    if not 0.0 < number <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return number


def _optional_number(name: str, value: object) -> float | None:
    """``None`` or a finite number."""
    return None if value is None else require_number(name, value)


_FIELDS: dict[str, Check] = {
    "scale": require_non_negative,
    "previous": _optional_number,
    "patience_left": _COUNT,
    "last_epoch": _COUNT,
}


@attrs.frozen
class NewBobState(RuleState):
    """What :class:`newbob` knows after ``last_epoch`` metrics: the ``scale`` (``>= 0``), the
    ``previous`` metric (``None`` before the first) and ``patience_left``, the insufficient
    improvements still tolerated before the next annealing."""

    KIND: ClassVar[str] = "newbob"
    CHECKS: ClassVar[Mapping[str, Check]] = _FIELDS

    scale: float = attrs.field(validator=using(require_non_negative))
    previous: float | None = attrs.field(validator=using(_optional_number))
    patience_left: int = attrs.field(validator=using(_COUNT))
    last_epoch: int = attrs.field(validator=using(_COUNT))


@attrs.frozen
class newbob:
    """Multiply the scale by ``factor`` when the metric improved on the previous one by less
    than a fraction ``threshold`` of it, after ``patience`` such tolerated updates (SpeechBrain
    ``NewBobScheduler``; the formula is in the module doc). ``init()`` and ``update(state,
    metric)`` are pure."""

    factor: float = attrs.field(default=0.5, validator=using(_require_factor))
    threshold: float = attrs.field(default=0.0025, validator=using(require_number))
    patience: int = attrs.field(default=0, validator=using(_COUNT))

    def init(self) -> NewBobState:
        """Scale 1.0, no previous metric, ``patience`` tolerated updates."""
        return NewBobState(scale=1.0, previous=None, patience_left=self.patience, last_epoch=0)

    def update(self, state: NewBobState, metric: object) -> NewBobState:
        """The state after ``metric`` (module doc)."""
        if not isinstance(state, NewBobState):
            raise ValueError(
                f"state must be a NewBobState (from init() or update()), got "
                f"{type(state).__name__}: {state!r}"
            )
        value = read_metric(metric)
        scale, left, previous = state.scale, state.patience_left, state.previous
        if previous is not None:
            improvement = 0.0 if previous == 0 else (previous - value) / previous
            if improvement < self.threshold:
                if left == 0:
                    scale, left = scale * self.factor, self.patience
                else:
                    left -= 1
        return NewBobState(
            scale=scale, previous=value, patience_left=left, last_epoch=state.last_epoch + 1
        )
