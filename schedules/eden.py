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

``eden`` is not a formula of its own: it builds the schedule from the algebra's parts, so
it prints, compares and pickles as they do, and evaluates exactly as written::

    multiply(on("update", multiply(power_decay(peak=1, scale=B, exponent=p_b, order=2),
                                   linear(start=warmup_start, end=1, steps=warmup_batches))),
             on("epoch", shift(power_decay(peak=1, scale=E, exponent=p_e, order=2),
                               first_epoch)))

(a factor with exponent 0, or a warmup of 0 batches or starting at 1, is 1 and left out).
``peak`` (default 1: the factor itself) is icefall's ``base_lr``, the lr at factor 1: with
``peak != 1`` the whole is ``scale(..., peak)``, so ``eden(..., peak=0.045)`` is the lr a
config's ``type: eden`` sets.
With ``lr_epochs`` it reads two clocks (``clocks == {"update", "epoch"}``: the shell calls
it with a :class:`~schedules.Time`, :func:`schedules.at_time`); without
(``lr_epochs=None``) it is a plain schedule of the update. Python numbers give a Python
float; Tensor clocks give a Tensor (vmap- and compile-safe).
"""

from __future__ import annotations

from typing import Any

from schedules.bound_schedule import bind
from schedules.constant import constant
from schedules.linear import linear
from schedules.multiply import multiply
from schedules.power_decay import power_decay
from schedules.scale import scale
from schedules.shift import shift
from schedules.time_record import on
from schedules.validation import (
    require_non_negative,
    require_number,
    require_positive,
    require_unit_interval,
)


def _decay(scale: float, exponent: float) -> Any:
    """``((s² + scale²) / scale²)^(−exponent)`` as a bound ``power_decay`` (``None`` for
    exponent 0: a factor of 1)."""
    if exponent == 0:
        return None
    return bind(power_decay, peak=1.0, scale=scale, exponent=exponent, order=2.0)


def _product(factors: list[Any]) -> Any:
    present = [f for f in factors if f is not None]
    if not present:
        return bind(constant, value=1.0)
    return present[0] if len(present) == 1 else multiply(*present)


def eden(
    lr_batches: float,
    lr_epochs: float | None = None,
    warmup_batches: float = 500.0,
    warmup_start: float = 0.5,
    batch_exponent: float = 0.25,
    epoch_exponent: float = 0.25,
    first_epoch: float = 1,
    peak: float = 1.0,
) -> Any:
    """icefall's Eden lr factor (module doc): at ``Time(update=b, epoch=first_epoch + e)``,
    ``((b² + B²)/B²)^(−p_b) · ((e² + E²)/E²)^(−p_e) · w(b)``. ``lr_batches`` and
    ``lr_epochs`` > 0 (``lr_epochs=None``: no epoch factor, a plain schedule of the update);
    ``warmup_batches >= 0``; ``warmup_start`` in [0, 1]; exponents >= 0; ``first_epoch`` a
    number; ``peak`` (icefall's ``base_lr``, the factor's multiplier) >= 0. Bad values are a
    ``ValueError`` naming the argument."""
    require_positive("lr_batches", lr_batches)
    if lr_epochs is not None:
        require_positive("lr_epochs", lr_epochs)
    require_non_negative("warmup_batches", warmup_batches)
    require_unit_interval("warmup_start", warmup_start)
    require_non_negative("batch_exponent", batch_exponent)
    require_non_negative("epoch_exponent", epoch_exponent)
    require_number("first_epoch", first_epoch)
    peak = require_non_negative("peak", peak)
    ramp = None
    if warmup_batches > 0 and warmup_start != 1.0:
        ramp = bind(linear, start=warmup_start, end=1.0, steps=warmup_batches)
    per_update = _product([_decay(lr_batches, batch_exponent), ramp])
    if lr_epochs is None:
        factor = per_update
    else:
        per_epoch = _decay(lr_epochs, epoch_exponent)
        if per_epoch is None:
            per_epoch = bind(constant, value=1.0)
        elif first_epoch != 0:
            per_epoch = shift(per_epoch, first_epoch)
        factor = multiply(on("update", per_update), on("epoch", per_epoch))
    return factor if peak == 1.0 else scale(factor, peak)


def eden2(
    lr_batches: float,
    warmup_batches: float = 500.0,
    warmup_start: float = 0.5,
    peak: float = 1.0,
) -> Any:
    """icefall's Eden2: ``peak · ((b² + B²)/B²)^(−0.5) · w(b)``, the update clock only (no
    epoch factor): ``eden(lr_batches, None, warmup_batches, warmup_start,
    batch_exponent=0.5, peak=peak)``."""
    return eden(
        lr_batches,
        None,
        warmup_batches=warmup_batches,
        warmup_start=warmup_start,
        batch_exponent=0.5,
        peak=peak,
    )
