"""``lr_range_test``: sweep the lr over N updates on the shell, stop when the loss diverges,
put everything back, suggest an lr (Leslie Smith's range test; fastai's ``lr_find``,
Lightning's ``Tuner.lr_find``, DeepSpeed's ``LRRangeTest`` schedule).

One update of the test is one window of ``accum_grad`` micro-steps, each an ordinary
``step()`` of a stand-in shell over the user's optimizer whose schedule is the sweep
(:mod:`optimsche.lr_range.stand_in`), its forward run under the shell's ``autocast()``. After
update ``k`` the window's loss ``x_k`` is read in one host sync and smoothed
(:mod:`optimsche.lr_range.smoothing`); the test stops after update ``k`` when

* ``x_k`` (or the gradient norm) is not finite (``"nonfinite"``), or
* ``k > 1`` and ``smoothed_k > diverge · min(smoothed_1 .. smoothed_(k-1))`` while that
  minimum is ``> 0`` (``"diverged"``; fastai's ``stop_div`` and Lightning's
  ``early_stop_threshold``, 4 by default), or
* ``k = num_updates`` (``"completed"``), or a one-pass iterator of batches ran out
  (``"out of batches"``; a re-iterable such as a list or a ``DataLoader`` is started again).

Whatever happens (a refused argument, a loss function that raises, an interrupt), the model,
the optimizer and the shell are put back exactly as they were
(:mod:`optimsche.lr_range.saved_training`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

import attrs
import torch
import torch.distributed as dist
from torch import Tensor, nn

from optimsche.group import ItemsArg, OptimSchedulerGroup
from optimsche.lr_range.result import (
    STOP_COMPLETED,
    STOP_DIVERGED,
    STOP_NONFINITE,
    STOP_OUT_OF_BATCHES,
    LrRangeResult,
)
from optimsche.lr_range.saved_training import SavedTraining
from optimsche.lr_range.smoothing import SmoothedLoss
from optimsche.lr_range.stand_in import stand_in
from optimsche.lr_range.sweep import SWEEP_MODES, sweep_schedule
from optimsche.optim_scheduler import OptimScheduler
from optimsche.step_report import SKIP_NONFINITE
from optimsche.update.micro_loss import Losses, pick_loss
from schedules.close_matches import did_you_mean
from schedules.validation import require_int, require_number, require_positive

B = TypeVar("B")


def _shells(owner: OptimScheduler | OptimSchedulerGroup) -> list[OptimScheduler]:
    return [owner] if isinstance(owner, OptimScheduler) else list(owner.values())


def _check_owner(owner: object) -> list[OptimScheduler]:
    if not isinstance(owner, OptimScheduler | OptimSchedulerGroup):
        raise ValueError(
            f"lr_range_test needs an OptimScheduler or an OptimSchedulerGroup, got "
            f"{type(owner).__name__}"
        )
    shells = _shells(owner)
    accum = {s.accum_grad for s in shells}
    if len(accum) > 1:
        named = {name: m.accum_grad for name, m in owner.items()}  # type: ignore[union-attr]
        raise ValueError(
            f"lr_range_test: the members of a group must share one accum_grad (one update of "
            f"the test is one window), got {named}"
        )
    return shells


def _check_settings(
    min_lr: object,
    max_lr: object,
    num_updates: object,
    mode: object,
    smoothing: object,
    diverge: object,
) -> None:
    low = require_positive("min_lr", min_lr)
    high = require_positive("max_lr", max_lr)
    if high <= low:
        raise ValueError(f"max_lr must be > min_lr ({min_lr!r}), got {max_lr!r}")
    require_int("num_updates", num_updates, 2)
    if mode not in SWEEP_MODES:
        hint = did_you_mean(mode, SWEEP_MODES) if isinstance(mode, str) else ""
        valid = ", ".join(repr(m) for m in SWEEP_MODES)
        raise ValueError(f"mode must be one of {valid}, got {mode!r}{hint}")
    beta = require_number("smoothing", smoothing)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"smoothing must lie in [0, 1) (fastai's beta: 0.98), got {smoothing!r}")
    if diverge is not None and require_number("diverge", diverge) <= 1.0:
        raise ValueError(f"diverge must be > 1 (or None: never stop early), got {diverge!r}")


def _models(shells: list[OptimScheduler], model: object) -> tuple[nn.Module, ...]:
    """The models whose state is saved: ``model``, else the shells' own (each once)."""
    if model is not None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
        return (model,)
    found = {id(s.model): s.model for s in shells if s.model is not None}
    return tuple(found.values())


