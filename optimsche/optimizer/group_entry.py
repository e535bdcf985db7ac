"""Which param-group entry a scheduled key names: ``"weight_decay"`` or ``"betas[0]"``.

A key is the name of a param-group entry holding a number (or a 0-dim Tensor), or
``name[i]``: element ``i`` of a tuple entry such as Adam's ``betas``. Its explicit per-group
factor is the group entry ``<key>_scale``: ``lr_scale``, ``weight_decay_scale``,
``betas[0]_scale`` (the key as written, then ``_scale``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from torch import Tensor

from schedules.close_matches import did_you_mean

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\])?")
_NOT_SCHEDULABLE = frozenset({"params", "param_names", "initial_lr"})


@attrs.frozen
class GroupEntry:
    """The entry ``name`` of a param group (with ``index``: element ``index`` of the tuple
    ``group[name]``), scheduled under ``key``."""

    key: str
    name: str
    index: int | None = None

    @property
    def scale_key(self) -> str:
        """The param-group entry that sets a group's factor: ``<key>_scale``."""
        return f"{self.key}_scale"

    def read(self, group: Mapping[str, Any]) -> float:
        """The entry's value in ``group``, as a float."""
        value = group[self.name]
        return float(value if self.index is None else value[self.index])


def _is_value(value: object) -> bool:
    if isinstance(value, Tensor):
        return value.numel() == 1
    return isinstance(value, int | float) and not isinstance(value, bool)


def schedulable_keys(groups: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys that can be scheduled in these param groups (those of the first group that
    every group has): number entries, and ``name[i]`` for the elements of tuple entries."""
    if not groups:
        return []
    keys: list[str] = []
    for name, value in groups[0].items():
        if name in _NOT_SCHEDULABLE or name.endswith("_scale"):
            continue
        if not all(name in group for group in groups):
            continue
        if _is_value(value):
            keys.append(name)
        elif isinstance(value, tuple | list) and value and all(_is_value(v) for v in value):
            keys.extend(f"{name}[{i}]" for i in range(len(value)))
    return keys


def group_entry(key: object, groups: Sequence[Mapping[str, Any]], *, role: str) -> GroupEntry:
    """The :class:`GroupEntry` that ``key`` names in ``groups``, checked: a ``ValueError``
    (``role`` says what asked, e.g. ``"hyperparameters"``) names the key and lists the
    schedulable keys of the optimizer when the key is not one of them."""
    valid = schedulable_keys(groups)
    listing = f"(valid keys of this optimizer: {', '.join(valid) or 'none'})"
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise ValueError(
            f"{role}: {key!r} is not a param-group key such as 'weight_decay' or 'betas[0]' "
            f"{listing}"
        )
    assert isinstance(key, str)
    name, digits = match.group(1), match.group(2)
    missing = [g for g, group in enumerate(groups) if name not in group]
    if missing:
        raise ValueError(
            f"{role}: unknown key {key!r}: param group {missing[0]} has no entry "
            f"{name!r}{did_you_mean(key, valid)} {listing}"
        )
    index = None if digits is None else int(digits)
    for g, group in enumerate(groups):
        value = group[name]
        if index is None:
            if not _is_value(value):
                raise ValueError(
                    f"{role}: {key!r} cannot be scheduled: param group {g} holds "
                    f"{value!r}, not a number{_hint_index(value, key)} {listing}"
                )
        elif not isinstance(value, tuple | list):
            raise ValueError(
                f"{role}: {key!r}: param group {g}'s {name!r} is {value!r}, not a tuple to "
                f"index; schedule {name!r} itself {listing}"
            )
        elif index >= len(value):
            raise ValueError(
                f"{role}: {key!r}: index {index} is out of range, param group {g}'s {name!r} "
                f"has {len(value)} entries (valid: "
                f"{', '.join(f'{name}[{i}]' for i in range(len(value)))})"
            )
        elif not _is_value(value[index]):
            raise ValueError(
                f"{role}: {key!r} cannot be scheduled: param group {g} holds "
                f"{value[index]!r}, not a number {listing}"
            )
    return GroupEntry(key=key, name=name, index=index)


def _hint_index(value: object, key: str) -> str:
    if isinstance(value, tuple | list) and value:
        return f" (a tuple: schedule one element, e.g. '{key}[0]')"
    return ""
