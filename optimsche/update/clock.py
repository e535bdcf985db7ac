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
number ``>= 1`` that never goes backwards.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from schedules.validation import require_choice, require_number

CLOCKS = ("update", "epoch", "items")
"""The valid values of ``clock`` (module doc)."""

EpochUse = Literal["none", "optional", "required"]
"""What an ``update_lr`` does with ``epoch_num``: takes no such argument, takes one with a
default, or needs one."""


def resolve_clock(clock: object) -> str:
    """``clock`` checked against :data:`CLOCKS`; a ``ValueError`` listing them otherwise."""
    return require_choice("clock", clock, CLOCKS)


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
    epoch_num: object, last: float | None, *, needed_by: str | None
) -> float | None:
    """``epoch_num`` as given (an int stays an int), checked: ``None`` only when nothing needs
    it (``needed_by`` names what does), else a finite number ``>= 1`` not below ``last``, the
    epoch of the previous micro-step."""
    if epoch_num is None:
        if needed_by is not None:
            raise ValueError(
                f"epoch_num is required: {needed_by}; pass step(..., epoch_num=...) with the "
                f"1-based epoch on every micro-step"
            )
        return None
    value = require_number("epoch_num", epoch_num)
    if value < 1:
        raise ValueError(
            f"epoch_num must be >= 1 (epochs are 1-based, as in SpeeChain), got {epoch_num!r}"
        )
    if last is not None and value < last:
        raise ValueError(
            f"epoch_num must not go backwards: got epoch_num={epoch_num!r} after epoch {last!r}"
        )
    return epoch_num if isinstance(epoch_num, int) else value
