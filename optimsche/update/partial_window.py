"""Partial windows: applying a window of gradient accumulation before its last micro-step.

Two events end a window early:

* :meth:`OptimScheduler.flush` (the end of an epoch whose batches are not a multiple of
  ``accum_grad``, accelerate's ``sync_with_dataloader``): the open window is applied now;
* a ``step_num`` that jumps out of an open window (SpeeChain's runner skips a batch and keeps
  counting): the open window is applied as if flushed, then the new micro-step goes on in its
  own window.

**The exact mean.** Without ``num_items`` each micro-step backpropagated ``loss / accum_grad``,
so a window holding ``k < accum_grad`` micro-steps holds ``Σ grad / accum_grad``; it is
multiplied by ``accum_grad / k`` (:func:`mean_factor`) to become the mean over its ``k``
micro-batches, what a window of length ``k`` would have given. With ``num_items`` the window's
gradient is divided by its own items at the update anyway: nothing to correct.

**Which weights.** When ``step_num`` jumps, the new micro-step's forward has already run with
the weights of before the old window's update; its gradient must be the gradient at those
weights. So the open window is *set aside* (its gradients moved out of ``param.grad``, its
record out of the shell), the new micro-step's backward runs into empty gradients, and only
then is the old window applied (its gradients put back, the update, the new gradients put back
in turn). The backward never sees weights that changed after its forward.

**fp16.** The new micro-step's gradients were scaled by the GradScaler's scale of before the
old window's update, which may change that scale (an overflow halves it, a growth interval
doubles it); they are multiplied by ``new_scale / old_scale`` (a device tensor, no host sync)
so that the next unscale is right.

**DDP.** The micro-steps of an open window ran their backward without gradient sync, so a
flush averages the window's gradients over the ranks itself (one bucketed all-reduce): every
rank must flush alike (call ``flush()`` on all ranks, and jump alike). Under FSDP, whose
unsynced gradients can only be reduced by a later backward, partial windows are refused.
"""

from __future__ import annotations

import attrs
from torch import Tensor

from optimsche.update.accumulation import AccumulationWindow


def mean_factor(accum_grad: int, micro_steps: int, counts_items: bool) -> float:
    """What to multiply a partial window's gradients by to get the mean over its
    ``micro_steps`` micro-batches: ``accum_grad / micro_steps``, or 1 with ``num_items``
    (module doc)."""
    if counts_items or micro_steps == accum_grad:
        return 1.0
    return accum_grad / micro_steps


@attrs.define
class SetAside:
    """An open window moved out of the way of a new micro-step's backward (module doc):
    its gradients (one entry per trainable parameter), its record, and the GradScaler's
    scale when it was set aside (a device tensor; ``None`` without fp16)."""

    grads: list[Tensor | None]
    window: AccumulationWindow
    scale: Tensor | None
