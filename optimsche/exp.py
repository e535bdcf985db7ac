"""SpeeChain's ``ExponentDecayLr``: the lr decays by a constant factor every real step.

Config type ``exp.ExponentDecayLr``.
"""

from __future__ import annotations

import math

from optimsche.optim_scheduler import OptimScheduler
from schedules.exponential import exponential


class ExponentDecayLr(OptimScheduler):
    """An OptimScheduler with ``lr = lr₀ · decay_factor^(r - 1)`` at real step ``r``.

    ``lr₀`` is the optimizer's initial lr (its first param group's), so the first update uses
    ``lr₀``; ``ft_factor`` multiplies it. The value is a function of ``r`` alone: unlike
    SpeeChain's version, which multiplied the *current* lr again on every call, it does not
    compound across calls, and resuming from a checkpoint gives the same lr.
    ``exponential(r - 1, lr₀, decay_factor, 1)`` of :mod:`schedules`; torch's ``ExponentialLR``.
    """

    def sche_init(self, decay_factor: float = 0.999) -> None:
        """``decay_factor``: the factor per real step, in (0, 1]."""
        if (
            isinstance(decay_factor, bool)
            or not isinstance(decay_factor, int | float)
            or not math.isfinite(decay_factor)
            or not 0.0 < decay_factor <= 1.0
        ):
            raise ValueError(
                f"ExponentDecayLr: decay_factor must lie in (0, 1], got {decay_factor!r}"
            )
        self.decay_factor = float(decay_factor)
        self.init_lr = self.get_lr()
        if not self.init_lr > 0:
            raise ValueError(
                f"ExponentDecayLr: the optimizer's initial lr must be > 0, got {self.init_lr!r}"
            )

    def update_lr(self, real_step: int) -> float:
        """``init_lr · decay_factor^(real_step - 1)``."""
        return exponential(real_step - 1, self.init_lr, self.decay_factor, 1)

    def extra_repr_fn(self) -> str:
        """``decay_factor``."""
        return f"decay_factor={self.decay_factor}"