def _batches(batches: Iterable[B]) -> Iterator[B]:
    """``batches`` again and again when it can be iterated again (a list, a ``DataLoader``),
    once when it is an iterator; a pass that yields nothing is a ``ValueError``."""
    while True:
        iterator = iter(batches)
        empty = True
        for batch in iterator:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_range_test: batches yielded no batch")
        if iterator is batches:
            return


def _items_of(items: ItemsArg, name: str | None) -> int | Tensor | None:
    """The items of one shell (``name=None``) or of the group member ``name``."""
    if not isinstance(items, Mapping):
        return items
    if name is None:
        raise ValueError(
            "num_items: an OptimScheduler takes one count per micro-step, not a dict (a dict "
            "by member is for an OptimSchedulerGroup)"
        )
    if name not in items:
        present = ", ".join(repr(k) for k in items)
        raise ValueError(f"num_items has no entry for {name!r}; keys present: {present}")
    return items[name]


@attrs.define
class _Points:
    """The points of the sweep so far and why it stopped (:class:`LrRangeResult`'s fields)."""

    lrs: list[float] = attrs.field(factory=list)
    losses: list[float] = attrs.field(factory=list)
    smoothed: list[float] = attrs.field(factory=list)
    skipped: list[str | None] = attrs.field(factory=list)
    stop_reason: str = STOP_OUT_OF_BATCHES


class _WindowLoss:
    """The loss of the open window: per member, the sum of its micro-steps' losses (on the
    device, no host read) and of its items (Python counts on the host, Tensor counts on the
    device; the micro-steps themselves without ``num_items``)."""

    def __init__(self, shells: list[OptimScheduler], names: list[str | None]) -> None:
        self.shells = shells
        self.names = names
        self.device = shells[0].trainable_parameters[0].device
        self.dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self.distributed = any(s.distributed for s in shells) and dist.is_initialized()
        self._clear()

    def _clear(self) -> None:
        count = len(self.shells)
        self.device_sums = torch.zeros(2 * count, dtype=self.dtype, device=self.device)
        self.host_items = [0.0] * count

    def add(self, losses: Losses, items: ItemsArg) -> None:
        """Add one micro-step's losses (``losses`` as ``step()`` took them) and items."""
        parts = []
        for i, (shell, name) in enumerate(zip(self.shells, self.names, strict=True)):
            loss = pick_loss(losses, shell.optim_loss or "loss", shell.optim_loss)
            count = _items_of(items, name)
            parts.append(loss.detach().reshape(()).to(self.device, self.dtype))
            if isinstance(count, Tensor):
                parts.append(count.detach().reshape(()).to(self.device, self.dtype))
            else:
                parts.append(torch.zeros((), dtype=self.dtype, device=self.device))
                self.host_items[i] += 1.0 if count is None else float(count)
        self.device_sums += torch.stack(parts)

    def read(self) -> float:
        """The window's loss, summed over the members (each: its losses over its items, over
        all ranks under DDP), read in one host sync; then start the next window."""
        host = [0.0] * (2 * len(self.shells))
        host[1::2] = self.host_items
        if self.distributed:
            sums = self.device_sums + torch.tensor(host, dtype=self.dtype).to(self.device)
            dist.all_reduce(sums)
            values = sums.tolist()
        else:
            values = [a + b for a, b in zip(self.device_sums.tolist(), host, strict=True)]
        self._clear()
        return float(sum(values[i] / values[i + 1] for i in range(0, len(values), 2)))


