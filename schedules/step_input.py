"""What a schedule accepts as its step, made ready for a formula.

* :func:`number_step`: a step that is not a Tensor, as a Python number. ``int`` and ``float``
  pass as they are, numpy integers become ``int`` and other real numbers (numpy floats,
  ``fractions.Fraction``) ``float``; a NaN step is a ``ValueError`` (a schedule has no value
  there), anything else (``bool``, ``str``, ``None``, ...) a ``TypeError``.
* :func:`float_steps`: a Tensor step as a fresh floating tensor clamped to ``[low, high]``,
  owned by the caller (who may overwrite it in place): integer and bool steps become
  ``float64`` (exact up to 2**53, no int32 overflow), floating steps keep their dtype. One
  pass over memory for a floating step, two or three for an integer one (vmap has no
  batching rule for a two-sided in-place ``clamp_``: one-sided ones). NaN elements stay NaN.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor


def number_step(step: object) -> int | float:
    """``step`` as a Python ``int`` or ``float`` (see the module docs)."""
    if step.__class__ is int:
        return step
    if step.__class__ is float:
        if step != step:
            raise ValueError("step must not be NaN: a schedule has no value at a NaN step")
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(
            f"step must be an int, a float or a torch.Tensor, got {type(step).__name__}: {step!r}"
        )
    if isinstance(step, numbers.Integral):
        return int(step)
    return number_step(float(step))


def steps_dtype(step: Tensor) -> torch.dtype:
    """The floating dtype a Tensor step is computed in: its own when floating, float64 for
    integer and bool steps (exact up to 2**53), as :func:`float_steps` converts them."""
    return step.dtype if step.is_floating_point() else torch.float64


def float_steps(step: Tensor, low: float = 0.0, high: float | None = None) -> Tensor:
    """A fresh floating copy of ``step`` clamped to ``[low, high]`` (``high=None``: no upper
    bound); integer steps in ``float64``, floating steps in their own dtype."""
    if step.is_floating_point():
        return torch.clamp(step, min=low, max=high)
    steps = step.to(torch.float64).clamp_min_(low)
    return steps if high is None else steps.clamp_max_(high)
