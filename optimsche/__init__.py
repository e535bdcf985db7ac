"""optimsche: one object for the optimizer and the learning-rate schedule of a PyTorch run.

The stateful shell over the pure schedules of :mod:`schedules`.

The public names below are imported on first use (PEP 562), so that ``import optimsche`` and
``optimsche --version`` do not import torch; ``from optimsche import OptimScheduler`` and
``optimsche.OptimScheduler`` work as usual, and type checkers see the imports under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from optimsche.package_version import package_version as _package_version

if TYPE_CHECKING:
    from optimsche.checkpoint_files import load_checkpoint, save_checkpoint
    from optimsche.config.building import build_optim_sches
    from optimsche.config.loading import load_config
    from optimsche.group import OptimSchedulerGroup
    from optimsche.lr_scheduler_adapter import as_lr_scheduler
    from optimsche.optim_scheduler import OptimScheduler
    from optimsche.speechain import ExponentDecayLr, NoamLr
    from optimsche.step_report import StepReport
    from optimsche.transformers_scheduler import get_scheduler

__version__: str = _package_version()
"""The installed ``optimsche`` distribution's version (``"0+unknown"`` when not installed)."""

_HOMES = {
    "ExponentDecayLr": "optimsche.speechain",
    "NoamLr": "optimsche.speechain",
    "OptimScheduler": "optimsche.optim_scheduler",
    "OptimSchedulerGroup": "optimsche.group",
    "StepReport": "optimsche.step_report",
    "as_lr_scheduler": "optimsche.lr_scheduler_adapter",
    "build_optim_sches": "optimsche.config.building",
    "load_checkpoint": "optimsche.checkpoint_files",
    "get_scheduler": "optimsche.transformers_scheduler",
    "load_config": "optimsche.config.loading",
    "save_checkpoint": "optimsche.checkpoint_files",
}
"""Each public name -> the module that defines it (the imports above, for the runtime)."""

__all__ = [
    "ExponentDecayLr",
    "NoamLr",
    "OptimScheduler",
    "OptimSchedulerGroup",
    "StepReport",
    "__version__",
    "as_lr_scheduler",
    "build_optim_sches",
    "get_scheduler",
    "load_checkpoint",
    "load_config",
    "save_checkpoint",
]


if not TYPE_CHECKING:  # type checkers see the imports above; an unknown name stays an error

    def __getattr__(name: str) -> object:
        """Import a public name's module on first use and cache the name in this module."""
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'optimsche' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
