"""Decay by ``gamma`` every ``every`` steps.

Reference: torch ``StepLR(step_size, gamma)`` is ``step_decay(s, start=base_lr,
every=step_size, gamma=gamma)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from schedules import scalar_math
from schedules.leaf_family import Family
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, times


class _Recipe(NamedTuple):
    start: Checked
    every: float
    gamma: float


def _scalar(step: float, r: _Recipe) -> float:
    start, every, gamma = r
    if step <= 0:
        return start
    ratio = step / every
    decays = math.floor(ratio) if ratio < math.inf else math.inf
    return start * scalar_math.power(gamma, decays)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    start, every, gamma = r
    decays = float_steps(step).div_(every).floor_()
    return times(start, torch.pow(gamma, decays))


FAMILY = Family(
    _Recipe,  # the checked hyperparameters are the recipe
    _scalar,
    _tensor,
    values=("start",),
    lengths=("every",),
    horizon=None,
    extent=lambda h: 4.0 * h["every"],
    checks={"start": "value", "every": "positive", "gamma": "positive"},
)


@FAMILY.leaf
def step_decay(step: S, start: Value, every: float, gamma: float) -> S:
    """``start · gamma ** floor(step / every)``.

    ``every`` and ``gamma`` must be > 0. ``gamma < 1`` decays (the usual case, e.g. 0.1),
    ``gamma = 1`` is constant, ``gamma > 1`` grows and overflows to ``inf`` at very large
    steps, as in torch.
    """
    return FAMILY.call(
        step, (start, every, gamma, start.__class__, every.__class__, gamma.__class__)
    )
