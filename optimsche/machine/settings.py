"""``ShellSettings``: what an OptimScheduler was built with, frozen, and its window arithmetic.

Micro-steps are 1-based. Micro-step ``n`` belongs to window (real step)
``r = (n - 1) // accum_grad + 1`` and ends it when ``n % accum_grad == 0``; the shell takes
part in window ``r`` (backward and update) when ``r % step_per_update == 0``. Without
``num_items`` a micro-step backpropagates ``loss / accum_grad``; with it, the loss itself.
"""

from __future__ import annotations

import attrs

from schedules.validation import require_count, require_order, require_positive


@attrs.frozen(kw_only=True)
class ShellSettings:
    """The checked constructor settings of one shell (module doc); build with :func:`settings`."""

    accum_grad: int
    step_per_update: int
    ft_factor: float
    grad_clip: float | None
    grad_norm_type: float
    optim_loss: str | None
    count_from: int

    @property
    def loss_key(self) -> str:
        """The key of this shell's loss in ``losses``: ``optim_loss``, ``"loss"`` by default."""
        return "loss" if self.optim_loss is None else self.optim_loss

    def real_step(self, step_num: int) -> int:
        """The window of micro-step ``step_num`` (>= 1): ``(step_num - 1) // accum_grad + 1``
        (:func:`schedules.real_step`; ``accum_grad`` was checked once, here)."""
        return (step_num - 1) // self.accum_grad + 1 if step_num > 0 else 0

    def takes_part(self, real: int) -> bool:
        """Whether the shell runs backward and update in window ``real``."""
        return real % self.step_per_update == 0

    def ends_window(self, step_num: int) -> bool:
        """Whether micro-step ``step_num`` is its window's last."""
        return step_num % self.accum_grad == 0

    def window_end(self, real: int) -> int:
        """The last micro-step of window ``real``: ``real · accum_grad``."""
        return real * self.accum_grad

    def loss_divisor(self, counts_items: bool) -> int:
        """What a micro-step's loss is divided by before its backward: ``accum_grad``, or 1
        with ``num_items`` (the window's items divide the gradient at the update)."""
        return 1 if counts_items else self.accum_grad


def settings(
    *,
    accum_grad: object,
    step_per_update: object,
    ft_factor: object,
    grad_clip: object,
    grad_norm_type: object,
    optim_loss: object,
    count_from: int,
) -> ShellSettings:
    """:class:`ShellSettings` from the constructor's arguments, each checked (a ``ValueError``
    naming the argument and the value)."""
    if optim_loss is not None and not isinstance(optim_loss, str):
        raise ValueError(f"optim_loss must be a loss name (str) or None, got {optim_loss!r}")
    return ShellSettings(
        accum_grad=require_count("accum_grad", accum_grad),
        step_per_update=require_count("step_per_update", step_per_update),
        ft_factor=require_positive("ft_factor", ft_factor),
        grad_clip=None if grad_clip is None else require_positive("grad_clip", grad_clip),
        grad_norm_type=require_order("grad_norm_type", grad_norm_type),
        optim_loss=optim_loss,
        count_from=count_from,
    )
