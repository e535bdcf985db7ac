"""Cyclical learning rates: triangular waves between ``base`` and ``peak``.

Reference: torch ``torch.optim.lr_scheduler.CyclicLR`` (Smith 2017, "Cyclical Learning Rates
for Training Neural Networks").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

from torch import Tensor

from schedules.leaf_family import Family, finite_constant
from schedules.number_text import number_text
from schedules.scalar_or_tensor import SCALAR, TENSOR, Ops, S
from schedules.tensor_values import Checked, Value
from schedules.validation import choice, optional, require_positive

MODES = ("triangular", "triangular2", "exp_range")
"""The amplitude policies of :func:`cyclic`."""

SCALE_MODES = ("cycle", "iterations")
"""What a custom ``scale_fn`` of :func:`cyclic` is a function of."""

ScaleFn = Callable[[Any], Any]
"""A custom amplitude: a number (or, elementwise, a Tensor) in, a number (a Tensor) out."""


class _Recipe(NamedTuple):
    base: Checked
    peak: Checked
    total: float  # up + down: the cycle
    ratio: float  # up / total
    mode: str
    gamma: float
    scale_fn: ScaleFn | None
    scale_mode: str


def _require_scale_fn(name: str, value: object) -> ScaleFn | None:
    """``value`` must be a callable of one number (a custom amplitude) or ``None``."""
    if value is not None and not callable(value):
        raise ValueError(
            f"{name} must be a callable of one number or None, got "
            f"{type(value).__name__}: {value!r}"
        )
    return value


def _prepare(
    base: Checked,
    peak: Checked,
    up: float,
    down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: ScaleFn | None = None,
    scale_mode: str = "cycle",
) -> _Recipe:
    """The cycle's constants, after the declared checks: what they cannot say (gamma's
    range, the modes that go together, the phases' sizes)."""
    down = up if down is None else down
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must lie in (0, 1], got {number_text(gamma)}")
    if scale_fn is None and scale_mode != "cycle":
        raise ValueError(
            f"scale_mode applies only with a scale_fn (mode {mode!r} sets its own), got "
            f"{scale_mode!r}"
        )
    if scale_fn is not None and mode != "triangular":
        raise ValueError(
            f"mode must be 'triangular' (the default) when scale_fn is given: scale_fn "
            f"replaces the mode's amplitude, got {mode!r}"
        )
    total = finite_constant("up", up, up + down, "up + down")
    finite_constant("up", up, 1.0 / total, "1 / (up + down)")
    ratio = up / total
    if not 0.0 < ratio < 1.0:
        raise ValueError(
            f"up and down must be of comparable sizes: up / (up + down) = {number_text(ratio)} "
            f"(up={number_text(up)}, down={number_text(down)}) leaves no room for one of the "
            "two phases"
        )
    return _Recipe(base, peak, total, ratio, mode, gamma, scale_fn, scale_mode)


def _formula(ops: Ops[S], step: S, r: _Recipe) -> S:
    base, peak, total, ratio, mode, gamma, scale_fn, scale_mode = r
    s = ops.step(step)
    cycle = ops.floor(1.0 + s / total)
    x = 1.0 + s / total - cycle
    height = ops.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
    if scale_fn is not None:
        scaled = height * scale_fn(cycle if scale_mode == "cycle" else s)
        return cast(S, base + (peak - base) * scaled)
    if mode == "triangular":
        amplitude = height
    elif mode == "triangular2":
        amplitude = height * ops.pow(0.5, cycle - 1.0)
    else:
        amplitude = height * ops.pow(gamma, s)
    return base + (peak - base) * amplitude


def _scalar(step: float, r: _Recipe) -> float:
    value = _formula(SCALAR, step, r)
    return value if r.scale_fn is None else float(value)  # whatever number scale_fn gave


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    return _formula(TENSOR, step, r)


def _extent(h: Any) -> float:
    up = h["up"]
    return 3.0 * float(up + (up if h["down"] is None else h["down"]))  # three cycles


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("base", "peak"),
    lengths=("up", "down"),
    horizon=None,
    extent=_extent,
    checks={
        "base": "value",
        "peak": "value",
        "up": "positive",
        "down": optional(require_positive),
        "mode": choice(*MODES),
        "gamma": "number",
        "scale_fn": _require_scale_fn,
        "scale_mode": choice(*SCALE_MODES),
    },
)


@FAMILY.leaf
def cyclic(
    step: S,
    base: Value,
    peak: Value,
    up: float,
    down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: ScaleFn | None = None,
    scale_mode: str = "cycle",
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

    ``scale_fn`` is torch's custom amplitude: ``a = scale_fn(c)`` (``scale_mode="cycle"``) or
    ``a = scale_fn(s)`` (``"iterations"``) in place of the mode's; ``mode`` must then stay
    ``"triangular"`` (torch ignores it), and ``scale_mode="iterations"`` without a
    ``scale_fn`` is refused (torch ignores it). ``scale_fn`` is called once per evaluation,
    with a Python float for a number step and a Tensor of the step's shape for a Tensor step,
    so it must be a callable of one number that also works elementwise on Tensors (``lambda
    c: 0.5 ** (c - 1)`` does, ``math`` functions do not; ``vmap`` and ``torch.compile`` work
    when it is plain torch arithmetic); a schedule that is pickled (checkpoints, DDP, a
    bound schedule) needs a picklable one: a module-level function, not a lambda. torch asks
    for ``0 <= scale_fn(x) <= 1``; that is not checked. A call with a ``scale_fn`` is
    validated afresh each time (callables are not cached); :func:`schedules.bind` it once.
    """
    return FAMILY.call(
        step,
        (
            base,
            peak,
            up,
            down,
            mode,
            gamma,
            scale_fn,
            scale_mode,
            base.__class__,
            peak.__class__,
            up.__class__,
            down.__class__,
            mode.__class__,
            gamma.__class__,
            scale_fn.__class__,
            scale_mode.__class__,
        ),
    )
