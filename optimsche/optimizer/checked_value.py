"""The check a scheduled value passes before the shell writes it into a param group.

Every value a schedule gives for a param-group entry (the lr, and any scheduled
hyperparameter) is checked here, on the host, before any parameter, optimizer state or param
group changes: it must be one real number (a Python or numpy number, or a one-element
Tensor), finite and ``>= 0``. A NaN, an infinity or a negative lr would otherwise be applied
silently (a negative lr is gradient *ascent*); ``None`` or a Tensor of several elements would
fail deep inside ``float()`` with a message that names neither the schedule nor the step.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from schedules.combinator_fields import schedule_repr
from schedules.number_text import number_text


def describe_schedule(schedule: object) -> str:
    """The schedule as messages name it: a string as given, else its readable repr."""
    return schedule if isinstance(schedule, str) else schedule_repr(schedule)


def check_value(key: str, value: object, *, schedule: object, t: object) -> float:
    """``value`` as a float, after checking it is a finite real number ``>= 0``.

    ``key`` names the entry (``"lr"``, ``"weight_decay"``), ``schedule`` what gave the value
    (a schedule, or a string such as ``"NoamLr.update_lr"``), ``t`` the clock value it was
    asked for (the real step). A failure is a ``ValueError`` naming all four::

        lr: the schedule cosine(...) gave nan at step 7; a scheduled value must be a
        finite number >= 0

    A one-element Tensor is read with ``float()`` (a device sync for a device tensor:
    schedules evaluated on the host give Python floats and cost none).
    """
    number: float | None = None
    if isinstance(value, Tensor):
        if value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool:
            number = float(value)
        else:
            got = f"a Tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
            raise ValueError(
                f"{key}: the schedule {describe_schedule(schedule)} gave {got} at step "
                f"{number_text(t)}; a scheduled value must be one number (a float, or a "
                f"one-element Tensor)"
            )
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    if number is None:
        raise ValueError(
            f"{key}: the schedule {describe_schedule(schedule)} gave {type(value).__name__} "
            f"{value!r} at step {number_text(t)}; a scheduled value must be a finite number >= 0"
        )
    if not math.isfinite(number) or number < 0:
        raise ValueError(
            f"{key}: the schedule {describe_schedule(schedule)} gave {number_text(number)} at "
            f"step {number_text(t)}; a scheduled value must be a finite number >= 0"
        )
    return number
