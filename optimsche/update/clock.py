"""The clock of the schedules: what ``t`` an OptimScheduler's ``update_lr(t)`` sees.

``clock`` chooses it, once, at construction:

* ``"update"`` (default): the real step ``r = (step_num - 1) // accum_grad + 1`` of the update
  (torch's ``scheduler.step()`` per optimizer step, SpeeChain's ``real_step``);
* ``"epoch"``: the ``epoch_num`` given to ``step()`` (SpeeChain's 1-based epochs, an int or a
  float such as ``epoch + batch / len(loader)``), which every ``step()`` must then give
  (timm's epoch-based schedulers, Lightning's ``interval: "epoch"``);
* ``"items"``: the items (tokens) seen so far, summed over all ranks, up to and including the
  updating window (MosaicML Composer's token-based durations); ``num_items`` is then
  required, and the running total is read in the update's one host sync.

The epoch also reaches an ``update_lr(real_step, epoch_num)`` override (SpeeChain HEAD's
signature) whatever the clock: :func:`epoch_use` reads, once per class, whether an override
takes it and whether it needs it (no default value). A given ``epoch_num`` must be a finite
number ``>= 1`` (``>= 0`` with ``count_from=0``) that never goes backwards.

**Clock objects.** Each name is a :class:`Clock` record (:data:`CLOCK_RECORDS`), built once;
the shell asks it, never branches on the string: :meth:`Clock.time` makes the
:class:`schedules.Time` of an update (every tracked clock, ``clock`` naming the one a plain
schedule reads), and :attr:`Clock.known_before_sync` says whether its value is known before
the update's host sync (the items clock is not).

**count_from.** ``count_from=1`` (default, SpeeChain's): the k-th update is at time ``k``
(its real step) and its items clock counts the items up to and including its window.
``count_from=0`` (torch, transformers, timm and optax): the k-th update is at time ``k - 1``
and its items clock counts the items seen *before* its window, so a 0-based formula ports as it
is written; the epoch is passed as given (and may be 0).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import attrs

from schedules.time_record import Time
from schedules.validation import require_choice, require_number

CLOCKS = ("update", "epoch", "items")
"""The valid values of ``clock`` (module doc)."""

EpochUse = Literal["none", "optional", "required"]
"""What an ``update_lr`` does with ``epoch_num``: takes no such argument, takes one with a
default, or needs one."""


def resolve_clock(clock: object) -> str:
    """``clock`` checked against :data:`CLOCKS`; a ``ValueError`` listing them otherwise."""
    return require_choice("clock", clock, CLOCKS)


COUNT_FROM = (0, 1)
"""The valid values of ``count_from`` (module doc)."""


def resolve_count_from(count_from: object) -> int:
    """``count_from`` checked: 0 or 1 (a ``ValueError`` naming it and the choices)."""
    if type(count_from) is not int or count_from not in COUNT_FROM:
        raise ValueError(
            f"count_from must be 0 (the k-th update evaluates schedules at k - 1, as torch, "
            f"transformers, timm and optax do) or 1 (at k, SpeeChain's), got {count_from!r}"
        )
    return count_from


@attrs.frozen
class Clock:
    """One clock of the shell (module doc): ``name`` (one of :data:`CLOCKS`) and whether its
    value is known before the update's host sync."""

    name: str
    known_before_sync: bool

    def time(
        self,
        *,
        real_step: int,
        epoch_num: float | None,
        items_before: int | float | None,
        items_after: int | float | None,
        count_from: int,
    ) -> Time:
        """The :class:`~schedules.Time` of the update of window ``real_step`` (module doc,
        "count_from"): ``update = real_step - 1 + count_from``; ``items`` the items seen up to
        and including the window (``items_after``) or, with ``count_from=0``, before it
        (``items_before``); ``None`` where a clock is not tracked."""
        items = items_after if count_from else items_before
        return Time(
            update=real_step - 1 + count_from, epoch=epoch_num, items=items, clock=self.name
        )


CLOCK_RECORDS = {
    "update": Clock("update", known_before_sync=True),
    "epoch": Clock("epoch", known_before_sync=True),
    "items": Clock("items", known_before_sync=False),
}
"""The :class:`Clock` of each name of :data:`CLOCKS`."""


def clock_record(clock: object) -> Clock:
    """The :class:`Clock` named ``clock`` (:func:`resolve_clock` checks the name)."""
    return CLOCK_RECORDS[resolve_clock(clock)]


def epoch_use(update_lr: Callable[..., Any]) -> EpochUse:
    """Whether the bound method ``update_lr`` takes an epoch as its second argument.

    ``update_lr(real_step)`` takes none; ``update_lr(real_step, epoch_num=None)`` (or
    ``*args``) takes one it may do without; ``update_lr(real_step, epoch_num)`` needs one.
    """
    signature = inspect.signature(update_lr)
    try:
        signature.bind(1, 1)
    except TypeError:
        return "none"
    try:
        signature.bind(1)
    except TypeError:
        return "required"
    return "optional"


def check_epoch_num(
    epoch_num: object, last: float | None, *, needed_by: str | None, first: int = 1
) -> float | None:
    """``epoch_num`` as given (an int stays an int), checked: ``None`` only when nothing needs
    it (``needed_by`` names what does), else a finite number ``>= first`` (1, or 0 with
    ``count_from=0``) not below ``last``, the epoch of the previous micro-step."""
    if epoch_num is None:
        if needed_by is not None:
            raise ValueError(
                f"epoch_num is required: {needed_by}; pass step(..., epoch_num=...) with the "
                f"{first}-based epoch on every micro-step"
            )
        return None
    value = require_number("epoch_num", epoch_num)
    if value < first:
        raise ValueError(
            f"epoch_num must be >= 1 (epochs are 1-based, as in SpeeChain; count_from=0 takes "
            f"0-based epochs), got {epoch_num!r}"
            if first
            else f"epoch_num must be >= 0 (count_from=0: 0-based epochs), got {epoch_num!r}"
        )
    if last is not None and value < last:
        raise ValueError(
            f"epoch_num must not go backwards: got epoch_num={epoch_num!r} after epoch {last!r}"
        )
    return epoch_num if isinstance(epoch_num, int) else value
