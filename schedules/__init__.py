"""Pure learning-rate schedules: functions of the step, polymorphic over Python numbers and
Tensors.

A schedule is any callable ``step -> lr``. Every function here takes the step first and its
hyperparameters after it. A Python ``int``/``float`` step gives a Python ``float`` (computed
with :mod:`math`); a ``torch.Tensor`` step of any shape and dtype gives a Tensor of that shape
(integer steps are computed in ``float64``), elementwise and without branching on values, so
``torch.func.vmap`` and ``torch.compile(fullgraph=True)`` work.

Negative steps are treated as step 0: every schedule holds its initial value before the
start. Past its horizon a schedule holds its final value (periodic ones keep cycling).
"""

from schedules.accumulate import accumulate
from schedules.clamp import clamp
from schedules.constant import constant
from schedules.cosine import cosine
from schedules.cosine_restarts import cosine_restarts
from schedules.cyclic import cyclic
from schedules.exponential import exponential
from schedules.inverse_sqrt import inverse_sqrt
from schedules.join import join
from schedules.linear import linear
from schedules.multiply import multiply
from schedules.multistep import multistep
from schedules.noam import noam
from schedules.one_cycle import one_cycle
from schedules.piecewise_constant import piecewise_constant
from schedules.piecewise_linear import piecewise_linear
from schedules.plateau_state import PlateauState
from schedules.polynomial import polynomial
from schedules.reduce_on_plateau import reduce_on_plateau
from schedules.scale import scale
from schedules.step_arithmetic import is_update_step, real_step
from schedules.step_decay import step_decay
from schedules.stretch import stretch
from schedules.tri_stage import tri_stage
from schedules.warmup import warmup
from schedules.warmup_cosine import warmup_cosine
from schedules.warmup_stable_decay import warmup_stable_decay

__all__ = [
    "PlateauState",
    "accumulate",
    "clamp",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "inverse_sqrt",
    "is_update_step",
    "join",
    "linear",
    "multiply",
    "multistep",
    "noam",
    "one_cycle",
    "piecewise_constant",
    "piecewise_linear",
    "polynomial",
    "real_step",
    "reduce_on_plateau",
    "scale",
    "step_decay",
    "stretch",
    "tri_stage",
    "warmup",
    "warmup_cosine",
    "warmup_stable_decay",
]
