"""A schedule run slower or faster: the scale-schedule ratio of MosaicML Composer
(``scale_schedule_ratio``: 0.5 runs the whole schedule in half the steps)."""

from __future__ import annotations

import attrs
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    bound_child,
    require_plain,
    require_schedule,
    using,
)
from schedules.scalar_or_tensor import S, ops_for
from schedules.schedule_protocol import Schedule
from schedules.validation import require_positive


def _require_plain(name: str, value: object) -> None:
    require_plain("stretch", name, value)


@attrs.frozen
class stretch:
    """``stretch(f, r)(s) = f(s / r)``: every milestone of ``f`` at step ``m`` moves to
    ``m · r``. ``ratio`` must be > 0; negative steps act as 0. The wrapped schedule sees
    float steps (a float64 tensor for integer tensor steps).
    The schedule must be plain: a clock-bound one is refused, naming its clock (write
    ``on(clock, stretch(f, ...))``)."""

    schedule: Schedule = attrs.field(
        converter=bound_child,
        validator=[using(require_schedule), using(_require_plain)],
        **CHILD_OPTIONS,
    )
    ratio: float = attrs.field(validator=using(require_positive))

    def __call__(self, step: S) -> S:
        value = self.schedule(ops_for(step).step(step) / self.ratio)
        return value if isinstance(value, Tensor) else float(value)
