"""A pure schedule as a real ``torch.optim.lr_scheduler.LRScheduler``.

For code that expects a torch scheduler next to a torch optimizer: PyTorch Lightning's
``configure_optimizers``, transformers' ``Trainer(optimizers=(optimizer, scheduler))``, or a
hand-written loop.

The step clock. ``last_epoch`` counts the ``scheduler.step()`` calls made so far (0 right
after construction, as in torch). The lr in effect after ``n`` calls, which the *next*
optimizer update uses, is::

    lr = ft_factor · schedule(real_step(n + 1, accum_grad)) · group.get("lr_scale", 1)

so with ``accum_grad = 1`` (call ``scheduler.step()`` once per optimizer update, as
Lightning and transformers do) the k-th update uses ``schedule(k)``, 1-based: the same lr
as the k-th update of an :class:`~optimsche.OptimScheduler` on that schedule, of SpeeChain's
and ESPnet's Noam schedulers, and of :func:`schedules.noam` as documented. (torch's own
schedulers and transformers' ``get_*_schedule_with_warmup`` hand their k-th update
``f(k - 1)``; wrap ``lambda s: f(s - 1)`` to reproduce them update for update.)

With ``accum_grad = a`` the scheduler runs on the micro-step clock of a hand-written loop
that calls ``scheduler.step()`` after every backward: the ``n + 1``-th micro-step belongs to
window ``real_step(n + 1, a) = n // a + 1`` and every micro-step of a window sees the same lr.

The schedule gives absolute learning rates; the optimizer's own ``lr`` is overwritten at
construction (torch keeps it as ``initial_lr``/``base_lrs``). A Tensor lr stays a Tensor,
filled in place. ``state_dict()`` holds the counters only, never the schedule (a lambda is
fine); rebuild the scheduler with the same schedule and load it to resume.

Recipes::

    # PyTorch Lightning (estimated_stepping_batches: the optimizer steps of the whole fit,
    # with max_epochs or max_steps; trainer.max_steps is -1 under max_epochs)
    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=3e-4)
        total = self.trainer.estimated_stepping_batches
        schedule = functools.partial(schedules.warmup_cosine, peak=3e-4,
                                     warmup=max(1, total // 20), steps=total)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": optimsche.as_lr_scheduler(optimizer, schedule),
                                 "interval": "step"}}

    # transformers
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scheduler = optimsche.as_lr_scheduler(
        optimizer, functools.partial(schedules.noam, d_model=512, warmup=4000))
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   optimizers=(optimizer, scheduler))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from optimsche.optimizer.checked_value import check_value, describe_schedule
from optimsche.optimizer.param_group_values import write_group_value
from schedules import real_step
from schedules.validation import require_count, require_positive

_STATE_KEYS = ("last_epoch", "_step_count", "base_lrs", "_last_lr", "accum_grad")


class ScheduleLR(LRScheduler):
    """An ``LRScheduler`` whose lr is ``ft_factor · schedule(real_step(last_epoch + 1,
    accum_grad))`` times each param group's optional ``lr_scale``. See the module docs."""

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: Callable[[int], float],
        *,
        accum_grad: int = 1,
        ft_factor: float = 1.0,
    ) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule must be a callable step -> lr, got {schedule!r}")
        self.schedule = schedule
        self.accum_grad = require_count("accum_grad", accum_grad)
        self.ft_factor = require_positive("ft_factor", ft_factor)
        super().__init__(optimizer)

    def lr_at(self, calls: int) -> float:
        """The schedule's lr (times ``ft_factor``, before ``lr_scale``) after ``calls``
        ``step()`` calls: ``ft_factor · schedule(real_step(calls + 1, accum_grad))``, checked
        to be a finite number ``>= 0`` (a ``ValueError`` naming the schedule, the real step and
        the value otherwise: :func:`~optimsche.optimizer.checked_value.check_value`)."""
        real = real_step(calls + 1, self.accum_grad)
        value = check_value("lr", self.schedule(real), schedule=self.schedule, t=real)
        scaled = f"ft_factor={self.ft_factor!r} · {describe_schedule(self.schedule)}"
        return check_value("lr", self.ft_factor * value, schedule=scaled, t=real)

    def get_lr(self) -> list[float | Tensor]:
        """The lr of every param group for the current ``last_epoch`` (use
        :meth:`get_last_lr` to read the lr in effect)."""
        lr = self.lr_at(self.last_epoch)
        return [lr * float(group.get("lr_scale", 1.0)) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        return self.get_lr()

    def state_dict(self) -> dict[str, Any]:
        """The counters (``last_epoch``, ``_step_count``, ``base_lrs``, ``_last_lr``) and
        ``accum_grad``; the schedule is not saved."""
        return {key: self.__dict__[key] for key in _STATE_KEYS}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counters of :meth:`state_dict` and set the optimizer's lr to match.

        Raises ``ValueError`` when a key is missing or the checkpoint was made with another
        ``accum_grad`` (its step count would mean other windows).
        """
        missing = [key for key in _STATE_KEYS if key not in state_dict]
        if missing:
            raise ValueError(
                f"not a ScheduleLR state_dict: missing {', '.join(missing)} "
                f"(got keys {', '.join(sorted(state_dict))})"
            )
        if state_dict["accum_grad"] != self.accum_grad:
            raise ValueError(
                f"the checkpoint was saved with accum_grad={state_dict['accum_grad']!r} but this "
                f"scheduler has accum_grad={self.accum_grad!r}"
            )
        for key in _STATE_KEYS:
            setattr(self, key, state_dict[key])
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            write_group_value(group, "lr", lr)
        self._last_lr = [
            g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"]
            for g in self.optimizer.param_groups
        ]

    def __repr__(self) -> str:
        return (
            f"ScheduleLR(schedule={self.schedule!r}, accum_grad={self.accum_grad}, "
            f"ft_factor={self.ft_factor}, last_epoch={self.last_epoch})"
        )


def as_lr_scheduler(
    optimizer: Optimizer,
    schedule: Callable[[int], float],
    *,
    accum_grad: int = 1,
    ft_factor: float = 1.0,
) -> ScheduleLR:
    """Wrap ``schedule`` (a callable ``step -> lr``) as a ``torch.optim.lr_scheduler.LRScheduler``
    over ``optimizer``.

    After ``n`` calls of ``step()`` every param group's lr is
    ``ft_factor · schedule(real_step(n + 1, accum_grad)) · group.get("lr_scale", 1)``: with
    one ``step()`` per optimizer update, the k-th update uses ``schedule(k)`` (1-based, as
    :class:`~optimsche.OptimScheduler`). Construction sets the lr of the first update.
    ``state_dict()``/``load_state_dict()`` carry the counters only.
    """
    return ScheduleLR(optimizer, schedule, accum_grad=accum_grad, ft_factor=ft_factor)
