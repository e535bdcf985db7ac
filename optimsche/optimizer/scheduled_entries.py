"""The param-group entries a shell schedules besides the lr: ``hyperparameters=``.

``hyperparameters={"weight_decay": s, "momentum": s, "betas[0]": s}`` maps a param-group key
(:mod:`optimsche.optimizer.group_entry`) to a schedule ``t -> value``, or to a sequence of
schedules, one per param group. Each update, every schedule is evaluated at the shell's
clock value and checked (:func:`~optimsche.optimizer.checked_value.check_value`), and the
values reach every group by the per-group rule of :mod:`optimsche.optimizer.group_rule`
(ratios to the reference group kept, a group at 0 stays at 0, ``<key>_scale`` entries).
``ft_factor`` applies to the lr only; the lr itself is ``schedule=``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from optimsche.optimizer.checked_value import check_value
from optimsche.optimizer.group_entry import group_entry
from optimsche.optimizer.group_rule import GroupRule, group_rule
from schedules import bound_or_same

Schedule = Callable[[Any], Any]

ROLE = "hyperparameters"


@attrs.frozen
class ScheduledEntry:
    """One scheduled key: its per-group ``rule`` and its ``schedules`` (one, or one per
    param group)."""

    rule: GroupRule
    schedules: tuple[Schedule, ...]

    @property
    def key(self) -> str:
        """The scheduled key, as given."""
        return self.rule.key

    def scheduled(self, time: Any) -> list[float]:
        """Every schedule's value at ``time``, checked (finite, >= 0)."""
        key = self.rule.key
        return [check_value(key, s(time), schedule=s, t=time) for s in self.schedules]

    def with_rule(self, rule: GroupRule) -> ScheduledEntry:
        """This entry with ``rule`` (a checkpoint's factors)."""
        return attrs.evolve(self, rule=rule)


def schedule_sources(
    key: str, schedule: object, group_count: int, *, role: str
) -> tuple[tuple[Schedule, ...], bool]:
    """``schedule`` as ``(schedules, per_group)``: one callable, or a list/tuple of callables
    with exactly one per param group; anything else is a ``ValueError`` naming ``key``.

    A ``functools.partial`` of a built-in leaf becomes its bound form
    (:func:`schedules.bound_or_same`: the same values, its hyperparameters checked here, once,
    instead of at every step); a bad hyperparameter is a ``ValueError`` naming ``key`` and,
    for a list, the param group."""
    if callable(schedule):
        return (_bound(schedule, f"{role}: {key!r}"),), False
    if isinstance(schedule, list | tuple):
        if len(schedule) != group_count:
            raise ValueError(
                f"{role}: {key!r} has {len(schedule)} schedule(s) but the optimizer has "
                f"{group_count} param group(s): give one schedule per param group, or one "
                f"schedule for all of them"
            )
        for g, item in enumerate(schedule):
            if not callable(item):
                raise ValueError(
                    f"{role}: {key!r}: the schedule of param group {g} must be a callable "
                    f"t -> value, got {item!r}"
                )
        bound = tuple(
            _bound(item, f"{role}: {key!r}: the schedule of param group {g}")
            for g, item in enumerate(schedule)
        )
        return bound, True
    raise ValueError(
        f"{role}: {key!r} must be a schedule (a callable t -> value) or a list of them, one "
        f"per param group, got {schedule!r}"
    )


def _bound(schedule: Schedule, where: str) -> Schedule:
    """:func:`schedules.bound_or_same` of ``schedule``, its ``ValueError`` prefixed by
    ``where``."""
    try:
        bound: Schedule = bound_or_same(schedule)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return bound


def scheduled_entries(
    hyperparameters: object, groups: Sequence[Mapping[str, Any]]
) -> tuple[ScheduledEntry, ...]:
    """``hyperparameters`` (``None`` or a mapping key -> schedule(s)) checked against
    ``groups`` into :class:`ScheduledEntry` records; changes nothing."""
    if hyperparameters is None:
        return ()
    if not isinstance(hyperparameters, Mapping):
        raise ValueError(
            f"{ROLE} must be a dict of param-group keys to schedules, such as "
            f"{{'weight_decay': schedule}}, got {hyperparameters!r}"
        )
    entries: list[ScheduledEntry] = []
    seen: dict[tuple[str, int | None], str] = {}
    for key, schedule in hyperparameters.items():
        if key == "lr":
            raise ValueError(
                f"{ROLE}: 'lr' is scheduled by schedule= (or update_lr), where ft_factor "
                f"applies; give the lr schedule there"
            )
        entry = group_entry(key, groups, role=ROLE)
        where = (entry.name, entry.index)
        if where in seen:
            raise ValueError(f"{ROLE}: {key!r} and {seen[where]!r} name the same entry")
        seen[where] = entry.key
        sources, per_group = schedule_sources(entry.key, schedule, len(groups), role=ROLE)
        rule = group_rule(entry, groups, per_group=per_group, role=ROLE)
        entries.append(ScheduledEntry(rule=rule, schedules=sources))
    return tuple(entries)
