"""The demo's checkpoint file: the model's parameters and the OptimSchedulerGroup's state.

Layout (a plain dict of tensors, numbers and strings, so ``torch.load(weights_only=True)``
reads it): ``{"format": FORMAT, "step_num": n, "model": model.state_dict(),
"optim_sches": group.state_dict()}``. The group's state holds every optimizer, the counters
and, when ``n`` falls inside an accumulation window, the partial gradients; loading it into a
fresh model and group continues the run bit for bit.

The file is written with :func:`optimsche.checkpoint_files.save_checkpoint` (atomically: a
run killed while saving keeps the previous file whole) and read with
:func:`optimsche.checkpoint_files.load_checkpoint` (``weights_only=True``; a missing file is a
``FileNotFoundError``, an unreadable one a ``ValueError``, each naming the file).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from optimsche import checkpoint_files
from optimsche.group import OptimSchedulerGroup
from optimsche.parallel.distributed import unwrap
from schedules.validation import require_int

__all__ = ["FORMAT", "load_checkpoint", "save_checkpoint"]

FORMAT = "optimsche-demo-checkpoint/1"
"""The value of the ``format`` key of a demo checkpoint."""


def save_checkpoint(
    path: Path, model: nn.Module, group: OptimSchedulerGroup, step_num: int
) -> None:
    """Write the checkpoint of micro-step ``step_num`` to ``path``, atomically (a DDP wrapper
    is unwrapped so the file loads into a plain model too)."""
    checkpoint_files.save_checkpoint(
        {
            "format": FORMAT,
            "step_num": step_num,
            "model": unwrap(model).state_dict(),
            "optim_sches": group.state_dict(),
        },
        path,
    )


def load_checkpoint(path: Path, model: nn.Module, group: OptimSchedulerGroup) -> int:
    """Load ``path`` (with ``weights_only=True``) into ``model`` and ``group``; return its
    ``step_num``. A file that is not a demo checkpoint raises ``ValueError``."""
    state = checkpoint_files.load_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: not an optimsche demo checkpoint (format {found!r})")
    step_num = require_int(f"{path}: step_num", state.get("step_num"), 0)  # before any load
    unwrap(model).load_state_dict(state["model"])
    group.load_state_dict(state["optim_sches"])
    return step_num
