"""A pure schedule as a real ``torch.optim.lr_scheduler.LRScheduler``.

For code that expects a torch scheduler next to a torch optimizer: PyTorch Lightning's
``configure_optimizers``, transformers' ``Trainer(optimizers=(optimizer, scheduler))``, or a
hand-written loop.

The step clock. ``last_epoch`` counts the ``scheduler.step()`` calls made so far (0 right
after construction, as in torch). The lr in effect after ``n`` calls, which the *next*
optimizer update uses, is::

    lr_g = factor_g · ft_factor · schedule(real_step(n + 1, accum_grad))

for param group ``g``, where ``factor_g`` is torch ``LambdaLR``'s rule
(:mod:`optimsche.optimizer.group_rule`): the schedule gives the *reference* group's lr (the first
whose initial lr is not 0) and every other group keeps its initial ratio to it (a group at 0 stays
at 0), or takes its ``lr_scale`` entry as its factor. ``schedule`` may be a list with one schedule
per param group (``LambdaLR`` with a list of lambdas); then ``factor_g`` is the group's ``lr_scale``
or 1. The initial lrs are the groups' ``initial_lr`` entries when they have them (a resumed
optimizer's), else their ``lr``: torch's ``base_lrs``, which ``state_dict()`` saves, so a resumed
scheduler keeps the ratios. So with ``accum_grad = 1`` (call ``scheduler.step()`` once per optimizer
update, as Lightning and transformers do) the k-th update uses ``schedule(k)``, 1-based: the same lr
as the k-th update of an :class:`~optimsche.OptimScheduler` on that schedule, of SpeeChain's and
ESPnet's Noam schedulers, and of :func:`schedules.noam` as documented.

0-based ports. torch's own schedulers (``LambdaLR``: ``f(0)`` at construction, ``f(k)`` after the
k-th ``step()``), transformers' ``get_*_schedule_with_warmup``, timm and optax hand their k-th
update ``f(k - 1)``. ``count_from=0`` counts the same way: the clock the schedule sees is
``real_step(n + 1, accum_grad) - 1 + count_from`` (``count_from=1``, the default, is the 1-based
clock above; any int ``>= 0`` is the value the first update sees). So ``as_lr_scheduler(optimizer,
f, count_from=0)`` reproduces a torch/transformers/timm/optax formula ``f`` update for update,
picklable, without a lambda.

With ``accum_grad = a`` the scheduler runs on the micro-step clock of a hand-written loop
that calls ``scheduler.step()`` after every backward: the ``n + 1``-th micro-step belongs to
window ``real_step(n + 1, a) = n // a + 1`` and every micro-step of a window sees the same lr.

The schedule gives the reference group's absolute learning rate; the optimizer's own ``lr``
is overwritten at construction (torch keeps it as ``initial_lr``/``base_lrs``). A Tensor lr stays a
Tensor, filled in place. Every lr is checked before anything is written: a schedule giving NaN, an
infinity or a negative value raises a ``ValueError`` and the scheduler and the optimizer stay as
they were. ``state_dict()`` holds the counters only, never the schedule (a lambda is fine); rebuild
the scheduler with the same schedule and load it to resume.

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

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from optimsche.optimizer.checked_value import check_value, describe_schedule
from optimsche.optimizer.group_entry import GroupEntry
from optimsche.optimizer.group_rule import GroupRule, group_rule
from optimsche.optimizer.param_group_values import write_group_value
from optimsche.optimizer.scheduled_entries import schedule_sources
from schedules import real_step
from schedules.validation import require_count, require_int, require_positive

_STATE_KEYS = ("last_epoch", "_step_count", "base_lrs", "_last_lr", "accum_grad", "count_from")
_OPTIONAL_KEYS = {"count_from": 1}
"""Keys a state_dict may lack (saved before they existed), with the value they meant."""
_ROLE = "as_lr_scheduler"
_LR = GroupEntry(key="lr", name="lr")

Schedule = Callable[[int], float]


class ScheduleLR(LRScheduler):
    """An ``LRScheduler`` whose lr is ``ft_factor · schedule(real_step(last_epoch + 1,
    accum_grad) - 1 + count_from)`` for the reference param group, the others following by
    the per-group rule. See the module docs."""

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: Schedule | Sequence[Schedule],
        *,
        accum_grad: int = 1,
        ft_factor: float = 1.0,
        count_from: int = 1,
    ) -> None:
        if not callable(schedule) and not isinstance(schedule, list | tuple):
            raise TypeError(
                f"schedule must be a callable step -> lr (or a list of them, one per param "
                f"group), got {schedule!r}"
            )
        self.accum_grad = require_count("accum_grad", accum_grad)
        self.ft_factor = require_positive("ft_factor", ft_factor)
        self.count_from = require_int("count_from", count_from, minimum=0)
        groups = optimizer.param_groups
        self._sources, per_group = schedule_sources(
            "lr", schedule, len(groups), role=f"{_ROLE}: schedule"
        )
        self._rule: GroupRule = group_rule(
            _LR,
            groups,
            per_group=per_group,
            role=_ROLE,
            initial=[group.get("initial_lr", group["lr"]) for group in groups],
        )
        self.schedule = schedule
        super().__init__(optimizer)

    def _scheduled(self, calls: int) -> list[float]:
        """The checked scheduled lr(s) after ``calls`` ``step()`` calls (before the groups'
        factors): one, or one per param group; each ``ft_factor · schedule(real_step(calls +
        1, accum_grad) - 1 + count_from)``, checked to be a finite number ``>= 0`` (a
        ``ValueError`` naming the schedule, the step it saw and the value otherwise:
        :func:`~optimsche.optimizer.checked_value.check_value`)."""
        real = real_step(calls + 1, self.accum_grad) - 1 + self.count_from
        lrs = []
        for schedule in self._sources:
            value = check_value("lr", schedule(real), schedule=schedule, t=real)
            scaled = f"ft_factor={self.ft_factor!r} · {describe_schedule(schedule)}"
            lrs.append(check_value("lr", self.ft_factor * value, schedule=scaled, t=real))
        return lrs

    def lr_at(self, calls: int) -> float:
        """The reference lr (``ft_factor`` included, before the groups' factors) after
        ``calls`` ``step()`` calls: ``ft_factor · schedule(real_step(calls + 1, accum_grad) - 1
        + count_from)`` (with one schedule per group, the first group's schedule)."""
        return self._scheduled(calls)[0]

    def get_lr(self) -> list[float | Tensor]:
        """The lr of every param group for the current ``last_epoch`` (use
        :meth:`get_last_lr` to read the lr in effect)."""
        return list(self._rule.values(self._scheduled(self.last_epoch)))

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        return self.get_lr()

    def step(self, epoch: int | None = None) -> None:
        """torch's ``step()``; a refused one (a schedule value that is not a finite number
        ``>= 0``) changes nothing: torch counts the call before the lr is computed, so the
        count is put back."""
        step_count = self._step_count
        try:
            super().step(epoch)
        except BaseException:
            self._step_count = step_count
            raise

    def _update_lr(self, epoch: int | None = None) -> None:
        """torch's hook of ``step()``: the lrs of the next ``last_epoch`` (``epoch`` when
        given), computed and checked *before* the counter moves, then written through the
        one param-group writer (:mod:`optimsche.optimizer.group_rule`)."""
        calls = self.last_epoch + 1 if epoch is None else epoch
        scheduled = self._scheduled(calls)
        self.last_epoch = calls
        self._rule.write(self.optimizer.param_groups, scheduled)
        self._last_lr = current_lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """The counters (``last_epoch``, ``_step_count``, ``base_lrs``, ``_last_lr``),
        ``accum_grad`` and ``count_from``; the schedule is not saved."""
        return {key: self.__dict__[key] for key in _STATE_KEYS}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counters of :meth:`state_dict` and set the optimizer's lr to match.

        The groups' factors are derived again from the saved ``base_lrs`` (the initial lrs
        of the run being resumed). Raises ``ValueError``, changing nothing, when a key is
        missing, the checkpoint was made with another ``accum_grad`` (its step count would
        mean other windows) or ``count_from`` (a state_dict without one was saved with 1), or
        its ``base_lrs`` do not fit the param groups.
        """
        state_dict = _OPTIONAL_KEYS | dict(state_dict)
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
        if state_dict["count_from"] != self.count_from:
            raise ValueError(
                f"the checkpoint was saved with count_from={state_dict['count_from']!r} but this "
                f"scheduler has count_from={self.count_from!r} (its steps would mean other "
                f"schedule values)"
            )
        base_lrs = state_dict["base_lrs"]
        groups = self.optimizer.param_groups
        if not isinstance(base_lrs, list | tuple) or len(base_lrs) != len(groups):
            raise ValueError(
                f"the checkpoint's base_lrs {base_lrs!r} do not fit the optimizer's "
                f"{len(groups)} param group(s)"
            )
        rule = group_rule(
            _LR, groups, per_group=self._rule.per_group, role=f"{_ROLE}: base_lrs", initial=base_lrs
        )
        last_epoch = state_dict["last_epoch"]
        lrs = rule.values(self._scheduled(last_epoch))
        for key in _STATE_KEYS:
            setattr(self, key, state_dict[key])
        self._rule = rule
        for group, lr in zip(groups, lrs, strict=True):
            write_group_value(group, "lr", lr)
        self._last_lr = current_lrs(self.optimizer)

    def __repr__(self) -> str:
        return (
            f"ScheduleLR(schedule={self.schedule!r}, accum_grad={self.accum_grad}, "
            f"ft_factor={self.ft_factor}, count_from={self.count_from}, "
            f"last_epoch={self.last_epoch})"
        )


def current_lrs(optimizer: Optimizer) -> list[float | Tensor]:
    """Each group's lr, a Tensor one copied (torch's ``get_last_lr`` promise)."""
    return [
        g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"] for g in optimizer.param_groups
    ]


def as_lr_scheduler(
    optimizer: Optimizer,
    schedule: Schedule | Sequence[Schedule],
    *,
    accum_grad: int = 1,
    ft_factor: float = 1.0,
    count_from: int = 1,
) -> ScheduleLR:
    """Wrap ``schedule`` (a callable ``step -> lr``) as a ``torch.optim.lr_scheduler.LRScheduler``
    over ``optimizer``.

    After ``n`` calls of ``step()`` the reference param group's lr (the first whose initial
    lr is not 0) is ``ft_factor · schedule(real_step(n + 1, accum_grad))``, and every other
    group keeps its initial ratio to it, or takes its ``lr_scale`` as its factor (torch
    ``LambdaLR``'s rule; a list of schedules gives one per param group). With
    one ``step()`` per optimizer update, the k-th update uses ``schedule(k)`` (1-based, as
    :class:`~optimsche.OptimScheduler`). Construction sets the lr of the first update.
    ``count_from=0`` makes the k-th update use ``schedule(k - 1)``, as torch's ``LambdaLR``,
    transformers, timm and optax do (any int ``>= 0``: the step the first update sees).
    ``state_dict()``/``load_state_dict()`` carry the counters only.
    """
    return ScheduleLR(
        optimizer, schedule, accum_grad=accum_grad, ft_factor=ft_factor, count_from=count_from
    )
