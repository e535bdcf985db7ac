"""One formula, two evaluators: Python numbers with ``math``, or Tensors elementwise.

Every schedule is written once against :class:`Ops`. ``ops_for(step)`` picks the
evaluator from the type of the step:

* a Python ``int``/``float`` gives :class:`ScalarOps`: plain ``math``, no tensor is made,
  the result is a Python ``float``;
* a ``torch.Tensor`` (any shape, integer or floating dtype) gives :class:`TensorOps`:
  elementwise torch operations with no Python branching on values, so the schedule works
  under ``torch.func.vmap`` and ``torch.compile(fullgraph=True)``.

Integer (and bool) tensors are converted to ``float64`` before any arithmetic, so steps up
to 10^12 and beyond are exact (no int32 overflow, no float32 rounding of the step).
Floating tensors keep their dtype.

Both branches of :meth:`Ops.where` are evaluated, so formulas must keep every branch
finite for every step (use :meth:`Ops.maximum` to guard a division, for instance).
"""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar, overload

import torch
from torch import Tensor

from schedules import scalar_math
from schedules.step_input import number_step
from schedules.tensor_values import promoted, select

S = TypeVar("S", float, Tensor)
"""A step or a value: a Python number or a Tensor. ``int`` is accepted where float is."""

Cond = bool | Tensor


class Ops(Generic[S]):
    """Elementwise operations on steps/values of type ``S``."""

    def step(self, step: S) -> S:
        """The step as a float (or a floating tensor), negative steps clamped to 0."""
        raise NotImplementedError

    def where(self, cond: Cond, if_true: S | float, if_false: S | float) -> S:
        raise NotImplementedError

    def minimum(self, x: S, bound: float) -> S:
        raise NotImplementedError

    def maximum(self, x: S, bound: float) -> S:
        raise NotImplementedError

    def clip(self, x: S, low: float, high: float) -> S:
        raise NotImplementedError

    def interpolate(self, start: float, end: float, fraction: S) -> S:
        """``start + (end - start) · fraction`` for ``fraction`` in [0, 1], exact at both
        ends and never outside ``[min(start, end), max(start, end)]`` (the plain formula can
        miss ``end`` by an ulp at ``fraction = 1``, or overshoot it). Python numbers: the plain
        formula, clipped, and ``end`` itself from ``fraction >= 1`` on (monotone in
        ``fraction``); Tensors: ``torch.lerp``."""
        value = self.clip(start + (end - start) * fraction, min(start, end), max(start, end))
        return self.where(fraction >= 1.0, end, value)

    def floor(self, x: S) -> S:
        raise NotImplementedError

    def cos(self, x: S) -> S:
        raise NotImplementedError

    def sqrt(self, x: S) -> S:
        raise NotImplementedError

    def log(self, x: S) -> S:
        raise NotImplementedError

    def pow(self, base: float, exponent: S) -> S:
        """``base ** exponent`` with a number base and a step-shaped exponent.

        With ``base > 0``, a result too large for a float is ``inf`` (as for tensors), never
        an ``OverflowError``.
        """
        raise NotImplementedError

    def power(self, x: S, exponent: float) -> S:
        """``x ** exponent`` with a step-shaped base ``x >= 0`` and a number exponent."""
        raise NotImplementedError

    def constant(self, like: S, value: float) -> S:
        """``value`` with the shape and dtype of ``like``."""
        raise NotImplementedError


class ScalarOps(Ops[float]):
    """Python floats, computed with :mod:`math`."""

    def step(self, step: float) -> float:
        return float(step) if step > 0 else 0.0

    def where(self, cond: Cond, if_true: float, if_false: float) -> float:
        return if_true if cond else if_false

    def minimum(self, x: float, bound: float) -> float:
        return x if x < bound else float(bound)

    def maximum(self, x: float, bound: float) -> float:
        return x if x > bound else float(bound)

    def clip(self, x: float, low: float, high: float) -> float:
        return float(low) if x < low else (float(high) if x > high else x)

    def interpolate(self, start: float, end: float, fraction: float) -> float:
        return scalar_math.interpolate(start, end, fraction)

    def floor(self, x: float) -> float:
        return float(math.floor(x)) if -math.inf < x < math.inf else x  # inf, nan as torch

    def cos(self, x: float) -> float:
        return math.cos(x) if -math.inf < x < math.inf else math.nan  # as torch

    def sqrt(self, x: float) -> float:
        return math.sqrt(x)

    def log(self, x: float) -> float:
        return math.log(x)

    def pow(self, base: float, exponent: float) -> float:
        return scalar_math.power(base, exponent)

    def power(self, x: float, exponent: float) -> float:
        return float(x**exponent)

    def constant(self, like: float, value: float) -> float:
        return float(value)


class TensorOps(Ops[Tensor]):
    """Elementwise torch operations, safe under ``vmap`` and ``torch.compile``."""

    def step(self, step: Tensor) -> Tensor:
        if not step.is_floating_point():
            step = step.to(torch.float64)
        return torch.clamp(step, min=0.0)

    def interpolate(self, start: Any, end: Any, fraction: Tensor) -> Tensor:
        # torch.lerp: one fused pass, exact at both ends (it switches to ``end - (end -
        # start)·(1 - w)`` from w = 0.5 on) and within [start, end] for w in [0, 1]; Tensor
        # ends (value hyperparameters) are promoted with the fraction and broadcast
        fraction, (low, high) = promoted(fraction, start, end)
        return torch.lerp(low, high, fraction)

    def where(self, cond: Cond, if_true: Tensor | float, if_false: Tensor | float) -> Tensor:
        assert isinstance(cond, Tensor)
        return select(cond, if_true, if_false)

    def minimum(self, x: Tensor, bound: float) -> Tensor:
        return torch.clamp(x, max=bound)

    def maximum(self, x: Tensor, bound: float) -> Tensor:
        return torch.clamp(x, min=bound)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return torch.clamp(x, min=low, max=high)

    def floor(self, x: Tensor) -> Tensor:
        return torch.floor(x)

    def cos(self, x: Tensor) -> Tensor:
        return torch.cos(x)

    def sqrt(self, x: Tensor) -> Tensor:
        return torch.sqrt(x)

    def log(self, x: Tensor) -> Tensor:
        return torch.log(x)

    def pow(self, base: float, exponent: Tensor) -> Tensor:
        return torch.pow(base, exponent)

    def power(self, x: Tensor, exponent: float) -> Tensor:
        return torch.pow(x, exponent)

    def constant(self, like: Tensor, value: float) -> Tensor:
        return torch.full_like(like, value)


SCALAR = ScalarOps()
TENSOR = TensorOps()


@overload
def ops_for(step: Tensor) -> Ops[Tensor]: ...
@overload
def ops_for(step: float) -> Ops[float]: ...
def ops_for(step: float | Tensor) -> Ops[float] | Ops[Tensor]:
    """The evaluator for ``step``: :data:`TENSOR` for a Tensor, :data:`SCALAR` for a number
    (numpy integers and floats included). A NaN number is a ``ValueError``, anything else a
    ``TypeError`` (:func:`schedules.step_input.number_step`)."""
    if step.__class__ is int:  # fast path: isinstance(Tensor) is slow
        return SCALAR
    if isinstance(step, Tensor):
        return TENSOR
    number_step(step)
    return SCALAR
