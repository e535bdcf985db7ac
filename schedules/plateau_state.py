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

``state.as_dict()`` is a plain ``dict`` of Python ``float``/``int`` values, which
``torch.save`` writes and ``torch.load(weights_only=True)`` reads back unchanged (``inf``
included); ``PlateauState.from_dict(d)`` checks such a dict and rebuilds the state. A
malformed dict — not a mapping, a key missing or unexpected, a value of the wrong type or out
of range — is a ``ValueError`` saying which key and why. The record itself pickles and
compares by value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from schedules.combinator_fields import using
from schedules.validation import require_int, require_not_nan, require_unit_interval

_COUNT = functools.partial(require_int, minimum=0)
"""A count: an int >= 0 (bools refused)."""

__all__ = ["PlateauState"]

_FIELDS: dict[str, Callable[[str, Any], object]] = {
    "scale": require_unit_interval,
    "best": require_not_nan,
    "num_bad_epochs": _COUNT,
    "cooldown_counter": _COUNT,
    "last_epoch": _COUNT,
}
"""Every key of :meth:`PlateauState.as_dict`, with the check of its value."""


@attrs.frozen
class PlateauState:
    """What a plateau rule knows after ``last_epoch`` metrics (see the module doc).

    ``scale`` lies in [0, 1]; ``best`` is a number or ``±inf``, never NaN; the three counters
    are ints ``>= 0``. Build the first state with ``rule.init()`` and the next ones with
    ``rule.update(state, metric)``.
    """

    scale: float = attrs.field(validator=using(require_unit_interval))
    best: float = attrs.field(validator=using(require_not_nan))
    num_bad_epochs: int = attrs.field(validator=using(_COUNT))
    cooldown_counter: int = attrs.field(validator=using(_COUNT))
    last_epoch: int = attrs.field(validator=using(_COUNT))

    def as_dict(self) -> dict[str, float | int]:
        """The state as a plain dict of numbers (``scale`` and ``best`` floats, the counters
        ints), loadable with ``torch.load(weights_only=True)``."""
        return {
            "scale": float(self.scale),
            "best": float(self.best),
            "num_bad_epochs": int(self.num_bad_epochs),
            "cooldown_counter": int(self.cooldown_counter),
            "last_epoch": int(self.last_epoch),
        }

    @classmethod
    def from_dict(cls, state: object) -> PlateauState:
        """The state that :meth:`as_dict` gave ``state``; a ``ValueError`` naming the key when
        ``state`` is not such a dict (every key is checked before the state is built)."""
        prefix = "PlateauState.from_dict"
        if not isinstance(state, Mapping):
            raise ValueError(
                f"{prefix}: expected a dict with keys {list(_FIELDS)}, got "
                f"{type(state).__name__}: {state!r}"
            )
        missing = [key for key in _FIELDS if key not in state]
        unexpected = [key for key in state if key not in _FIELDS]
        if missing or unexpected:
            wrong = [
                f"{what} keys {keys}"
                for what, keys in (("missing", missing), ("unexpected", unexpected))
                if keys
            ]
            raise ValueError(f"{prefix}: {', '.join(wrong)} (expected exactly {list(_FIELDS)})")
        values: dict[str, Any] = {}
        for key, check in _FIELDS.items():
            try:
                values[key] = check(key, state[key])
            except ValueError as error:
                raise ValueError(f"{prefix}: {error}") from None
        return cls(**values)
