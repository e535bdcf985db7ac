"""A linear warmup put in front of a schedule, or over its first steps.

Reference: timm ``Scheduler`` with ``warmup_t``, ``warmup_lr_init`` and ``warmup_prefix``:
``prefix=True`` is ``warmup_prefix=True`` (the wrapped schedule starts its own clock when the
warmup ends), ``prefix=False`` is ``warmup_prefix=False`` (the warmup takes the place of the
schedule's first steps; its clock is not shifted).
"""

from __future__ import annotations

import attrs
import torch

from schedules import ramp_shapes
from schedules.combinator_fields import (
    CHILD_OPTIONS,
    VALUE_OPTIONS,
    bound_child,
    require_plain,
    require_schedule,
    using,
)
from schedules.ramp_shapes import SHAPES
from schedules.scalar_or_tensor import S, ops_for
from schedules.schedule_protocol import Schedule
from schedules.step_input import number_step
from schedules.tensor_values import Value, select
from schedules.validation import choice, require_bool, require_positive, require_value


def _require_plain(name: str, value: object) -> None:
    require_plain("warmup", name, value)


@attrs.frozen
class warmup:
    """Ramp from ``start`` to ``schedule(0)`` over ``steps`` (linearly, or in another
    ``shape``), then run ``schedule`` delayed by ``steps`` (``prefix=True``, the default) or
    from where it is (``prefix=False``)::

        warmup(f, w, a)(s) = a + (f(0) - a) · g(s / w)  for s < w
                             f(s - w)                    for s >= w   (prefix=True)
                             f(s)                        for s >= w   (prefix=False)

    ``g`` is the warmup of ``shape``, one of :data:`schedules.ramp_shapes.SHAPES`: ``p``
    (``"linear"``, the default), ``½(1 - cos(π p))`` (``"cosine"``), ``1 - √(1 - p)``
    (``"1-sqrt"``) or ``2^p - 1`` (``"exponential"``); each rises from 0 to 1 (transformers'
    WSD ``warmup_type``s, and the reverse of Megatron's ``exponential`` decay).

    ``prefix=True`` is continuous at ``s = w`` by construction. ``prefix=False`` overlays the
    schedule's first ``w`` steps and jumps from ``f(0)`` to ``f(w)`` at ``s = w``, as timm's
    ``warmup_prefix=False`` does in its cosine, poly, step and multistep schedulers (timm's
    tanh scheduler ramps to ``f(w)`` instead, which this does not). ``steps`` must be > 0,
    ``prefix`` a bool; negative steps act as 0. ``start`` may be a Tensor broadcasting with
    the step (not range-checked; the result broadcasts, so a Python step gives a Tensor then).
    """

    schedule: Schedule = attrs.field(
        converter=bound_child,
        validator=[using(require_schedule), using(_require_plain)],
        **CHILD_OPTIONS,
    )
    steps: float = attrs.field(validator=using(require_positive))
    start: Value = attrs.field(default=0.0, validator=using(require_value), **VALUE_OPTIONS)
    prefix: bool = attrs.field(default=True, validator=using(require_bool))
    shape: str = attrs.field(default="linear", validator=using(choice(*SHAPES)))

    def __call__(self, step: S) -> S:
        ops_for(step)  # the step's type (and NaN) checked
        if isinstance(self.start, torch.Tensor) and not isinstance(step, torch.Tensor):
            step = torch.tensor(float(number_step(step)), dtype=torch.float64)  # type: ignore[assignment]
        s = ops_for(step).step(step)
        if isinstance(s, torch.Tensor):
            target = self.schedule(torch.zeros_like(s))
            fraction = torch.clamp(s, max=self.steps) / self.steps
            if self.shape != "linear":
                fraction = ramp_shapes.warmup_tensor(self.shape, fraction)
            ramp = self.start + (target - self.start) * fraction
            after = self.schedule(torch.clamp(s - self.steps, min=0.0) if self.prefix else s)
            return select(s < self.steps, ramp, after)
        if step >= self.steps:
            return float(self.schedule(step - self.steps if self.prefix else step))
        target_value = float(self.schedule(0))
        fraction = s / self.steps
        if self.shape != "linear":
            fraction = ramp_shapes.warmup(self.shape, fraction)
        return self.start + (target_value - self.start) * fraction  # type: ignore[return-value]
