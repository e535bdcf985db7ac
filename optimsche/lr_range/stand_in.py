"""The shell that runs an lr range test in place of the user's: same optimizer, the sweep's lr.

For each :class:`~optimsche.OptimScheduler` a stand-in is built through the public constructor
over the *same* optimizer object (so the same parameters and optimizer state), the same model
and with the same ``optim_loss``, ``accum_grad``, AMP mode, ``grad_clip``, ``grad_norm_type``
and ``distributed``; its GradScaler starts from a copy of the user's scaler state. What
differs is only the lr: ``schedule=`` is the sweep (:mod:`optimsche.lr_range.sweep`), given to
the reference param group, every other group keeping its current ratio to it (or its
``lr_scale``: :mod:`optimsche.optimizer.group_rule`); ``ft_factor``, a ``plateau`` rule and a
subclass's ``update_lr`` (``NoamLr``) do not apply, and every stand-in updates in every window
(``step_per_update = 1``). Scheduled hyperparameters other than the lr keep the values the
param groups hold.

So each micro-step of the test is an ordinary ``step()`` of a shell: accumulation, AMP (the
scaler's skips), ``num_items``, clipping, the non-finite skip and the DDP gradient sync are the
shell's own. The user's shell is not stepped at all; what the stand-in changes in the shared
optimizer, parameters and gradients is put back by :mod:`optimsche.lr_range.saved_training`.
"""

from __future__ import annotations

from collections.abc import Callable

from optimsche.group import OptimSchedulerGroup
from optimsche.optim_scheduler import OptimScheduler


def stand_in_shell(shell: OptimScheduler, sweep: Callable[[int], float]) -> OptimScheduler:
    """A shell over ``shell.optimizer`` driven by ``sweep`` (module doc)."""
    stand_in = OptimScheduler(
        optimizer=shell.optimizer,
        model=shell.model,
        distributed=shell.distributed,
        optim_loss=shell.optim_loss,
        accum_grad=shell.accum_grad,
        use_amp=shell.use_amp,
        grad_clip=shell.grad_clip,
        grad_norm_type=shell.grad_norm_type,
        schedule=sweep,
    )
    if shell.scaler is not None and stand_in.scaler is not None:
        stand_in.scaler.load_state_dict(shell.scaler.state_dict())
    return stand_in


def stand_in(
    owner: OptimScheduler | OptimSchedulerGroup, sweep: Callable[[int], float]
) -> OptimScheduler | OptimSchedulerGroup:
    """The stand-in of a shell, or a group of the stand-ins of a group's members (sharing one
    GradScaler as the group does), all driven by the same ``sweep``."""
    if isinstance(owner, OptimScheduler):
        return stand_in_shell(owner, sweep)
    return OptimSchedulerGroup({name: stand_in_shell(m, sweep) for name, m in owner.items()})
