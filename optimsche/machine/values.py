"""``ValuesProgram``: the lr and the scheduled hyperparameters of an update, from its time.

Pure: a :class:`schedules.Time` (and the plateau scale) in, checked values out; nothing is
written until :meth:`ValuesProgram.write`, the one place they reach the param groups (through
the per-group rules of :mod:`optimsche.optimizer.group_rule`, which write with
:func:`~optimsche.optimizer.param_group_values.write_group_value`).

The lr of an update at time ``T`` is ``ft_factor · base(T) · plateau scale`` for the reference
param group, where ``base`` is, in this order:

* the subclass hook (``update_lr`` overridden, e.g. ``NoamLr``): ``hook(T.of(clock), epoch)``;
* the schedule (or one per param group): ``at_time(schedule, T)`` (a clock-aware schedule sees
  the whole ``T``, a plain one ``T.of(clock)``);
* the optimizer's initial lr (a shell with only a plateau rule).

No lr is written when neither is given (the optimizer's own lrs are kept). Each hyperparameter
is ``at_time(schedule, T)``. Every value is checked (finite, ``>= 0``) before any is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from optimsche.optimizer.checked_value import check_value, describe_schedule
from optimsche.optimizer.group_rule import GroupRule
from optimsche.optimizer.scheduled_entries import ScheduledEntry
from optimsche.update.clock import Clock
from schedules.rule_state import RuleState
from schedules.time_record import Time, at_time, clocks_of

ScheduledValues = tuple[tuple[float, ...], ...]
"""The checked values of an update: the lr's (none, one, or one per param group), then each
scheduled hyperparameter's (one, or one per param group)."""

Hook = Callable[[Any, Any], Any]
"""A subclass's ``update_lr``, called as ``hook(t, epoch_num)`` (the façade adapts the
SpeeChain signatures)."""


def _shown_time(schedule: object, time: Time) -> object:
    """The time a message names: the clock value for a plain schedule, the record else."""
    return time if clocks_of(schedule) else time.of(time.clock)


@attrs.frozen(kw_only=True)
class ValuesProgram:
    """The values of an update (module doc). ``hook_name`` names the hook in messages."""

    clock: Clock
    count_from: int
    ft_factor: float
    lr_rule: GroupRule | None
    lr_sources: tuple[Callable[[Any], Any], ...]
    hook: Hook | None
    hook_name: str
    initial_lr: float
    hyperparameters: tuple[ScheduledEntry, ...]
    epoch_required_by_hook: bool = False

    @property
    def reads(self) -> frozenset[str]:
        """The clocks the values read: the shell's own clock and those of clock-aware
        schedules (:func:`schedules.clocks_of`)."""
        sources = [*self.lr_sources, *(s for e in self.hyperparameters for s in e.schedules)]
        read = {self.clock.name}
        for source in sources:
            read |= clocks_of(source)
        return frozenset(read)

    @property
    def schedules_anything(self) -> bool:
        """Whether an update writes any value."""
        return self.lr_rule is not None or bool(self.hyperparameters)

    @property
    def known_before_sync(self) -> bool:
        """Whether an update's values can be computed before its host sync (no items clock
        read)."""
        return "items" not in self.reads

    def time(
        self,
        real_step: int,
        epoch_num: float | None,
        items_before: int | float,
        items_after: int | float,
    ) -> Time:
        """The :class:`~schedules.Time` of the update of window ``real_step``
        (:meth:`optimsche.update.clock.Clock.time`); the items are tracked when read."""
        counts = "items" in self.reads
        return self.clock.time(
            real_step=real_step,
            epoch_num=epoch_num,
            items_before=items_before if counts else None,
            items_after=items_after if counts else None,
            count_from=self.count_from,
        )

    def lrs(self, time: Time, plateau: RuleState | None) -> tuple[float, ...]:
        """The checked lr(s) at ``time`` (module doc): none, one, or one per param group."""
        rule = self.lr_rule
        if rule is None:
            return ()
        if self.hook is not None:
            t = time.of(self.clock.name)
            lr = check_value("lr", self.hook(t, time.epoch), schedule=self.hook_name, t=t)
            return (self._scaled(lr, self.hook_name, t, plateau),)
        if not self.lr_sources:
            t = time.of(self.clock.name)
            return (self._scaled(self.initial_lr, None, t, plateau),)
        values = []
        for source in self.lr_sources:
            shown = _shown_time(source, time)
            lr = check_value("lr", at_time(source, time), schedule=source, t=shown)
            values.append(self._scaled(lr, source, shown, plateau))
        return tuple(values if rule.per_group else values[:1])

    def _scaled(self, lr: float, source: object, t: object, plateau: RuleState | None) -> float:
        """``ft_factor · lr · plateau scale``, checked (``source`` gave ``lr`` at ``t``)."""
        factor = self.ft_factor
        described = f"ft_factor={self.ft_factor!r} · "
        if plateau is not None:
            factor *= plateau.scale
            described += f"plateau scale={plateau.scale!r} · "
        if factor == 1.0:
            return lr
        return check_value("lr", factor * lr, schedule=described + describe_schedule(source), t=t)

    def values(self, time: Time, plateau: RuleState | None) -> ScheduledValues:
        """Every value of an update at ``time``, checked, nothing written: the lr(s), then each
        hyperparameter's."""
        entries = tuple(
            tuple(
                check_value(e.key, at_time(s, time), schedule=s, t=_shown_time(s, time))
                for s in e.schedules
            )
            for e in self.hyperparameters
        )
        return (self.lrs(time, plateau), *entries)

    def write(self, groups: Sequence[dict[str, Any]], values: ScheduledValues) -> float | None:
        """Write checked ``values`` into ``groups`` by their per-group rules; the lr the first
        group got (``None`` when the lr is not scheduled)."""
        lrs, *hyperparameters = values
        lr = None
        rule = self.lr_rule
        if rule is not None:
            rule.write(groups, lrs)
            lr = rule.first_value(lrs)
        for entry, scheduled in zip(self.hyperparameters, hyperparameters, strict=True):
            entry.rule.write(groups, scheduled)
        return lr

    def group_rules(self) -> list[GroupRule]:
        """The per-group rules of every scheduled key: the lr's (when scheduled) first."""
        rules = [] if self.lr_rule is None else [self.lr_rule]
        return rules + [entry.rule for entry in self.hyperparameters]

    def with_factors(self, saved: Mapping[str, Any] | None) -> ValuesProgram:
        """This program with a checkpoint's per-group factors (``saved``: key -> factors, one
        per param group, checked by the checkpoint's reader; keys not scheduled here are
        ignored, keys it lacks keep their factors)."""
        if saved is None:
            return self
        where = "OptimScheduler.load_state_dict: group_factors"
        lr_rule = self.lr_rule
        if lr_rule is not None and "lr" in saved:
            lr_rule = lr_rule.with_factors(saved["lr"], where)
        entries = tuple(
            entry.with_rule(entry.rule.with_factors(saved[entry.key], where))
            if entry.key in saved
            else entry
            for entry in self.hyperparameters
        )
        return attrs.evolve(self, lr_rule=lr_rule, hyperparameters=entries)
