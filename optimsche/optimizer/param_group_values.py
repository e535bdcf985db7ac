"""The one place that writes a value into a param group of a torch optimizer.

A param-group entry (``lr``, ``weight_decay``, ``momentum``, an entry of ``betas``) is either a
Python number or a Tensor. A Tensor entry is kept the same tensor object and overwritten in
place (``fill_`` / ``copy_`` under ``no_grad``): a ``torch.compile``d optimizer step guards on
that object, so it never recompiles when the value changes (torch's
``LRScheduler._update_lr`` does the same for the lr). A number entry is replaced by a float.

An entry of a tuple entry (``betas[0]``: ``index=0`` of ``betas``) is written the same way: a
Tensor element is filled in place (the tuple stays the same object), a number element gives
a new tuple with that element replaced, ``(beta1', beta2)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def _write_tensor(current: Tensor, value: float | Tensor) -> None:
    with torch.no_grad():
        if isinstance(value, Tensor):
            current.copy_(value)
        else:
            current.fill_(value)


def write_group_value(
    group: dict[str, Any], key: str, value: float | Tensor, index: int | None = None
) -> None:
    """Set ``group[key]`` (with ``index``: element ``index`` of the tuple ``group[key]``) to
    ``value``: in place when the entry is a Tensor, else as a float.

    ``value`` may be a float or a Tensor (a checkpoint's entry); a Tensor entry receives it
    with ``copy_`` (a Tensor value) or ``fill_`` (a number), a number entry becomes
    ``float(value)``.
    """
    current = group[key]
    if index is not None:
        element = current[index]
        if isinstance(element, Tensor):
            _write_tensor(element, value)
        else:
            group[key] = (*current[:index], float(value), *current[index + 1 :])
    elif isinstance(current, Tensor):
        _write_tensor(current, value)
    else:
        group[key] = float(value)


def write_group_values(
    groups: Sequence[dict[str, Any]],
    key: str,
    factors: Sequence[float],
    values: float | Sequence[float],
    index: int | None = None,
) -> None:
    """:func:`write_group_value` of ``factors[g] · value`` into every ``groups[g]``, where
    ``value`` is ``values`` (one number for all groups) or ``values[g]``: the loop the shell
    runs each update, in one pass, with a fast path for the common entries (a float; a pair
    of floats, ``index=0``). ``groups`` and ``factors`` have the same length."""
    if not isinstance(values, int | float):
        for group, factor, value in zip(groups, factors, values, strict=True):
            write_group_value(group, key, factor * value, index)
    elif index is None:
        for group, factor in zip(groups, factors, strict=True):
            if group[key].__class__ is float:
                group[key] = factor * values
            else:
                write_group_value(group, key, factor * values)
    elif index == 0:
        for group, factor in zip(groups, factors, strict=True):
            current = group[key]
            if current.__class__ is tuple and len(current) == 2 and current[0].__class__ is float:
                group[key] = (factor * values, current[1])
            else:
                write_group_value(group, key, factor * values, 0)
    else:
        for group, factor in zip(groups, factors, strict=True):
            write_group_value(group, key, factor * values, index)


def restore_group_entry(group: dict[str, Any], key: str, own: object) -> None:
    """After ``optimizer.load_state_dict`` replaced ``group[key]`` by the checkpoint's entry:
    put back ``own`` (the entry before the load) when it holds Tensors, holding the loaded
    value, so that a Tensor entry stays the same tensor object (a compiled step keeps its
    graph). A number entry keeps the loaded value as it is."""
    loaded = group[key]
    if isinstance(own, Tensor):
        replace_group_entry(group, key, own)
        write_group_value(group, key, loaded)
    elif isinstance(own, tuple) and any(isinstance(e, Tensor) for e in own):
        if not isinstance(loaded, tuple | list) or len(loaded) != len(own):
            return  # another shape of entry: the loaded one stands
        for mine, element in zip(own, loaded, strict=True):
            if isinstance(mine, Tensor):
                _write_tensor(mine, element)
        restored = tuple(
            mine if isinstance(mine, Tensor) else element
            for mine, element in zip(own, loaded, strict=True)
        )
        same = all(a is b for a, b in zip(restored, own, strict=True))
        replace_group_entry(group, key, own if same else restored)


def replace_group_entry(group: dict[str, Any], key: str, entry: object) -> None:
    """Make ``entry`` itself ``group[key]``, replacing the entry object (not its value).

    For setting up and restoring entries only: the 0-dim Tensor lr a compiled step needs
    (:func:`~optimsche.optimizer.compiled_step.tensor_lrs_`), and the shell's own Tensor lr
    put back after ``optimizer.load_state_dict`` replaced the group dicts (a tuple of Tensor
    betas too). Every value written
    while training goes through :func:`write_group_value`.
    """
    group[key] = entry
