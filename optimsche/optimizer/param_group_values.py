"""The one place that writes a value into a param group of a torch optimizer.

A param-group entry (``lr``, ``weight_decay``, ``momentum``, an entry of ``betas``) is either a
Python number or a Tensor. A Tensor entry is kept the same tensor object and overwritten in
place (``fill_`` / ``copy_`` under ``no_grad``): a ``torch.compile``d optimizer step guards on
that object, so it never recompiles when the value changes (torch's
``LRScheduler._update_lr`` does the same for the lr). A number entry is replaced by a float.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def write_group_value(group: dict[str, Any], key: str, value: float | Tensor) -> None:
    """Set ``group[key]`` to ``value``: in place when the entry is a Tensor, else as a float.

    ``value`` may be a float or a Tensor (a checkpoint's entry); a Tensor entry receives it
    with ``copy_`` (a Tensor value) or ``fill_`` (a number), a number entry becomes
    ``float(value)``.
    """
    current = group[key]
    if isinstance(current, Tensor):
        with torch.no_grad():
            if isinstance(value, Tensor):
                current.copy_(value)
            else:
                current.fill_(value)
    else:
        group[key] = float(value)


def replace_group_entry(group: dict[str, Any], key: str, entry: float | Tensor) -> None:
    """Make ``entry`` itself ``group[key]``, replacing the entry object (not its value).

    For setting up and restoring entries only: the 0-dim Tensor lr a compiled step needs
    (:func:`~optimsche.optimizer.compiled_step.tensor_lrs_`), and the shell's own Tensor lr
    put back after ``optimizer.load_state_dict`` replaced the group dicts. Every value written
    while training goes through :func:`write_group_value`.
    """
    group[key] = entry
