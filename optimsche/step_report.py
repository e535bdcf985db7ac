"""What one call of :meth:`OptimScheduler.step` did, as a small frozen record."""

from __future__ import annotations

import attrs
from torch import Tensor

SKIP_NONFINITE = "nonfinite"
"""``StepReport.skipped`` when the window's loss or gradient norm was not finite."""

SKIP_AMP_OVERFLOW = "amp_overflow"
"""``StepReport.skipped`` when the fp16 ``GradScaler`` found inf/NaN gradients."""


@attrs.frozen(kw_only=True)
class StepReport:
    """The outcome of one micro-step of one optimizer.

    * ``step_num``: the 1-based micro-step (one ``backward``) this report is about.
    * ``real_step``: the 1-based accumulation window it belongs to,
      ``(step_num - 1) // accum_grad + 1``.
    * ``updated``: whether the parameters were changed by the optimizer at this micro-step.
    * ``skipped``: ``None``, or why an update that was due (last micro-step of a window this
      optimizer takes part in) was not applied: ``"amp_overflow"`` (the fp16 ``GradScaler``
      found inf/NaN gradients and lowers its scale) or ``"nonfinite"`` (a loss of the window or
      the gradient norm was inf/NaN). The gradients are zeroed either way.
    * ``lr``: the base learning rate in effect after this micro-step,
      ``ft_factor · update_lr(real_step)`` when it was just applied (before any param group's
      ``lr_scale``); a Python float, read without touching the device.
    * ``grad_norm``: at an update (applied or skipped) the total gradient norm of this
      optimizer's parameters before clipping, as a 0-dim Tensor on the device (reading it is
      the caller's host sync, not the shell's); ``None`` on other micro-steps.
    * ``flushed``: when this micro-step's ``step_num`` jumped out of a window that still held
      gradients, the report of that window's update, applied first as by
      :meth:`~OptimScheduler.flush` (see "Partial windows"); ``None`` otherwise.
    """

    step_num: int
    real_step: int
    updated: bool
    skipped: str | None
    lr: float
    grad_norm: Tensor | None
    flushed: StepReport | None = None
