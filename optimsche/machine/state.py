"""``ShellState``: the one mutable record of a shell, which its checkpoint reads and writes.

Its fields are the shell's whole state besides the optimizer, the scaler and the gradients:
the last micro-step run, the last epoch given, the items seen over all ranks, the open
accumulation window, the lr the first param group got, the plateau state, and two transient
marks of the micro-step in flight (the window :meth:`flush` closed early, the undo record of the
last backward) that a checkpoint does not hold.
"""

from __future__ import annotations

from typing import Any

import attrs

from optimsche.update.accumulation import AccumulationWindow
from schedules.rule_state import RuleState


@attrs.define(kw_only=True)
class ShellState:
    """The state of one shell (module doc)."""

    step_num: int = 0
    """The last micro-step run (0 before the first)."""
    epoch_num: float | None = None
    """The last epoch given to ``step()``."""
    items_seen: int | float = 0
    """The items of every window updated or skipped so far, summed over all ranks."""
    window: AccumulationWindow = attrs.Factory(AccumulationWindow)
    """The open window of gradient accumulation."""
    lr: float = 0.0
    """The lr the first param group got at the last update."""
    plateau: RuleState | None = None
    """The state of the plateau rule (``None`` without one)."""
    flushed_after: int | None = None
    """When ``flush()`` closed a window after this micro-step (until the next one runs)."""
    last_backward: tuple[int, Any] | None = None
    """The micro-step of the last backward and what undoing it needs (until it advances)."""

    def checkpoint_fields(self) -> dict[str, Any]:
        """The fields a checkpoint holds, by the keyword names of
        :func:`optimsche.checkpoint.to_state_dict`."""
        return {
            "step_num": self.step_num,
            "lr": self.lr,
            "window": self.window,
            "items_seen": self.items_seen,
            "epoch_num": self.epoch_num,
            "plateau": self.plateau,
        }
