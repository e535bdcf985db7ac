"""The step clock shared by the shell and the tests.

Micro-steps are 1-based (``step_num = 1`` is the first ``backward``). With gradient
accumulation over windows of ``accum_grad`` micro-steps, the optimizer updates once per
window, on its last micro-step. The real step counts windows, also 1-based::

    real_step(n, a) = (n - 1) // a + 1   =   ceil(n / a)

so n micro-steps span exactly ``ceil(n / a)`` windows.
"""

from __future__ import annotations

from typing import overload

from torch import Tensor

from schedules.validation import require_count


@overload
def real_step(step_num: int, accum_grad: int = 1) -> int: ...
@overload
def real_step(step_num: Tensor, accum_grad: int = 1) -> Tensor: ...
def real_step(step_num: int | Tensor, accum_grad: int = 1) -> int | Tensor:
    """The 1-based window (optimizer update) that micro-step ``step_num`` belongs to.

    ``real_step(n, a) = (n - 1) // a + 1``. Micro-step 0 (before the first backward) maps to
    real step 0; negative micro-steps are clamped to 0 the same way.
    """
    require_count("accum_grad", accum_grad)
    if isinstance(step_num, Tensor):
        return ((step_num.clamp(min=0) - 1).div(accum_grad, rounding_mode="floor") + 1).clamp(min=0)
    if step_num <= 0:
        return 0
    return (step_num - 1) // accum_grad + 1


def is_update_step(step_num: int, accum_grad: int = 1, step_per_update: int = 1) -> bool:
    """Whether the optimizer updates at 1-based micro-step ``step_num``.

    True on the last micro-step of a window (``step_num % accum_grad == 0``) whose real step
    is a multiple of ``step_per_update`` (SpeeChain: an optimizer with ``step_per_update = n``
    takes part only in every n-th window).
    """
    require_count("accum_grad", accum_grad)
    require_count("step_per_update", step_per_update)
    if step_num <= 0:
        return False
    return step_num % accum_grad == 0 and real_step(step_num, accum_grad) % step_per_update == 0


def takes_part(step_num: int, accum_grad: int = 1, step_per_update: int = 1) -> bool:
    """Whether an optimizer runs backward at micro-step ``step_num``: its window's real
    step is a multiple of ``step_per_update``."""
    require_count("accum_grad", accum_grad)
    require_count("step_per_update", step_per_update)
    if step_num <= 0:
        return False
    return real_step(step_num, accum_grad) % step_per_update == 0
