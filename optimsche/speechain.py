"""SpeeChain's two OptimScheduler subclasses, ported: ``NoamLr`` and ``ExponentDecayLr``.

Several param groups follow the shell's per-group rule (:mod:`optimsche.optimizer.group_rule`):
the formula gives the *reference* group's lr (the first whose initial lr is not 0), every other
group keeps its initial ratio to it (or its ``lr_scale``); "the optimizer's initial lr" below is
the reference group's. SpeeChain's single group is unchanged.

Config types ``noam.NoamLr`` (``noam.Noamlr``, SpeeChain's older spelling, is an alias) and
``exp.ExponentDecayLr``: SpeeChain's module names, resolved by
:mod:`optimsche.config.type_resolution`. Both are thin: the formula is a leaf of
:mod:`schedules`, the subclass only maps SpeeChain's ``sche_conf`` keys onto it.
"""

from __future__ import annotations

import math

from optimsche.optim_scheduler import OptimScheduler
from schedules.exponential import exponential
from schedules.noam import noam
from schedules.number_text import number_text
from schedules.validation import require_number, require_positive


class NoamLr(OptimScheduler):
    """An OptimScheduler whose lr rises linearly for ``warmup_steps`` real steps, then decays as
    ``real_step^-½``.

    * with ``d_model``: ``lr = d_model^-½ · min(r^-½, r · warmup_steps^-1.5)`` at real step
      ``r`` (Vaswani et al. 2017), i.e. ``schedules.noam(r, d_model, warmup_steps)``;
    * without: the peak is the optimizer's initial lr (the reference group's), reached at
      ``r = warmup_steps``:
      ``lr = lr₀ · √warmup_steps · min(r^-½, r · warmup_steps^-1.5)``.

    ``ft_factor`` multiplies either. The first update (``r = 1``) uses a small positive lr.
    """

    sche_lengths = ("warmup_steps",)
    """The ``sche_conf`` keys that are lengths: a config may write them with a unit
    (``warmup_steps: 5%``, ``2ep``, ``4000ba``), resolved on the entry's clock
    (:mod:`optimsche.config.durations`)."""

    def sche_init(self, d_model: int | None = None, warmup_steps: float = 4000) -> None:
        """``d_model``: the model width, or ``None`` to peak at the optimizer's lr.
        ``warmup_steps``: the real step at which the lr peaks (> 0; a length with a unit in
        a config resolves to a whole or fractional number of steps)."""
        if d_model is not None:
            require_positive("NoamLr: d_model", d_model)
        require_positive("NoamLr: warmup_steps", warmup_steps)
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        if d_model is None:
            # d_model = 1 and scale = lr₀·√warmup: the value at r = warmup is exactly lr₀.
            self._noam_d_model: float = 1.0
            self._noam_scale = self._reference_lr * math.sqrt(warmup_steps)
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


class ExponentDecayLr(OptimScheduler):
    """An OptimScheduler with ``lr = lr₀ · decay_factor^(epoch_num - 1)``: one decay per epoch,
    as SpeeChain's ``ExponentDecayLr`` (its ``update_lr(real_step, epoch_num)``) means it.

    ``epoch_num`` is the 1-based epoch given to ``step(..., epoch_num=...)``, which every
    ``step()`` must then give (a ``ValueError`` naming it otherwise, before anything changes);
    the whole first epoch uses ``lr₀``, the optimizer's initial lr (its reference param group's:
    the first whose lr is not 0);
    ``ft_factor`` multiplies it. A float epoch (``epoch + batch / len(loader)``) decays
    smoothly. The value is a function of the epoch alone: SpeeChain's version multiplied the
    *current* lr (``get_lr()``) by ``decay_factor^(epoch_num - 1)`` on every update, so the lr
    compounded across updates (and jumped on resume); here it does not.
    ``exponential(epoch_num - 1, lr₀, decay_factor, 1)`` of :mod:`schedules`; torch's
    ``ExponentialLR`` stepped once per epoch.
    """

    def sche_init(self, decay_factor: float = 0.999) -> None:
        """``decay_factor``: the factor per epoch, in (0, 1]."""
        factor = require_number("ExponentDecayLr: decay_factor", decay_factor)
        if not 0.0 < factor <= 1.0:
            raise ValueError(
                f"ExponentDecayLr: decay_factor must lie in (0, 1], got {decay_factor!r}"
            )
        self.decay_factor = factor
        self.init_lr = self._reference_lr
        if not self.init_lr > 0:
            raise ValueError(
                "ExponentDecayLr: the optimizer's initial lr must be > 0, got "
                f"{number_text(self.init_lr)}"
            )

    def update_lr(self, real_step: float, epoch_num: float | None) -> float:  # type: ignore[override]
        """``init_lr · decay_factor^(epoch_num - 1)`` (``real_step`` is not used)."""
        if epoch_num is None:
            raise ValueError(
                "ExponentDecayLr decays per epoch: epoch_num is required (pass step(..., "
                "epoch_num=...) with the 1-based epoch)"
            )
        return exponential(epoch_num - 1, self.init_lr, self.decay_factor, 1)

    def extra_repr_fn(self) -> str:
        """``decay_factor``."""
        return f"decay_factor={self.decay_factor}"
