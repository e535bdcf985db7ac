"""Gradient accumulation: the micro-step clock and the open window of one optimizer.

Micro-steps are 1-based; window (real step) ``r = (n - 1) // accum_grad + 1`` holds
micro-steps ``(r-1)·accum_grad + 1 … r·accum_grad`` and the update happens on its last one.
With ``step_per_update = k`` an optimizer takes part (backward and update) only in windows
with ``r % k == 0`` (:func:`schedules.step_arithmetic.takes_part`).

Two ways to weigh the micro-batches of a window:

* without ``num_items`` each micro-step backpropagates ``loss / accum_grad``: the window's
  gradient is the mean of its micro-batch losses' gradients, which equals the large batch
  when the loss is a per-batch mean and the micro-batches are equally large;
* with ``num_items`` the loss is a *sum* over items (tokens, frames) and each micro-step
  backpropagates it unscaled; the items are added up as given (Python ints, or tensors: no
  host sync) and at the update the gradient is multiplied by ``world_size / total`` where
  ``total`` is the window's items summed over all ranks (one all-reduce), counted exactly as
  ``int64`` and divided in the gradients' precision (float64 for float64 gradients). Under
  DDP the gradient all-reduce already averaged over ``world_size`` ranks, hence the factor:
  the result is ``∑ grad(loss) / total``, the large batch exactly, whatever the micro-batch
  lengths.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from optimsche.parallel.distributed import all_reduce_sum_
from schedules.validation import require_int

Items = int | Tensor
"""A number of items: a Python int or a one-element Tensor (any numeric dtype)."""


def next_step_num(last: int, step_num: object, flushed_after: int | None = None) -> int:
    """The micro-step to run after ``last``: ``step_num`` if given, else ``last + 1``.

    A given ``step_num`` must be an int > ``last`` (going backwards, or repeating a micro-step,
    is an error). It may jump forward, out of an open window too: the shell then applies that
    window first (:mod:`optimsche.update.partial_window`). ``flushed_after``: when ``last`` is
    the end of a window that ``flush()`` closed after micro-step ``flushed_after``, the
    micro-steps between them belong to the closed window, and the message says so.
    """
    if step_num is None:
        return last + 1
    step_num = require_int("step_num", step_num, 1)
    if step_num <= last:
        if flushed_after is not None and step_num > flushed_after:
            raise ValueError(
                f"step_num={step_num} lies in a window that flush() closed after micro-step "
                f"{flushed_after}: its remaining micro-steps (up to {last}) cannot run; the next "
                f"micro-step is {last + 1} (pass step_num=None to let the shell count)"
            )
        raise ValueError(
            f"step_num must increase: got step_num={step_num} after micro-step {last} (micro-steps "
            f"are 1-based and each is run once; pass step_num=None to let the shell count)"
        )
    return step_num


def check_items(num_items: object) -> Items:
    """``num_items`` as given, after checking it is an int >= 0 or a one-element real Tensor
    (a Tensor's sign is checked at the update, in its one host sync: see
    :func:`check_items_total`)."""
    if isinstance(num_items, Tensor):
        if num_items.numel() != 1:
            raise ValueError(
                f"num_items must be an int or a one-element Tensor, got a Tensor of shape "
                f"{tuple(num_items.shape)}"
            )
        if num_items.is_complex() or num_items.dtype == torch.bool:
            raise ValueError(
                f"num_items must be a real number of items, got a {num_items.dtype} Tensor"
            )
        return num_items.detach().reshape(())
    return require_int("num_items", num_items, 0)


def check_items_total(total: float, real_step: int) -> None:
    """Refuse a window whose items sum to ``total <= 0``: its gradient would be divided by
    zero (non-finite) or by a negative count (its sign flipped)."""
    if not total > 0:
        shown = int(total) if float(total).is_integer() else total
        raise ValueError(
            f"num_items: the items of window {real_step} sum to {shown!r}; a window must count "
            f"a positive number of items (its gradient is divided by their total), so nothing "
            f"was applied"
        )


def check_items_least(least: float | None, real_step: int) -> None:
    """Refuse a window one of whose micro-steps counted ``least < 0`` items (a Tensor
    ``num_items``, read in the update's one sync), even when the window's total is positive."""
    if least is not None and least < 0:
        shown = int(least) if float(least).is_integer() else least
        raise ValueError(
            f"num_items: a micro-step of window {real_step} counted {shown!r} items; num_items "
            f"must be >= 0 on every micro-step, so nothing was applied"
        )


class AccumulationWindow:
    """The open window of one optimizer: what its micro-steps since the last update left.

    ``losses``: each micro-step's loss, detached (only their finiteness is checked, at the
    update). ``items``: the items counted so far when ``num_items`` is used, else ``None``.
    ``real_step``: the window these belong to, 0 when nothing is accumulated. ``least``: the
    least Tensor ``num_items`` of a micro-step (a device tensor, kept beside the sum without a
    sync, read in the update's one sync: a negative count on any micro-step is refused even when
    the window's total is positive); ``None`` without Tensor items.
    """

    __slots__ = ("items", "least", "losses", "real_step")

    def __init__(self) -> None:
        self.losses: list[Tensor] = []
        self.items: Items | None = None
        self.least: Tensor | None = None
        self.real_step = 0

    def check_next(self, real_step: int, items: Items | None, *, ends_window: bool) -> None:
        """Check, changing nothing, that a micro-step of window ``real_step`` with ``items``
        (checked by :func:`check_items`, or ``None``) may join the window: a window counts
        items on all of its micro-steps or on none of them, and a window's Python-int items
        must sum to more than 0 (Tensor items are checked at the update's host sync)."""
        if items is None and self.items is None:
            return  # a window without items (the common case): nothing to check
        if items is not None:
            if self.items is None and self.losses:
                raise ValueError(
                    "num_items given on a later micro-step of a window whose earlier "
                    "micro-steps had none: pass num_items on every micro-step or never"
                )
        elif self.items is not None:
            raise ValueError(
                "num_items missing on a micro-step of a window whose earlier micro-steps had it: "
                "pass num_items on every micro-step or never"
            )
        if ends_window and isinstance(items, int) and not isinstance(self.items, Tensor):
            check_items_total((self.items or 0) + items, real_step)

    def add(self, real_step: int, loss: Tensor, items: Items | None) -> None:
        """Record one micro-step of window ``real_step``, checked by :meth:`check_next`: its
        loss and, if given, its items."""
        if items is not None:
            self.items = items if self.items is None else self.items + items
            if isinstance(items, Tensor):
                least = self.least
                self.least = items if least is None else torch.minimum(least, items)
        self.losses.append(loss.detach())
        self.real_step = real_step

    def state(self) -> tuple[int, Items | None, int, Tensor | None]:
        """What :meth:`restore` needs to undo the :meth:`add` calls made after this one."""
        return len(self.losses), self.items, self.real_step, self.least

    def restore(self, state: tuple[int, Items | None, int, Tensor | None]) -> None:
        """Forget the micro-steps added since :meth:`state` returned ``state``."""
        count, self.items, self.real_step, self.least = state
        del self.losses[count:]

    def least_items(self, device: torch.device) -> Tensor | None:
        """:attr:`least` as a float64 0-dim tensor on ``device`` (no sync), or ``None``."""
        least = self.least
        return None if least is None else least.to(device=device, dtype=torch.float64)

    def poison(self) -> None:
        """Mark the open window unusable (a backward raised on a later micro-step, which may
        have accumulated into its gradients in place: :mod:`optimsche.machine.shell_machine`,
        "Undo"): its last loss becomes NaN, so its update skips as ``"nonfinite"``, on every
        rank alike, also after a checkpoint. The window must hold a micro-step."""
        self.losses[-1] = torch.full_like(self.losses[-1], math.nan)

    def clear(self) -> None:
        """Forget the window (after its update)."""
        self.losses = []
        self.items = None
        self.least = None
        self.real_step = 0

    def loss_sum(self, device: torch.device) -> Tensor:
        """The sum of the window's losses as a float32 0-dim tensor on ``device``: finite iff
        every loss is (barring an overflow of the sum itself, beyond 3e38)."""
        losses = self.losses  # 0-dim each (the shell checks the loss is a scalar)
        if len(losses) == 1:
            total = losses[0].float()
        else:
            total = torch.stack(losses).sum(dtype=torch.float32)
        return total if total.device == device else total.to(device, non_blocking=True)


def items_total(items: Items, device: torch.device, distributed: bool) -> Tensor:
    """The window's items summed over all ranks (one all-reduce when ``distributed``), as a
    0-dim tensor on ``device``, made without a host sync.

    Counted exactly: integer items (Python ints, integer tensors) as ``int64``; floating items
    in their own dtype, at least ``float32``.
    """
    if isinstance(items, Tensor):
        dtype = torch.int64 if not items.is_floating_point() else _at_least_float32(items.dtype)
        total = items.to(device=device, dtype=dtype, copy=True)
    else:
        total = torch.full((), items, dtype=torch.int64, device=device)
    if distributed:
        all_reduce_sum_(total)
    return total


def _at_least_float32(dtype: torch.dtype) -> torch.dtype:
    """``dtype`` if it is float32 or wider, else float32 (for float16/bfloat16 and the like)."""
    return dtype if torch.finfo(dtype).bits >= 32 else torch.float32


def divide_by_items_(grads: list[Tensor], total: Tensor, world: int) -> None:
    """Multiply ``grads`` in place by ``world / total`` (see the module doc). A window whose
    items do not sum to more than 0 is refused by the shell (:func:`check_items_total`).

    The factor is computed in float64 for float64 (and complex128) gradients, else in float32
    (so float16/bfloat16 gradients do not see a count above 65504 overflow): the division adds
    one rounding of the gradients' own precision at most, and a float64 model matches the
    large batch to ~1e-15.
    """
    if not grads:
        return
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for grad in grads:
        wide = grad.dtype in (torch.float64, torch.complex128)
        groups.setdefault((grad.device, torch.float64 if wide else torch.float32), []).append(grad)
    for (device, dtype), group in groups.items():
        torch._foreach_mul_(group, world / total.to(device=device, dtype=dtype))