def lr_range_test(
    owner: OptimScheduler | OptimSchedulerGroup,
    batches: Iterable[B],
    loss_fn: Callable[[B], Losses],
    *,
    num_items: Callable[[B], ItemsArg] | None = None,
    model: nn.Module | None = None,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_updates: int = 100,
    mode: str = "exponential",
    smoothing: float = 0.98,
    diverge: float | None = 4.0,
) -> LrRangeResult:
    """Run an lr range test on ``owner`` (a shell or a group) and put everything back.

    Args:
        owner: the :class:`~optimsche.OptimScheduler` or :class:`~optimsche.OptimSchedulerGroup`
            of the run; it is not stepped, and it, its optimizer(s) and the model are exactly
            as before when the test returns or raises.
        batches: the micro-batches, ``accum_grad`` per update (restarted when exhausted if it
            can be iterated again).
        loss_fn: ``batch -> losses`` (what ``step()`` takes: one loss tensor or a dict holding
            each shell's ``optim_loss``), the forward; it runs under the shell's ``autocast()``.
        num_items: ``batch -> num_items`` of ``step()`` (the items the losses sum over; for a
            group one count or a dict by member), or ``None``.
        model: the model whose state (buffers included) is saved and restored; default the
            shells' own ``model``. The parameters of the optimizers are saved in any case.
        min_lr, max_lr: the lr of the first and the last update (``0 < min_lr < max_lr``).
        num_updates: the updates of the full sweep (>= 2).
        mode: ``"exponential"`` (geometric steps) or ``"linear"``
            (:mod:`optimsche.lr_range.sweep`).
        smoothing: the ``beta`` of the smoothed loss, in ``[0, 1)`` (0: no smoothing).
        diverge: stop once the smoothed loss exceeds ``diverge`` times its best (> 1), or
            ``None`` to run every update.

    Returns:
        the :class:`~optimsche.lr_range.result.LrRangeResult` (lrs, raw and smoothed losses,
        the suggested lr, ``plot()``).
    """
    shells = _check_owner(owner)
    _check_settings(min_lr, max_lr, num_updates, mode, smoothing, diverge)
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be a callable batch -> losses, got {loss_fn!r}")
    if num_items is not None and not callable(num_items):
        raise ValueError(
            f"num_items must be a callable batch -> num_items or None, got {num_items!r}"
        )
    if not isinstance(batches, Iterable):
        raise ValueError(f"batches must be an iterable of batches, got {type(batches).__name__}")
    models = _models(shells, model)
    sweep = sweep_schedule(float(min_lr), float(max_lr), num_updates, mode)
    saved = SavedTraining.capture(owner, models)
    try:
        for p in saved.parameters:
            p.grad = None  # the test's windows start empty, also when the run's is open
        runner = stand_in(owner, sweep)
        points = _sweep(
            runner, _batches(batches), loss_fn, num_items, sweep, num_updates, smoothing, diverge
        )
    finally:
        saved.restore()
    return LrRangeResult(
        lrs=tuple(points.lrs),
        losses=tuple(points.losses),
        smoothed=tuple(points.smoothed),
        skipped=tuple(points.skipped),
        stop_reason=points.stop_reason,
        mode=mode,
        min_lr=float(min_lr),
        max_lr=float(max_lr),
        num_updates=num_updates,
    )


def _sweep(
    runner: OptimScheduler | OptimSchedulerGroup,
    batches: Iterator[B],
    loss_fn: Callable[[B], Losses],
    num_items: Callable[[B], ItemsArg] | None,
    sweep: Callable[[int], float],
    num_updates: int,
    smoothing: float,
    diverge: float | None,
) -> _Points:
    """The loop of :func:`lr_range_test` on the stand-in ``runner`` (module doc)."""
    shells = _shells(runner)
    names: list[str | None] = [None] if isinstance(runner, OptimScheduler) else list(runner)
    window = _WindowLoss(shells, names)
    autocast = shells[0].autocast
    smoother = SmoothedLoss(smoothing)
    points = _Points()
    lrs, losses, smoothed, skipped = points.lrs, points.losses, points.smoothed, points.skipped
    best = math.inf
    for batch in batches:
        with autocast():
            micro_losses = loss_fn(batch)
        items = None if num_items is None else num_items(batch)
        if isinstance(runner, OptimScheduler):
            reports = [runner.step(micro_losses, num_items=_items_of(items, None))]
        else:
            reports = list(runner.step(micro_losses, num_items=items).values())
        window.add(micro_losses, items)
        due = [r for r in reports if r.updated or r.skipped is not None]
        if not due:
            continue
        update = len(lrs) + 1
        loss = window.read()
        value = smoother.add(loss)
        reasons = [r.skipped for r in due if r.skipped is not None]
        lrs.append(float(sweep(update)))
        losses.append(loss)
        smoothed.append(value)
        skipped.append(reasons[0] if reasons else None)
        if not math.isfinite(loss) or SKIP_NONFINITE in reasons:
            points.stop_reason = STOP_NONFINITE
            break
        if diverge is not None and update > 1 and best > 0 and value > diverge * best:
            points.stop_reason = STOP_DIVERGED
            break
        best = min(best, value)
        if update == num_updates:
            points.stop_reason = STOP_COMPLETED
            break
    return points
