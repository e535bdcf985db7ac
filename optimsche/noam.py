"""SpeeChain's ``NoamLr``: the Transformer's warm-up then inverse-square-root schedule.

Config type ``noam.NoamLr`` (``noam.Noamlr``, SpeeChain's older spelling, is an alias).
"""

from __future__ import annotations

import math

from optimsche.optim_scheduler import OptimScheduler
from schedules.noam import noam


class NoamLr(OptimScheduler):
    """An OptimScheduler whose lr rises linearly for ``warmup_steps`` real steps, then decays as
    ``real_step^-½``.

    * with ``d_model``: ``lr = d_model^-½ · min(r^-½, r · warmup_steps^-1.5)`` at real step
      ``r`` (Vaswani et al. 2017), i.e. ``schedules.noam(r, d_model, warmup_steps)``;
    * without: the peak is the optimizer's initial lr, reached at ``r = warmup_steps``:
      ``lr = lr₀ · √warmup_steps · min(r^-½, r · warmup_steps^-1.5)``.

    ``ft_factor`` multiplies either. The first update (``r = 1``) uses a small positive lr.
    """

    def sche_init(self, d_model: int | None = None, warmup_steps: int = 4000) -> None:
        """``d_model``: the model width, or ``None`` to peak at the optimizer's lr.
        ``warmup_steps``: the real step at which the lr peaks (> 0)."""
        if d_model is not None and (
            isinstance(d_model, bool) or not isinstance(d_model, int | float) or d_model <= 0
        ):
            raise ValueError(f"NoamLr: d_model must be a number > 0 or None, got {d_model!r}")
        if (
            isinstance(warmup_steps, bool)
            or not isinstance(warmup_steps, int | float)
            or not warmup_steps > 0
            or not math.isfinite(warmup_steps)
        ):
            raise ValueError(f"NoamLr: warmup_steps must be a number > 0, got {warmup_steps!r}")
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        if d_model is None:
            # d_model = 1 and scale = lr₀·√warmup: the value at r = warmup is exactly lr₀.
            self._noam_d_model: float = 1.0
            self._noam_scale = self.get_lr() * math.sqrt(warmup_steps)
        else:
            self._noam_d_model = float(d_model)
            self._noam_scale = 1.0
        # SpeeChain's name for the factor in front of ``min(...)``.
        self.init_lr = self._noam_scale / math.sqrt(self._noam_d_model)

    def update_lr(self, real_step: int) -> float:
        """``init_lr · min(r^-½, r · warmup_steps^-1.5)`` at real step ``r``."""
        return noam(real_step, self._noam_d_model, self.warmup_steps, self._noam_scale)

    def extra_repr_fn(self) -> str:
        """``d_model`` and ``warmup_steps``."""
        return f"d_model={self.d_model}, warmup_steps={self.warmup_steps}"


Noamlr = NoamLr
"""SpeeChain's original spelling of :class:`NoamLr`."""
