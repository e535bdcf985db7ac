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

from schedules.linear import linear
from schedules.step_arithmetic import is_update_step, real_step

__all__ = [
    "is_update_step",
    "linear",
    "real_step",
]
