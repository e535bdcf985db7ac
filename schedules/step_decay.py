"""Decay by ``gamma`` every ``every`` steps.

Reference: torch ``StepLR(step_size, gamma)`` is ``step_decay(s, start=base_lr,
every=step_size, gamma=gamma)``.
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number, require_positive


def step_decay(step: S, start: float, every: float, gamma: float) -> S:
    """``start · gamma ** floor(step / every)``.

    ``every`` and ``gamma`` must be > 0. ``gamma < 1`` decays (the usual case, e.g. 0.1),
    ``gamma = 1`` is constant, ``gamma > 1`` grows and overflows to ``inf`` at very large
    steps, as in torch.
    """
    start = require_number("start", start)
    every = require_positive("every", every)
    gamma = require_positive("gamma", gamma)
    ops = ops_for(step)
    return start * ops.pow(gamma, ops.floor(ops.step(step) / every))
