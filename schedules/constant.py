"""A schedule that never changes.

Reference: optax ``constant_schedule(value)``; torch ``ConstantLR`` with ``factor=1``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.step_input import steps_dtype
from schedules.tensor_values import Checked, Value, plus


class _Recipe(NamedTuple):
    value: Checked


def _scalar(step: float, r: _Recipe) -> float:
    return r.value


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    dtype = steps_dtype(step)
    if r.value.__class__ is float:
        return torch.full_like(step, r.value, dtype=dtype)
    return plus(r.value, torch.zeros_like(step, dtype=dtype))


FAMILY = Family(
    _Recipe,  # the checked value is the recipe
    _scalar,
    _tensor,
    values=("value",),
    horizon=lambda h: 0.0,
    extent=lambda h: 100.0,
    checks={"value": "value"},
)


@FAMILY.leaf
def constant(step: S, value: Value) -> S:
    """``value`` at every step.

    A Python number step gives a Python ``float``; a Tensor step gives a Tensor of its shape
    (``float64`` for integer steps, the step's dtype for floating steps) filled with ``value``
    (broadcast with ``value`` when it is a Tensor).
    """
    return FAMILY.call(step, (value, value.__class__))
