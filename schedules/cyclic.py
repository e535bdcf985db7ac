"""Cyclical learning rates: triangular waves between ``base`` and ``peak``.

Reference: torch ``torch.optim.lr_scheduler.CyclicLR`` (Smith 2017, "Cyclical Learning Rates
for Training Neural Networks").
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from schedules.leaf_family import Family
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.tensor_values import Checked, Value
from schedules.validation import require_choice, require_number, require_positive, require_value

MODES = ("triangular", "triangular2", "exp_range")
"""The amplitude policies of :func:`cyclic`."""


class _Recipe(NamedTuple):
    base: Checked
    peak: Checked
    total: float  # up + down: the cycle
    ratio: float  # up / total
    mode: str
    gamma: float


def _prepare(
    base: Value,
    peak: Value,
    up: float,
    down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> _Recipe:
    base = require_value("base", base)
    peak = require_value("peak", peak)
    up = require_positive("up", up)
    down = up if down is None else require_positive("down", down)
    mode = require_choice("mode", mode, MODES)
    gamma = require_number("gamma", gamma)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must lie in (0, 1], got {gamma!r}")
    total = up + down
    return _Recipe(base, peak, total, up / total, mode, gamma)


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    base, peak, total, ratio, mode, gamma = r
    s = ops.step(step)
    cycle = ops.floor(1.0 + s / total)
    x = 1.0 + s / total - cycle
    height = ops.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
    if mode == "triangular":
        amplitude = height
    elif mode == "triangular2":
        amplitude = height * ops.pow(0.5, cycle - 1.0)
    else:
        amplitude = height * ops.pow(gamma, s)
    return base + (peak - base) * amplitude


def _scalar(step: float, r: _Recipe) -> float:
    return _formula(SCALAR, step, r)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return _formula(TENSOR, step, r)


def cyclic(
    step: S,
    base: Value,
    peak: Value,
    up: float,
    down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> S:
    """torch ``CyclicLR(base_lr=base, max_lr=peak, step_size_up=up, step_size_down=down,
    mode=mode, gamma=gamma)`` at step ``s`` (its ``last_epoch``).

    A cycle lasts ``up + down`` steps (``down`` defaults to ``up``): ``up`` steps rising
    from ``base`` to ``peak``, ``down`` steps falling back. With ``T = up + down``,
    ``r = up / T``, ``c = floor(1 + s/T)`` (the 1-based cycle) and ``x = 1 + s/T - c``::

        h = x / r                if x <= r   (rising)
            (x - 1) / (r - 1)    otherwise   (falling)
        value = base + (peak - base) · h · a

    with the amplitude factor ``a = 1`` (``mode="triangular"``), ``a = ½^(c-1)`` (halved
    every cycle, ``"triangular2"``) or ``a = gamma^s`` (``"exp_range"``). Periodic by
    design: it never settles, though ``triangular2`` and ``exp_range`` shrink towards
    ``base``. ``gamma`` is used by ``exp_range`` only and must lie in (0, 1] (torch accepts
    any gamma; one above 1 grows without bound, to inf at large steps). ``peak`` may be
    below ``base``, as in torch. Negative steps behave as step 0.
    """
    return FAMILY.call(step, (base, peak, up, down, mode, gamma))


def _extent(h: Any) -> float:
    up = h["up"]
    return 3.0 * float(up + (up if h["down"] is None else h["down"]))  # three cycles


FAMILY = Family(
    cyclic,
    _prepare,
    _scalar,
    _tensor,
    values=("base", "peak"),
    lengths=("up", "down"),
    horizon=None,
    extent=_extent,
)
