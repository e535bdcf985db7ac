"""Reduce on plateau in the shell: the ``plateau=`` argument and its checkpointed state.

The rule is the pure :class:`schedules.reduce_on_plateau` (``init() -> PlateauState``,
``update(state, metric) -> PlateauState``). An OptimScheduler built with ``plateau=`` keeps its
state, feeds it each metric given to ``observe(metric)``, and multiplies the lr of every
update by ``state.scale``:

    lr = ft_factor · update_lr(t) · state.scale

so ``schedule=warmup(...)`` plus ``plateau=`` is "warmup, then reduce on plateau". The scale
changes only in ``observe``; the next update applies it.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from schedules.close_matches import did_you_mean
from schedules.reduce_on_plateau import reduce_on_plateau

PLATEAU_ARGUMENTS = tuple(field.name for field in attrs.fields(reduce_on_plateau))
"""The arguments of :class:`schedules.reduce_on_plateau`, the keys a ``plateau`` dict takes."""


def resolve_plateau(plateau: object) -> reduce_on_plateau | None:
    """``plateau=`` as a rule: ``None``, a :class:`~schedules.reduce_on_plateau` rule, or a
    dict of its arguments (``{"factor": 0.5, "patience": 2}``). Anything else, an unknown key
    or a bad value is a ``ValueError`` naming it."""
    if plateau is None or isinstance(plateau, reduce_on_plateau):
        return plateau
    if not isinstance(plateau, Mapping):
        raise ValueError(
            f"plateau must be a schedules.reduce_on_plateau rule or a dict of its arguments "
            f"({', '.join(PLATEAU_ARGUMENTS)}), got {type(plateau).__name__}: {plateau!r}"
        )
    unknown = [key for key in plateau if key not in PLATEAU_ARGUMENTS]
    if unknown:
        raise ValueError(
            f"plateau: unknown key {unknown[0]!r}{did_you_mean(str(unknown[0]), PLATEAU_ARGUMENTS)}"
            f" (valid keys: {', '.join(PLATEAU_ARGUMENTS)})"
        )
    try:
        return reduce_on_plateau(**plateau)
    except ValueError as error:
        raise ValueError(f"plateau: {error}") from None
