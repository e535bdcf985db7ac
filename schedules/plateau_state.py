"""The state of a :class:`~schedules.reduce_on_plateau.reduce_on_plateau` rule, and its plain
dict form for checkpoints.

``PlateauState`` is a frozen record of five numbers, named as torch's ``ReduceLROnPlateau``
names its attributes (so the two read side by side):

* ``scale``: the multiplier of the base schedule, 1.0 at first (torch keeps ``lr`` itself; its
  ``lr`` is ``scale · base_lr`` when the base schedule is constant);
* ``best``: the best metric seen so far; ``inf`` (mode ``"min"``) or ``-inf`` (mode ``"max"``)
  before any metric;
* ``num_bad_epochs``: updates since the last improvement (or reduction, or the end of a
  cooldown);
* ``cooldown_counter``: updates left in the cooldown after the last reduction;
* ``last_epoch``: updates seen so far.

``state.as_dict()`` is a plain ``dict`` (``{"kind": "reduce_on_plateau", ...}`` and the five
numbers as Python ``float``/``int``), which ``torch.save`` writes and
``torch.load(weights_only=True)`` reads back unchanged (``inf`` included);
``PlateauState.from_dict(d)`` checks such a dict (one without ``"kind"`` too, as older
checkpoints hold) and rebuilds the state: the one mechanism of every rule's state,
:class:`~schedules.rule_state.RuleState`. A malformed dict — not a mapping, a key missing or
unexpected, a value of the wrong type or out of range — is a ``ValueError`` saying which key
and why. The record itself pickles and compares by value.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

import attrs

from schedules.combinator_fields import using
from schedules.rule_state import Check, RuleState
from schedules.validation import require_int, require_not_nan, require_unit_interval

_COUNT = functools.partial(require_int, minimum=0)
"""A count: an int >= 0 (bools refused)."""

__all__ = ["PlateauState"]

_FIELDS: dict[str, Check] = {
    "scale": require_unit_interval,
    "best": require_not_nan,
    "num_bad_epochs": _COUNT,
    "cooldown_counter": _COUNT,
    "last_epoch": _COUNT,
}
"""Every key of :meth:`PlateauState.as_dict`, with the check of its value."""


@attrs.frozen
class PlateauState(RuleState):
    """What a plateau rule knows after ``last_epoch`` metrics (see the module doc).

    ``scale`` lies in [0, 1]; ``best`` is a number or ``±inf``, never NaN; the three counters
    are ints ``>= 0``. Build the first state with ``rule.init()`` and the next ones with
    ``rule.update(state, metric)``.
    """

    KIND: ClassVar[str] = "reduce_on_plateau"
    CHECKS: ClassVar[Mapping[str, Check]] = _FIELDS

    scale: float = attrs.field(validator=using(require_unit_interval))
    best: float = attrs.field(validator=using(require_not_nan))
    num_bad_epochs: int = attrs.field(validator=using(_COUNT))
    cooldown_counter: int = attrs.field(validator=using(_COUNT))
    last_epoch: int = attrs.field(validator=using(_COUNT))
