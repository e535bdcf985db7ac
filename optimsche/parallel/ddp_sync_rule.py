"""When a DDP model's own gradient all-reduce may run: the rule the shell arms DDP with.

DDP decides at *forward* time whether the backward all-reduces
(:func:`optimsche.distributed.arm_gradient_sync`), and a forward that prepared the all-reduce
makes DDP wait for a gradient of every parameter it reduces
(:func:`optimsche.distributed.ddp_reduced_parameters`): if a backward leaves one of them
without a gradient, the next forward fails ("Expected to have finished reduction in the prior
iteration"). The shell's backward reaches only its optimizers' own parameters
(``backward(inputs=...)``), so two things leave parameters without a gradient: an
optimizer that sits the micro-step out (``step_per_update > 1``), and parameters that require
grad but belong to no optimizer.

The rule, for the OptimSchedulers stepping one DDP model (a lone OptimScheduler, or the
members of an :class:`~optimsche.OptimSchedulerGroup` on that model) and micro-step ``n``:
DDP's own sync is armed iff

1. every one of them takes part in ``n`` (its window's real step is a multiple of its
   ``step_per_update``),
2. together they own every parameter DDP reduces (checked once, when the rule is made: turn
   ``requires_grad`` on or off before building the shell), and
3. ``n`` ends the window of at least one of them (else there is nothing to sync yet).

Otherwise the forward runs unsynced (as under ``no_sync()``) and every OptimScheduler whose
window ends at ``n`` all-reduces its own gradients itself after the backward
(:func:`optimsche.distributed.average_gradients_`: flat buckets, but not overlapped with the
backward as DDP's are). The update is the same either way (up to rounding). With members of
different ``accum_grad``, a sync armed by one member's window end also averages the partial
gradients of members whose windows go on: harmless, as the mean over ranks is linear and
leaves equal values unchanged.

``find_unused_parameters=True`` does not change the rule: DDP treats a parameter as unused only
when the forward's outputs do not reach it, whereas a member that sits a micro-step out owns
parameters that the outputs reach but no backward does. To keep DDP's overlapped bucketed
all-reduce, give every parameter that requires grad to some optimizer (or set
``requires_grad=False`` on the others).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from optimsche.parallel.distributed import (
    arm_gradient_sync,
    ddp_reduced_parameters,
    forward_prepared_sync,
)
from schedules.step_arithmetic import takes_part

__all__ = ["DdpSyncRule"]


class DdpSyncRule:
    """The rule of the module doc for one DDP ``model`` and the optimizers that step it.

    ``clocks``: each optimizer's ``(accum_grad, step_per_update)``; ``names``: their names (for
    messages), in the same order; ``params``: every parameter they own. ``covers`` tells
    whether those own every parameter DDP reduces (condition 2).
    """

    __slots__ = ("_clocks", "covers", "model", "names")

    def __init__(
        self,
        model: DistributedDataParallel,
        clocks: Sequence[tuple[int, int]],
        names: Sequence[str],
        params: Iterable[Tensor],
    ) -> None:
        if len(clocks) != len(names):
            raise ValueError(f"DdpSyncRule: {len(clocks)} clocks but {len(names)} names")
        self.model = model
        self._clocks = tuple(clocks)
        self.names = tuple(names)
        owned = {id(p) for p in params}
        self.covers = all(id(p) in owned for p in ddp_reduced_parameters(model))

    def absent(self, n: int) -> list[str]:
        """The names of the optimizers that take no part in micro-step ``n``."""
        return [
            name
            for name, (accum, every) in zip(self.names, self._clocks, strict=True)
            if not takes_part(n, accum, every)
        ]

    def syncs(self, n: int) -> bool:
        """Whether DDP's own sync runs for micro-step ``n`` (conditions 1, 2 and 3)."""
        if not self.covers:
            return False
        ends = False
        for accum, every in self._clocks:
            if not takes_part(n, accum, every):
                return False
            ends = ends or n % accum == 0
        return ends

    def arm(self, n: int) -> None:
        """Arm the model's next forward, that of micro-step ``n``, with :meth:`syncs`."""
        arm_gradient_sync(self.model, self.syncs(n))

    def check_forward(self, n: int) -> None:
        """Refuse micro-step ``n`` if its forward prepared DDP's sync although some optimizers
        sit it out while others run backward: DDP would wait for gradients that never come.

        This happens only when the forward ran before the shell could arm it (``step_num``
        jumped, or the first forward ran before the shell was built).
        """
        if not self.covers or not forward_prepared_sync(self.model):
            return
        absent = self.absent(n)
        if absent and len(absent) < len(self.names):
            raise ValueError(
                f"micro-step {n}: its forward ran with DDP's gradient sync armed, but "
                f"{', '.join(repr(name) for name in absent)} take(s) no part in it "
                f"(step_per_update), so DDP would wait for their gradients and fail at the next "
                f"forward. The shell arms DDP for the micro-step after the last one it ran: build "
                f"it before the first forward and pass consecutive step_num (or None)"
            )
