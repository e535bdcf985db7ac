"""optimsche: one object for the optimizer and the learning-rate schedule of a PyTorch run.

The stateful shell over the pure schedules of :mod:`schedules`.
"""

from optimsche.checkpoint_files import load_checkpoint, save_checkpoint
from optimsche.config.building import build_optim_sches
from optimsche.config.loading import load_config
from optimsche.get_scheduler import get_scheduler
from optimsche.group import OptimSchedulerGroup
from optimsche.lr_scheduler_adapter import as_lr_scheduler
from optimsche.optim_scheduler import OptimScheduler
from optimsche.speechain import ExponentDecayLr, NoamLr
from optimsche.step_report import StepReport

__all__ = [
    "ExponentDecayLr",
    "NoamLr",
    "OptimScheduler",
    "OptimSchedulerGroup",
    "StepReport",
    "as_lr_scheduler",
    "build_optim_sches",
    "get_scheduler",
    "load_checkpoint",
    "load_config",
    "save_checkpoint",
]
