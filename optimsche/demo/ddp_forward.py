"""When the demo's DDP forward may let DDP synchronise gradients, and when it must not.

DDP's reducer, once a forward has prepared it (``require_backward_grad_sync`` true at forward
time), waits for a gradient on *every* parameter of the wrapped model before its next forward.
An :class:`~optimsche.OptimSchedulerGroup` whose members sit some micro-steps out
(``step_per_update > 1``: the demo's ``encoder_optim`` takes part in every second window
only), or whose members do not cover every parameter, leaves some parameters without a
gradient in such a micro-step, and DDP would fail at the next forward ("Expected to have
finished reduction in the prior iteration").

:func:`forward_sync_context` therefore runs the forward of such a micro-step under
``model.no_sync()``. The OptimScheduler then finds at its window's end that the forward did
not prepare DDP's sync (:func:`optimsche.distributed.forward_prepared_sync`) and all-reduces
its own gradients itself, so the update is the same. In micro-steps where every parameter
gets a gradient, DDP's own bucketed sync runs as the shell armed it.
"""

from __future__ import annotations

import contextlib

from torch import nn
from torch.nn.parallel import DistributedDataParallel

from optimsche.group import OptimSchedulerGroup
from optimsche.optim_scheduler import OptimScheduler
from schedules import real_step

__all__ = ["covers_model", "forward_sync_context", "takes_part"]


def takes_part(member: OptimScheduler, step_num: int) -> bool:
    """Whether ``member`` backpropagates at micro-step ``step_num``: its window
    ``real_step(step_num, accum_grad)`` is a multiple of its ``step_per_update``."""
    return real_step(step_num, member.accum_grad) % member.step_per_update == 0


def covers_model(group: OptimSchedulerGroup, model: nn.Module) -> bool:
    """Whether the group's optimizers own every parameter of ``model`` that requires grad."""
    owned = {
        id(p)
        for member in group.values()
        for param_group in member.optimizer.param_groups
        for p in param_group["params"]
    }
    return all(id(p) in owned for p in model.parameters() if p.requires_grad)


def forward_sync_context(
    model: nn.Module, group: OptimSchedulerGroup, step_num: int, covered: bool
) -> contextlib.AbstractContextManager[None]:
    """The context for micro-step ``step_num``'s forward (module docstring): ``model.no_sync()``
    for a DDP ``model`` unless ``covered`` (see :func:`covers_model`) and every member of
    ``group`` takes part; otherwise a no-op."""
    if not isinstance(model, DistributedDataParallel):
        return contextlib.nullcontext()
    if covered and all(takes_part(member, step_num) for member in group.values()):
        return contextlib.nullcontext()
    return model.no_sync()
