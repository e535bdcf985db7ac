"""``MicroStep``: one micro-step of one OptimScheduler, checked and planned, not yet run.

:meth:`optimsche.machine.shell_machine.ShellMachine.plan` makes it (validating every argument,
changing nothing); the machine's backward protocol, ``advance`` and ``update`` run it, in the
order of :func:`optimsche.machine.orchestrator.run_micro_step`, which plans a micro-step of every
shell before it runs any backward.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class MicroStep(NamedTuple):
    """Micro-step ``step_num`` (1-based) of window ``real_step`` (an immutable tuple: made
    once per micro-step, on the hot path).

    * ``takes_part``: whether this optimizer runs backward (and, at ``ends_window``, its
      update) in it: ``real_step % step_per_update == 0``;
    * ``ends_window``: whether it is the window's last micro-step, ``step_num % accum_grad == 0``;
    * ``loss``: the checked loss to backpropagate (``None`` when it takes no part);
    * ``num_items``: the items the loss sums over, checked (``None``: a mean loss);
    * ``epoch_num``: the epoch as given (checked; ``None`` when not given);
    * ``leaves_window``: the real step of an open window (one holding gradients) that
      ``step_num`` jumps out of, 0 if none: that window is flushed first;
    * ``values``: the checked values of the update it ends, when known before the backward
      (clocks ``"update"`` and ``"epoch"``): the lr's (none when the optimizer's own lrs are
      kept, one, or one per param group), then each scheduled hyperparameter's; ``None`` when
      it ends no update, nothing is scheduled, or they are known only at the update
      (``clock="items"``).
    """

    step_num: int
    real_step: int
    takes_part: bool
    ends_window: bool
    loss: Tensor | None
    num_items: int | Tensor | None
    epoch_num: float | None = None
    leaves_window: int = 0
    values: tuple[tuple[float, ...], ...] | None = None

    @property
    def updates(self) -> bool:
        """Whether the optimizer's update is due at this micro-step."""
        return self.takes_part and self.ends_window
