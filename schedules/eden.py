"""icefall's Eden and Eden2 lr factors (k2-fsa/icefall, zipformer ``optim.py``): one pure
schedule of the update count and the epoch.

With ``b`` the update (icefall's batch) and ``e`` the epochs completed::

    eden(b, e) = ((b² + B²) / B²)^(−p_b) · ((e² + E²) / E²)^(−p_e) · w(b)
    w(b)       = warmup_start + (1 − warmup_start) · b / warmup_batches   for b < warmup_batches
                 1                                                       after

``B = lr_batches``, ``E = lr_epochs``, ``p_b = batch_exponent`` and ``p_e = epoch_exponent``
(icefall: 0.25 both). Eden2 (:func:`eden2`) has no epoch factor and ``p_b = 0.5``.

The clocks, as icefall counts them: its training loop adds 1 to ``batch_idx_train`` before
each batch and calls ``step_batch(batch_idx_train)`` before the optimizer step, so the k-th
update (1-based) uses ``b = k``: the shell's real step. It calls ``step_epoch(epoch - 1)`` at
the start of each 1-based epoch, so the epoch factor reads ``e = epoch − first_epoch`` where
``first_epoch`` is the number the shell's ``epoch_num`` has during the first epoch (1 for
SpeeChain's 1-based epochs, the default; 0 for a 0-based loop). Negative values act as 0.

With ``lr_epochs`` an ``eden`` reads two clocks (``clocks == {"update", "epoch"}``): it is
called with a :class:`~schedules.Time` (the shell does so; :func:`schedules.at_time`), and a
bare number is refused. Without (``lr_epochs=None``) it is a plain schedule of one number.
Python numbers give a Python float; Tensor clocks give a Tensor (vmap- and compile-safe).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
from torch import Tensor

from schedules.combinator_fields import using
from schedules.scalar_or_tensor import ops_for
from schedules.time_record import Time
from schedules.validation import (
    require_non_negative,
    require_number,
    require_positive,
    require_unit_interval,
)


def _check_length(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None and attribute.name == "lr_epochs":
        return
    number = require_positive(attribute.name, value)
    if not 0.0 < number * number < math.inf:
        raise ValueError(
            f"{attribute.name} must be between 1e-150 and 1e150 (its square is part of the "
            f"formula), got {value!r}"
        )


def _factor(step: Any, square: float, exponent: float) -> Any:
    """``((step² + square) / square)^(−exponent)`` for ``step >= 0`` (icefall's order)."""
    return ((step * step + square) / square) ** -exponent


@attrs.frozen(repr=False)
class eden:
    """icefall's Eden lr factor (module doc): ``eden(lr_batches, lr_epochs)`` at
    ``Time(update=b, epoch=first_epoch + e)`` is ``((b² + B²)/B²)^(−p_b) · ((e² + E²)/E²)^(−p_e)
    · w(b)``. ``lr_batches`` and ``lr_epochs`` > 0 (``lr_epochs=None``: no epoch factor, a
    plain schedule of the update); ``warmup_batches >= 0``; ``warmup_start`` in [0, 1];
    exponents >= 0; ``first_epoch`` a number. Multiply by the base lr (``scale``) or let the
    shell's optimizer lr be the base, as icefall does."""

    lr_batches: float = attrs.field(validator=_check_length)
    lr_epochs: float | None = attrs.field(default=None, validator=_check_length)
    warmup_batches: float = attrs.field(default=500.0, validator=using(require_non_negative))
    warmup_start: float = attrs.field(default=0.5, validator=using(require_unit_interval))
    batch_exponent: float = attrs.field(default=0.25, validator=using(require_non_negative))
    epoch_exponent: float = attrs.field(default=0.25, validator=using(require_non_negative))
    first_epoch: float = attrs.field(default=1, validator=using(require_number))

    @property
    def clocks(self) -> frozenset[str]:
        """``{"update", "epoch"}`` with an epoch factor, else empty (a plain schedule)."""
        return _TWO_CLOCKS if self.lr_epochs is not None else _PLAIN

    def __repr__(self) -> str:
        defaults = {a.name: a.default for a in attrs.fields(eden)}
        shown = [f"lr_batches={self.lr_batches!r}"]
        for name, default in defaults.items():
            value = getattr(self, name)
            if name != "lr_batches" and value != default:
                shown.append(f"{name}={value!r}")
        return f"eden({', '.join(shown)})"

    def __call__(self, t: Any) -> Any:
        if t.__class__ is Time:
            batch = t.of("update")
            epoch = t.of("epoch") if self.lr_epochs is not None else None
        elif self.lr_epochs is not None:
            raise ValueError(
                f"{self!r} reads the 'update' and 'epoch' clocks: call it with "
                f"schedules.Time(update=..., epoch=...), not a number ({t!r})"
            )
        else:
            batch, epoch = t, None
        ops = ops_for(batch)
        b = ops.step(batch)
        square = self.lr_batches * self.lr_batches
        value = _factor(b, square, self.batch_exponent)
        if self.warmup_batches > 0:
            ramp = self.warmup_start + (1.0 - self.warmup_start) * (b / self.warmup_batches)
            value = value * ops.where(b >= self.warmup_batches, 1.0, ramp)
        if epoch is not None:
            assert self.lr_epochs is not None
            e = ops_for(epoch).step(epoch - self.first_epoch)
            value = value * _factor(e, self.lr_epochs * self.lr_epochs, self.epoch_exponent)
        return value if isinstance(value, Tensor) else float(value)


_TWO_CLOCKS = frozenset(("update", "epoch"))
_PLAIN: frozenset[str] = frozenset()


def eden2(lr_batches: float, warmup_batches: float = 500.0, warmup_start: float = 0.5) -> eden:
    """icefall's Eden2: ``((b² + B²)/B²)^(−0.5) · w(b)``, the update clock only (no epoch
    factor): ``eden(lr_batches, None, warmup_batches, warmup_start, batch_exponent=0.5)``."""
    return eden(
        lr_batches,
        None,
        warmup_batches=warmup_batches,
        warmup_start=warmup_start,
        batch_exponent=0.5,
    )
