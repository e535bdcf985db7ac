"""Pure learning-rate schedules: functions of the step, polymorphic over Python numbers and
Tensors.

A schedule is any callable ``step -> lr``. Every function here takes the step first and its
hyperparameters after it. A Python ``int``/``float`` step gives a Python ``float`` (computed
with :mod:`math`); a ``torch.Tensor`` step of any shape and dtype gives a Tensor of that shape
(integer steps are computed in ``float64``), elementwise and without branching on values, so
``torch.func.vmap`` and ``torch.compile(fullgraph=True)`` work.

Negative steps are treated as step 0: every schedule holds its initial value before the
start. Past its horizon a schedule holds its final value (periodic ones keep cycling). A NaN
Python step is a ``ValueError``; numpy integers and floats are accepted as numbers.

Hyperparameters are checked at every direct call (``cosine(s, peak=0.1, steps=1000)``,
through a small cache of checked recipes); ``bind(cosine, peak=0.1, steps=1000)`` checks
them once and returns a frozen, picklable, comparable schedule that only checks its step.
``bound_or_same(schedule)`` turns a ``functools.partial`` of a built-in leaf into its bound
form. The *value* hyperparameters (``peak``, ``final``, ``start``, ``end``, ``value``,
``base``, noam's ``scale``, the entries of piecewise_constant's ``values`` and the values of
piecewise_linear's ``points``; and ``scale.factor``, ``warmup.start``, ``clamp.min/max``) may
be Tensors of any shape broadcasting with the step: the result broadcasts, ``torch.func.vmap``
over them and gradients with respect to them work. Tensor values are not range-checked (that
would cost a device sync). Lengths, counts, rates, exponents and modes stay Python values.

Clocks: a plain schedule reads the one clock the shell gives it. ``Time`` is the time of an
update on every clock (update, epoch, items); ``on(clock, f)`` binds a plain schedule to one
clock; ``at_time(schedule, time)`` evaluates any schedule at a ``Time``; ``clocks_of`` says
which clocks a schedule reads. The pointwise combinators (``multiply``, ``add``, ``offset``,
``scale``, ``clamp``) take clock-bound children, so ``multiply(on("update", f), on("epoch",
g))`` is one pure schedule of two clocks (``eden``, icefall's Eden, is one); the
step-arithmetic ones (``shift``, ``join``, ``stretch``, ``accumulate``, ``lr_noise``) refuse
them, naming the clock. See ``docs/clocks_and_units.md``.

``FAMILIES`` is the registry of the leaves (:mod:`schedules.families`). Every leaf module is
written in one pattern (checks into a recipe, a ``math`` formula, a torch formula, a
``Family`` entry): see :mod:`schedules.leaf_family` and ``docs/leaf_pattern.md`` for it and
for how to add a hyperparameter or a leaf. ``docs/deviations.md`` lists every deviation from
the anchor libraries.
"""

from schedules.accumulate import accumulate
from schedules.add import add, offset
from schedules.bound_schedule import BoundSchedule, bind, bound_or_same
from schedules.clamp import clamp
from schedules.constant import constant
from schedules.cosine import cosine
from schedules.cosine_restarts import cosine_restarts
from schedules.cyclic import cyclic
from schedules.eden import eden, eden2
from schedules.exponential import exponential
from schedules.families import FAMILIES, family_of
from schedules.greedy import GreedyState, greedy
from schedules.inverse_sqrt import inverse_sqrt
from schedules.join import join
from schedules.leaf_family import Family
from schedules.linear import linear
from schedules.lr_noise import lr_noise
from schedules.metric_rule import MetricRule
from schedules.multiply import multiply
from schedules.multistep import multistep
from schedules.newbob import NewBobState, newbob
from schedules.noam import noam
from schedules.one_cycle import one_cycle
from schedules.package_version import package_version as _package_version
from schedules.piecewise_constant import piecewise_constant
from schedules.piecewise_linear import piecewise_linear
from schedules.plateau_state import PlateauState
from schedules.plateau_warmup import plateau_warmup
from schedules.polynomial import polynomial
from schedules.power_decay import power_decay
from schedules.reduce_on_plateau import reduce_on_plateau
from schedules.rule_state import RuleState
from schedules.scale import scale
from schedules.shift import shift
from schedules.step_arithmetic import is_update_step, real_step
from schedules.step_decay import step_decay
from schedules.stretch import stretch
from schedules.tanh_decay import tanh_decay
from schedules.time_record import CLOCKS, Time, at_time, clocks_of, on
from schedules.transformers_shapes import transformers_schedule
from schedules.tri_stage import tri_stage
from schedules.warmup import warmup
from schedules.warmup_cosine import warmup_cosine
from schedules.warmup_stable_decay import warmup_stable_decay

__version__: str = _package_version()
"""The installed ``optimsche`` distribution's version (``"0+unknown"`` when not installed)."""

__all__ = [
    "CLOCKS",
    "FAMILIES",
    "BoundSchedule",
    "Family",
    "GreedyState",
    "MetricRule",
    "NewBobState",
    "PlateauState",
    "RuleState",
    "Time",
    "__version__",
    "accumulate",
    "add",
    "at_time",
    "bind",
    "bound_or_same",
    "clamp",
    "clocks_of",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "eden",
    "eden2",
    "exponential",
    "family_of",
    "greedy",
    "inverse_sqrt",
    "is_update_step",
    "join",
    "linear",
    "lr_noise",
    "multiply",
    "multistep",
    "newbob",
    "noam",
    "offset",
    "on",
    "one_cycle",
    "piecewise_constant",
    "piecewise_linear",
    "plateau_warmup",
    "polynomial",
    "power_decay",
    "real_step",
    "reduce_on_plateau",
    "scale",
    "shift",
    "step_decay",
    "stretch",
    "tanh_decay",
    "transformers_schedule",
    "tri_stage",
    "warmup",
    "warmup_cosine",
    "warmup_stable_decay",
]
