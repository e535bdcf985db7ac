"""How one scheduled value reaches every param group: torch ``LambdaLR``'s rule.

A schedule gives the value of the *reference* group, the first param group whose initial
value of the entry is not 0; every group ``g`` gets ``factor_g · value`` with::

    factor_g = group_g["<key>_scale"]          if the group has that entry (lr_scale, ...)
             = initial_g / initial_reference   otherwise (the reference's own factor is 1)
             = 1                                when every group starts at 0

so a head at 10× the backbone's lr stays at 10×, and a group at 0 (frozen, or a no-decay
group's weight decay) stays at 0, first group or not. With one schedule per param group
(a sequence), group ``g`` gets ``factor_g · schedule_g(t)`` where ``factor_g`` is its
``<key>_scale`` or 1.

The factors are computed once, from the initial values, when the rule is made; a checkpoint
records them (:meth:`GroupRule.with_factors` restores them), so a resumed run keeps its
ratios although the groups' values have changed since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from optimsche.optimizer.group_entry import GroupEntry
from optimsche.optimizer.param_group_values import write_group_values
from schedules.validation import require_non_negative


@attrs.frozen
class GroupRule:
    """The factors of one scheduled entry, one per param group (see the module doc).

    ``reference`` is the index of the reference group (``None`` when every group started at
    0, or with one schedule per group). ``per_group``: one schedule per param group.
    """

    entry: GroupEntry
    factors: tuple[float, ...]
    reference: int | None
    per_group: bool

    @property
    def key(self) -> str:
        """The scheduled key (``"lr"``, ``"betas[0]"``)."""
        return self.entry.key

    def values(self, scheduled: Sequence[float]) -> list[float]:
        """The value of every group: ``factor_g · scheduled[0]`` for one schedule,
        ``factor_g · scheduled[g]`` for one schedule per group."""
        if self.per_group:
            return [f * v for f, v in zip(self.factors, scheduled, strict=True)]
        value = scheduled[0]
        return [f * value for f in self.factors]

    def first_value(self, scheduled: Sequence[float]) -> float:
        """What :meth:`write` gives the first param group: ``factor_0 · scheduled[0]``."""
        return self.factors[0] * scheduled[0]

    def write(self, groups: Sequence[dict[str, Any]], scheduled: Sequence[float]) -> None:
        """Write :meth:`values` of ``scheduled`` (checked values: one, or one per group) into
        ``groups``, through the one writer, in one pass."""
        if len(scheduled) != (len(self.factors) if self.per_group else 1):
            raise ValueError(
                f"{self.key!r}: {len(scheduled)} scheduled value(s) for "
                f"{'one per' if self.per_group else 'one schedule over'} "
                f"{len(self.factors)} param group(s)"
            )
        values = scheduled if self.per_group else scheduled[0]
        write_group_values(groups, self.entry.name, self.factors, values, self.entry.index)

    def with_factors(self, factors: object, where: str) -> GroupRule:
        """This rule with ``factors`` (a checkpoint's), checked: one finite number >= 0 per
        group, else a ``ValueError`` starting with ``where``."""
        if not isinstance(factors, list | tuple) or len(factors) != len(self.factors):
            count = len(factors) if isinstance(factors, list | tuple) else factors
            raise ValueError(
                f"{where}: {self.key!r} needs {len(self.factors)} factor(s), one per param "
                f"group, got {count!r}"
            )
        checked = tuple(
            require_non_negative(f"{where}: {self.key!r} factor of param group {g}", f)
            for g, f in enumerate(factors)
        )
        return attrs.evolve(self, factors=checked)


def _scale(group: Mapping[str, Any], entry: GroupEntry, g: int, role: str) -> float | None:
    if entry.scale_key not in group:
        return None
    value = group[entry.scale_key]
    try:
        return require_non_negative(f"{role}: param group {g}: {entry.scale_key}", value)
    except ValueError as error:
        raise ValueError(f"{error} (a group's factor for {entry.key!r})") from None


def group_rule(
    entry: GroupEntry,
    groups: Sequence[Mapping[str, Any]],
    *,
    per_group: bool,
    role: str,
    initial: Sequence[object] | None = None,
) -> GroupRule:
    """The rule of ``entry`` over ``groups``, from their initial values (``initial``, one per
    group; default: the entries' values now). A ``<key>_scale`` that is not a finite number
    >= 0, or an initial value that is negative or not finite, is a ``ValueError`` naming the
    group (``role`` says what asked)."""
    scales = [_scale(group, entry, g, role) for g, group in enumerate(groups)]
    if initial is None:
        initial = [entry.read(group) for group in groups]
    if len(initial) != len(groups):
        raise ValueError(
            f"{role}: {len(initial)} initial value(s) of {entry.key!r} for {len(groups)} "
            f"param groups"
        )
    starts = [
        require_non_negative(f"{role}: param group {g}'s initial {entry.key}", float(v))  # type: ignore[arg-type]
        for g, v in enumerate(initial)
    ]
    if per_group:
        factors = tuple(1.0 if s is None else s for s in scales)
        return GroupRule(entry=entry, factors=factors, reference=None, per_group=True)
    reference = next((g for g, start in enumerate(starts) if start != 0.0), None)
    if reference is None:
        ratios = [1.0] * len(starts)
    else:
        base = starts[reference]
        ratios = [1.0 if g == reference else start / base for g, start in enumerate(starts)]
    factors = tuple(r if s is None else s for r, s in zip(ratios, scales, strict=True))
    return GroupRule(entry=entry, factors=factors, reference=reference, per_group=False)
