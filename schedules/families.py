"""``FAMILIES``: the one registry of the built-in leaf schedules.

``FAMILIES`` maps each leaf's name to its :class:`~schedules.leaf_family.Family`, in the order
of the design table. Everything that needs to know the leaves derives from it instead of
keeping a list of its own: the hypothesis strategies of :mod:`schedules.testing`, the tests,
:func:`schedules.bind`, and (their intended use) the config's type lookup and the CLI's
expressions and horizons::

    from schedules import FAMILIES

    family = FAMILIES["warmup_cosine"]          # KeyError for an unknown name: check first
    family.function                              # schedules.warmup_cosine
    family.parameters                            # ('peak', 'warmup', 'steps', 'start', ...)
    family.required                              # ('peak', 'warmup', 'steps')
    family.defaults                              # {'start': 0.0, 'final': 0.0, ...}
    family.values                                # ('peak', 'start', 'final'): may be Tensors
    family.lengths                               # ('warmup', 'steps'): step counts
    family.settings                              # ('exponent',): rates, exponents, modes
    family.resolve({"peak": 1e-3, ...})          # complete argument tuple; unknown or missing
                                                 # names: ValueError with close matches
    family.horizon_of({"peak": 1e-3, "warmup": 100, "steps": 1000})  # 1000.0
    family.extent_of({...})                      # steps worth showing in a plot
    family.horizon is None                       # the family never settles (periodic, or
                                                 # decaying for ever: noam, step_decay, ...)
    family_of(schedules.cosine)                  # the Family of a leaf function, or None

``horizon_of`` is the step from which the value holds for ever (``None`` when the family, or
these hyperparameters, have none: ``exponential`` without ``end``). ``extent_of`` is the
horizon when there is one, else a few warm-ups or periods: what ``optimsche show``/``plot``
should draw when not told how many steps. Both check the hyperparameters first (the leaf's
``ValueError``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from schedules.constant import FAMILY as CONSTANT
from schedules.cosine import FAMILY as COSINE
from schedules.cosine_restarts import FAMILY as COSINE_RESTARTS
from schedules.cyclic import FAMILY as CYCLIC
from schedules.exponential import FAMILY as EXPONENTIAL
from schedules.inverse_sqrt import FAMILY as INVERSE_SQRT
from schedules.leaf_family import Family
from schedules.linear import FAMILY as LINEAR
from schedules.multistep import FAMILY as MULTISTEP
from schedules.noam import FAMILY as NOAM
from schedules.one_cycle import FAMILY as ONE_CYCLE
from schedules.piecewise_constant import FAMILY as PIECEWISE_CONSTANT
from schedules.piecewise_linear import FAMILY as PIECEWISE_LINEAR
from schedules.polynomial import FAMILY as POLYNOMIAL
from schedules.power_decay import FAMILY as POWER_DECAY
from schedules.step_decay import FAMILY as STEP_DECAY
from schedules.tanh_decay import FAMILY as TANH_DECAY
from schedules.tri_stage import FAMILY as TRI_STAGE
from schedules.warmup_cosine import FAMILY as WARMUP_COSINE
from schedules.warmup_stable_decay import FAMILY as WARMUP_STABLE_DECAY

_IN_TABLE_ORDER = (
    CONSTANT,
    LINEAR,
    POLYNOMIAL,
    EXPONENTIAL,
    STEP_DECAY,
    MULTISTEP,
    COSINE,
    WARMUP_COSINE,
    COSINE_RESTARTS,
    NOAM,
    INVERSE_SQRT,
    TRI_STAGE,
    WARMUP_STABLE_DECAY,
    ONE_CYCLE,
    CYCLIC,
    PIECEWISE_CONSTANT,
    PIECEWISE_LINEAR,
    TANH_DECAY,  # the peer families (issue 9) after the design table's
    POWER_DECAY,  # the shapes of issue 18
)

FAMILIES: Mapping[str, Family] = MappingProxyType(
    {family.name: family for family in _IN_TABLE_ORDER}
)
"""Every built-in leaf schedule by name, in the order of the design table (read-only)."""

_BY_FUNCTION: dict[Callable[..., Any], Family] = {f.function: f for f in FAMILIES.values()}


def family_of(function: object) -> Family | None:
    """The :class:`Family` whose leaf function is ``function``, or ``None``."""
    try:
        return _BY_FUNCTION.get(function)  # type: ignore[call-overload, no-any-return]
    except TypeError:  # unhashable
        return None
