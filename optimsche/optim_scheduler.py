"""``OptimScheduler``: one object that is the optimizer and the lr scheduler of a training run.

A port of SpeeChain's ``OptimScheduler`` (same constructor, same ``step(losses, time_func,
optim_name, step_num)``, same overridable ``sche_init`` / ``update_lr`` / ``extra_repr_fn``),
with its bugs fixed, plus ``optimizer=`` to wrap a torch optimizer you built and ``schedule=``
to drive it with a pure schedule of :mod:`schedules`.

Semantics of ``step()``, one call per micro-step (one forward and one ``backward``):

* **Micro-steps.** Micro-steps are 1-based; ``step_num=None`` lets the shell count, a given
  ``step_num`` must increase (it may jump; a jump out of a window holding gradients applies
  that window first, see "Partial windows"). The real step (window) is
  ``(step_num - 1) // accum_grad + 1``; the optimizer updates on the last micro-step of a
  window. With ``step_per_update = k`` it takes part, backward *and* update,
  only in windows whose real step is a multiple of ``k`` (other micro-steps return at once).
* **Loss.** ``losses`` is one tensor or a dict; the loss is ``losses[optim_loss or "loss"]``
  and is never modified in place. Without ``num_items`` it is backpropagated as
  ``loss / accum_grad`` (mean over the window); with ``num_items`` the loss is a sum over
  items and the window's gradient is divided by the window's items summed over all ranks
  (see :mod:`optimsche.update.accumulation`): the large batch exactly, for any micro-batch lengths.
* **Backward** reaches only this optimizer's own parameters that require grad
  (``backward(inputs=...)``), so several optimizers on several losses never leak gradients
  into each other (under FSDP, whose optimizer holds sharded parameters that are not leaves
  of the graph, backward reaches every parameter: see
  :func:`optimsche.distributed.backward_inputs`). Under DDP/FSDP (detected from ``model``, or
  ``distributed=True``) the non-final micro-steps of a window run without gradient sync; for
  DDP, whose sync is decided at forward time, the shell arms the next forward after every step
  (:mod:`optimsche.parallel.ddp_sync_rule`: DDP's own all-reduce only where every optimizer on the
  model takes part and they own all its parameters that require grad) and, when a window's
  last forward ran unsynced, all-reduces its gradients itself.
* **Update**, on a window's last micro-step: fp16 gradients are unscaled; with ``num_items``
  the gradients are divided by the items; the total gradient norm of this optimizer's
  gradients (``grad_norm_type``) is computed and, with ``grad_clip``, clipped to it (torch's
  formula). Then **one** host sync reads the norm plus the window's losses (and the scaler's
  overflow flag), all-reduced across ranks under DDP so that every rank decides alike: if
  anything is non-finite the update is skipped (``StepReport.skipped`` = ``"amp_overflow"`` or
  ``"nonfinite"``), else the lr is set and ``optimizer.step()`` runs. The gradients are zeroed
  (set to ``None``) either way and the fp16 scaler is updated. Non-update micro-steps never
  read anything back from the device.
* **Clock** (``clock=``, :mod:`optimsche.update.clock`): what ``t`` the schedule sees:
  ``"update"`` the real step, ``"epoch"`` the ``epoch_num`` every ``step()`` then gives,
  ``"items"`` the items (``num_items``, then required) seen so far over all ranks, up to and
  including the updating window, read in the update's one host sync.
* **Learning rate** of an update: ``ft_factor · update_lr(t) · plateau scale`` is the lr of the
  *reference* param group (the first whose initial lr is not 0); every other group keeps its initial
  ratio to it, or takes its ``lr_scale`` entry as its factor (:mod:`optimsche.optimizer.group_rule`:
  torch ``LambdaLR``'s rule; a group at 0 stays at 0). ``schedule`` may be a sequence with one
  schedule per param group. An ``update_lr(real_step, epoch_num)`` override also gets the epoch.
  ``plateau=`` (:mod:`optimsche.update.plateau`) keeps a :class:`schedules.reduce_on_plateau` state
  that :meth:`observe` feeds (scale 1 without). ``update_lr`` evaluates ``schedule`` (``NoamLr`` and
  ``ExponentDecayLr`` override it). With neither a schedule nor an override (nor ``plateau``) the
  optimizer's own lrs are kept (multiplied once by ``ft_factor`` at construction). A Tensor lr stays
  a Tensor, written in place, so a compiled optimizer step does not recompile
  (``compile_step=True``, :mod:`optimsche.optimizer.compiled_step`).
* **Other hyperparameters**: ``hyperparameters={"weight_decay": s, "betas[0]": s, ...}``
  schedules any param-group entry from the same clock, with the same per-group rule
  (:mod:`optimsche.optimizer.scheduled_entries`); ``ft_factor`` and the plateau scale apply
  to the lr only. Every value is checked (finite, >= 0) before anything is written.
* **Partial windows** (:mod:`optimsche.update.partial_window`): :meth:`flush` applies the open
  window now, as the exact mean over the micro-batches it holds; a ``step_num`` that jumps out
  of an open window flushes it first, the new micro-step's gradient taken at the weights its
  forward saw (``StepReport.flushed`` is the old window's report). Under DDP every rank must
  flush alike.
* **AMP**: ``use_amp=True``/``"fp16"`` gives float16 with a GradScaler, ``"bf16"`` bfloat16
  without (:mod:`optimsche.update.amp`). The forward is yours: run it under :meth:`autocast`.
* **Checkpoints**: :meth:`state_dict` holds the optimizer, the scaler, the counters and,
  mid-window, the partial gradients, so resuming at any micro-step continues bit for bit
  (format and conversions in :mod:`optimsche.checkpoint`). Under DDP/FSDP those partial
  gradients are the saving rank's own (not yet all-reduced): save one file per rank and load
  each on the same rank and world size, or checkpoint at a window boundary, which loads
  anywhere. A mid-window checkpoint loaded on another rank or world size is a ``ValueError``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer

from optimsche.checkpoint import Restored, read_state_dict, to_state_dict
from optimsche.micro_step import MicroStep
from optimsche.optimizer.checked_value import check_value, describe_schedule
from optimsche.optimizer.compiled_step import compiled_step, tensor_entry_names
from optimsche.optimizer.factory import (
    make_optimizer,
    normalize_updated_modules,
    optimizer_parameters,
)
from optimsche.optimizer.group_entry import GroupEntry
from optimsche.optimizer.group_rule import GroupRule, group_rule
from optimsche.optimizer.param_group_values import restore_group_entry, write_group_value
from optimsche.optimizer.scheduled_entries import (
    ScheduledEntry,
    schedule_sources,
    scheduled_entries,
)
from optimsche.parallel.ddp_sync_rule import DdpSyncRule
from optimsche.parallel.distributed import (
    as_full_tensor,
    average_gradients_,
    backward_inputs,
    forward_prepared_sync,
    gradient_sync,
    is_fsdp1,
    is_fsdp2,
    rank,
    resolve_distributed,
    world_size,
)
from optimsche.parallel.rank_agreement import agree_at_construction, agree_before_load
from optimsche.sche_conf import check_sche_conf, sche_conf_keys
from optimsche.speechain_timer import TimeFunc, check_timer, timer
from optimsche.step_report import SKIP_AMP_OVERFLOW, SKIP_NONFINITE, StepReport
from optimsche.update.accumulation import (
    AccumulationWindow,
    check_items,
    check_items_total,
    divide_by_items_,
    items_total,
    next_step_num,
)
from optimsche.update.amp import (
    amp_name,
    autocast,
    found_inf,
    make_scaler,
    rescale_gradients_,
    resolve_amp_dtype,
    scale_snapshot,
)
from optimsche.update.backward_undo import GradSnapshot, restore_grads, snapshot_grads
from optimsche.update.clipping import clip_by_norm_, total_norm
from optimsche.update.clock import check_epoch_num, epoch_use, resolve_clock
from optimsche.update.host_read import read_update_values
from optimsche.update.micro_loss import Losses, pick_loss
from optimsche.update.partial_window import SetAside, mean_factor
from optimsche.update.plateau import resolve_plateau
from optimsche.update.skip_warning import WarningLogger, check_logger, warn_if_skipped
from schedules.plateau_state import PlateauState
from schedules.reduce_on_plateau import read_metric, reduce_on_plateau
from schedules.step_arithmetic import real_step
from schedules.validation import require_count, require_order, require_positive

ScheduledValues = tuple[tuple[float, ...], ...]
"""The checked values of an update: the lr's (none, one, or one per param group), then each
scheduled hyperparameter's (one, or one per param group)."""


class OptimScheduler:
    """The optimizer and the lr scheduler of a training run in one object (see module doc).

    Build the optimizer, ``torch.optim.<optim_type>(params, **optim_conf)`` over the
    parameters of ``updated_modules`` (first-level submodules of ``model``, or dotted paths;
    all of ``model`` when ``None``; DDP/FSDP wrappers are looked through), or wrap an existing
    one with ``optimizer=``.

    Args:
        optim_type: a ``torch.optim`` class name (``"AdamW"``) or a dotted path to one.
        optim_conf: the optimizer's keyword arguments (a dict).
        model: the model (needed with ``optim_type``; with ``optimizer=`` only for DDP/FSDP).
        distributed: ``None`` detects a DDP/FSDP model; ``True`` requires one; ``False`` treats
            the run as single-process.
        optim_loss: the key of the loss in ``losses`` (default ``"loss"``).
        updated_modules: a module name or list of names whose parameters are optimized.
        step_per_update: take part only in every n-th window (real step multiple of n).
        use_amp: ``False``, ``True``/``"fp16"`` (float16 + GradScaler) or ``"bf16"``.
        accum_grad: micro-steps per window (gradient accumulation).
        ft_factor: multiplies every lr (fine-tuning factor).
        grad_clip: clip the total gradient norm to this value (``None``: no clipping; the norm
            is still computed, reported and checked for finiteness).
        grad_norm_type: the norm's order (2.0; ``math.inf`` for the max norm).
        optimizer: an existing optimizer to wrap instead of building one.
        schedule: a pure schedule ``real_step -> lr`` (e.g. ``functools.partial(
            schedules.cosine, peak=1e-3, steps=10_000)``): the reference param group's lr,
            the others keeping their ratios to it; or a list with one schedule per group.
        compile_step: ``True`` or a dict of ``torch.compile`` options: run the optimizer step
            compiled, with Tensor lrs (:mod:`optimsche.optimizer.compiled_step`).
        hyperparameters: param-group key -> schedule (or list of schedules, one per group),
            e.g. ``{"weight_decay": s, "betas[0]": s}``
            (:mod:`optimsche.optimizer.scheduled_entries`).
        clock: what the schedule sees: ``"update"`` (the real step), ``"epoch"`` (the
            ``epoch_num`` of ``step()``) or ``"items"`` (the items seen, with ``num_items``).
        plateau: a :class:`schedules.reduce_on_plateau` rule, or a dict of its arguments: the
            lr is multiplied by its scale, which :meth:`observe` updates.
        **sche_conf: passed to :meth:`sche_init` (``NoamLr``: ``d_model``, ``warmup_steps``);
            keys it does not take are an error.
    """

    def __init__(
        self,
        optim_type: str | None = None,
        optim_conf: Mapping[str, Any] | None = None,
        model: nn.Module | None = None,
        distributed: bool | None = None,
        optim_loss: str | None = None,
        updated_modules: str | Sequence[str] | None = None,
        step_per_update: int = 1,
        use_amp: bool | str = False,
        accum_grad: int = 1,
        ft_factor: float = 1.0,
        grad_clip: float | None = None,
        grad_norm_type: float = 2.0,
        *,
        optimizer: Optimizer | None = None,
        schedule: Callable[[int], float] | Sequence[Callable[[int], float]] | None = None,
        compile_step: bool | Mapping[str, Any] = False,
        hyperparameters: Mapping[str, Any] | None = None,
        clock: str = "update",
        plateau: reduce_on_plateau | Mapping[str, Any] | None = None,
        **sche_conf: Any,
    ) -> None:
        self.accum_grad = require_count("accum_grad", accum_grad)
        self.step_per_update = require_count("step_per_update", step_per_update)
        self.ft_factor = require_positive("ft_factor", ft_factor)
        self.grad_clip = None if grad_clip is None else require_positive("grad_clip", grad_clip)
        self.grad_norm_type = require_order("grad_norm_type", grad_norm_type)
        if optim_loss is not None and not isinstance(optim_loss, str):
            raise ValueError(f"optim_loss must be a loss name (str) or None, got {optim_loss!r}")
        self.optim_loss = optim_loss
        self._loss_key = optim_loss if optim_loss is not None else "loss"
        if model is not None and not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
        self.model = model
        self.updated_modules = normalize_updated_modules(updated_modules)
        self.optimizer = make_optimizer(
            optim_type, optim_conf, optimizer, model=model, updated_modules=self.updated_modules
        )
        self._params = tuple(optimizer_parameters(self.optimizer))
        self._inputs = tuple(p for p in self._params if p.requires_grad)
        if not self._inputs:
            raise ValueError("the optimizer has no parameter that requires grad: nothing to train")
        self._device = self._inputs[0].device
        self._one_device = all(p.device == self._device for p in self._inputs)

        self.distributed = resolve_distributed(distributed, model)
        self._sync_model = model if self.distributed else None
        self._world = world_size() if self.distributed else 1
        self._sync_rule: DdpSyncRule | None = None
        if self.distributed and isinstance(model, DistributedDataParallel):
            # an OptimSchedulerGroup replaces it by one rule for all its members on this model
            self._sync_rule = DdpSyncRule(
                model,
                [(self.accum_grad, self.step_per_update)],
                [type(self).__name__],
                self._inputs,
            )
        # the params backward may reach; None under FSDP (see distributed.backward_inputs)
        self._backward_inputs = backward_inputs(model, self._inputs)

        self.use_amp = use_amp
        self.amp_dtype = resolve_amp_dtype(use_amp)
        self.scaler = make_scaler(self.amp_dtype, self._device.type)

        if not (schedule is None or callable(schedule) or isinstance(schedule, list | tuple)):
            raise ValueError(f"schedule must be a callable real_step -> lr, got {schedule!r}")
        overrides = type(self).update_lr is not OptimScheduler.update_lr
        if schedule is not None and overrides:
            raise ValueError(
                f"schedule= cannot be combined with {type(self).__name__}, whose update_lr "
                f"computes the lr; use OptimScheduler(schedule=...) or drop schedule="
            )
        groups = self.optimizer.param_groups
        self._lr_sources: tuple[Callable[[Any], Any], ...] = ()
        per_group_lr = False
        if schedule is not None:
            self._lr_sources, per_group_lr = schedule_sources(
                "lr", schedule, len(groups), role="schedule"
            )
        self._hyperparameters = scheduled_entries(hyperparameters, groups)
        self.schedule = schedule
        self.clock = resolve_clock(clock)
        self.plateau = resolve_plateau(plateau)
        self._plateau_state: PlateauState | None = None
        if self.plateau is not None:
            self._plateau_state = self.plateau.init()
        self._lr_epoch = epoch_use(self.update_lr)  # read once, not per update
        self._epoch_needed_by = self._epoch_requirement()
        self._scheduled = schedule is not None or overrides or self.plateau is not None
        self._lr_rule: GroupRule | None = None
        if self._scheduled:
            self._lr_rule = group_rule(
                GroupEntry(key="lr", name="lr"), groups, per_group=per_group_lr, role="lr"
            )
        reference = 0 if self._lr_rule is None else self._lr_rule.reference or 0
        self._reference_lr = float(groups[reference]["lr"])
        """The initial lr of the reference param group (the first whose lr is not 0)."""
        self._initial_lr = self._reference_lr
        if not self._scheduled and self.ft_factor != 1.0:
            for group in self.optimizer.param_groups:
                write_group_value(group, "lr", group["lr"] * self.ft_factor)
        self._lr = float(self.optimizer.param_groups[0]["lr"])

        self._step_num = 0
        self._epoch_num: float | None = None  # the last epoch given
        self._items_seen: int | float = 0  # over all ranks, in the windows this shell ran
        self._flushed_after: int | None = None
        self._window = AccumulationWindow()
        self._last_backward: tuple[int, GradSnapshot, Any] | None = None
        self._optimizer_step: Callable[[], object] = self.optimizer.step
        if compile_step is not False:
            tensors = tensor_entry_names(entry.rule.entry.name for entry in self._hyperparameters)
            if compile_step is True:
                self._optimizer_step = compiled_step(self.optimizer, tensor_entries=tensors)
            elif isinstance(compile_step, Mapping):
                self._optimizer_step = compiled_step(
                    self.optimizer, compile_step, tensor_entries=tensors
                )
            else:
                raise ValueError(
                    f"compile_step must be False, True or a dict of torch.compile options, "
                    f"got {compile_step!r}"
                )
        self.compile_step = compile_step

        if type(self).sche_init is OptimScheduler.sche_init:
            valid: list[str] | None = []
        else:
            valid = sche_conf_keys(self.sche_init)
        check_sche_conf(type(self).__name__, valid, sche_conf)
        self.sche_init(**sche_conf)
        self._arm_next()
        # nothing lost (issue 20): the ranks compare their settings (parallel.rank_agreement)
        agree_at_construction(self)

    # ----------------------------------------------------------------- construction helpers
    def _epoch_requirement(self) -> str | None:
        """Why every ``step()`` must give ``epoch_num`` (for the message), or ``None``."""
        if self.clock == "epoch":
            return "clock='epoch' schedules by the epoch"
        if self._lr_epoch == "required":
            return (
                f"{type(self).__name__}.update_lr(real_step, epoch_num) computes the lr from "
                f"the epoch"
            )
        return None

    # ----------------------------------------------------------------- overridable hooks
    def sche_init(self, *args: Any, **sche_conf: Any) -> None:
        """Initialise the scheduling part from ``**sche_conf`` (a hook for subclasses).

        Called at the end of ``__init__`` with the constructor's extra keyword arguments, after
        they were checked against this method's keyword parameters. The base class takes none
        (it is driven by ``schedule=`` or keeps the optimizer's lr).
        """

    def update_lr(self, real_step: int) -> float:
        """The lr of an update at clock value ``real_step`` (the real step, 1-based, with the
        default ``clock="update"``; the epoch or the items seen with the other clocks), before
        ``ft_factor`` and the plateau scale.

        The value is the reference param group's lr (see the module doc). The base class
        evaluates ``schedule(real_step)`` (with one schedule per group, the first group's);
        without a schedule it returns the optimizer's initial lr (the reference group's, at
        construction). Subclasses override it (SpeeChain's ``NoamLr``); an override
        ``update_lr(real_step, epoch_num)`` (SpeeChain HEAD's) is also given the ``epoch_num``
        of ``step()``, and one without a default for ``epoch_num`` makes it required. Called
        once per update, on the host.
        """
        if self.schedule is None:
            return self._initial_lr
        source = self._lr_sources[0]
        return check_value("lr", source(real_step), schedule=source, t=real_step)

    def extra_repr_fn(self) -> str:
        """The subclass-specific part of ``repr(self)`` (the base shows its ``schedule``)."""
        return "" if self.schedule is None else f"schedule={self.schedule!r}"

    # ----------------------------------------------------------------- public API
    @property
    def step_num(self) -> int:
        """The last micro-step run (0 before the first ``step()``)."""
        return self._step_num

    def get_lr(self) -> float:
        """The lr the first param group got at the last update, ``ft_factor`` and the plateau
        scale included (and its factor of :mod:`optimsche.optimizer.group_rule`); before the
        first update, the lr of the first param group."""
        return self._lr

    @property
    def items_seen(self) -> int | float:
        """The items (``num_items``) of every window this shell updated or skipped so far,
        summed over all ranks: the clock of ``clock="items"`` (0 without ``num_items``)."""
        return self._items_seen

    @property
    def plateau_state(self) -> PlateauState | None:
        """The state of the ``plateau`` rule (``None`` without one)."""
        return self._plateau_state

    @property
    def requires_epoch_num(self) -> bool:
        """Whether every ``step()`` must give ``epoch_num`` (``clock="epoch"``, or an
        ``update_lr(real_step, epoch_num)`` override that needs it)."""
        return self._epoch_needed_by is not None

    def update_lr_at(self, t: float, epoch_num: float | None = None) -> float:
        """``update_lr(t)`` as an update calls it: with ``epoch_num`` too when the override
        takes one (before ``ft_factor`` and the plateau scale). The value is returned as the
        override gave it; :meth:`checked_lr` checks it."""
        if self._lr_epoch == "none":
            return self.update_lr(t)  # type: ignore[arg-type]  # t: the clock value
        return self.update_lr(t, epoch_num)  # type: ignore[call-arg, arg-type]

    def observe(self, metric: float | Tensor) -> None:
        """Feed the ``plateau`` rule one evaluation of its metric (a number or a one-element
        Tensor, read on the host): the lr of the next updates is scaled by its new
        ``state.scale``. A metric that is not a finite number, or a shell without a plateau
        rule, is a ``ValueError``; nothing changes then."""
        rule, state = self.plateau, self._plateau_state
        if rule is None or state is None:
            raise ValueError(
                f"observe: this {type(self).__name__} has no plateau rule; build it with "
                f"plateau=schedules.reduce_on_plateau(...) (or plateau={{...}} in a config)"
            )
        self._plateau_state = rule.update(state, read_metric(metric))

    def flush(
        self, *, update_scaler: bool = True, logger: WarningLogger | None = None
    ) -> StepReport | None:
        """Apply the open window now (:mod:`optimsche.update.partial_window`) and return its
        :class:`StepReport`; ``None`` (and nothing changes) when no window is open.

        The update is the exact mean over the micro-batches the window holds (or over their
        items with ``num_items``), as if the window had been that long. The window is then
        closed: with ``step_num=None`` the next micro-step is the first of the next window; a
        ``step_num`` inside the closed one is a ``ValueError``. Under DDP every rank must flush
        alike; under FSDP it is refused. ``update_scaler=False`` leaves the fp16 scaler's
        update to the caller (a group); ``logger`` is warned if the update was skipped.
        """
        check_logger(logger)
        window = self._window
        if not window.real_step:
            return None
        self._check_partial_windows_allowed("flush()")
        end = window.real_step * self.accum_grad
        report = self._apply_partial_window(update_scaler=update_scaler)
        self._flushed_after = self._step_num
        self._step_num = end
        self._arm_next()
        warn_if_skipped(logger, report)
        return report

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """A context for the forward pass: ``torch.autocast`` with this shell's AMP dtype on
        its parameters' device type, or a no-op without AMP."""
        return autocast(self.amp_dtype, self._device.type)

    def step(
        self,
        losses: Losses,
        time_func: TimeFunc | None = None,
        optim_name: str | None = None,
        step_num: int | None = None,
        epoch_num: float | None = None,
        logger: WarningLogger | None = None,
        *,
        num_items: int | Tensor | None = None,
    ) -> StepReport:
        """Run one micro-step: backward of the loss and, at a window's end, the update.

        ``losses``: one tensor or a dict holding ``optim_loss`` (default ``"loss"``).
        ``time_func``/``optim_name``: SpeeChain's timer, entered as
        ``time_func(["loss_backward_time", optim_name])`` around the backward and
        ``time_func(["optim_time", optim_name])`` around the update. ``step_num``: the 1-based
        micro-step (``None``: the next one; a jump out of an open window applies it first).
        ``epoch_num``: SpeeChain's 1-based epoch (required with ``clock="epoch"`` or an
        ``update_lr(real_step, epoch_num)`` override; never going backwards). ``logger``: a
        ``logging.Logger``, warned once per skipped update. ``num_items``: the items (tokens)
        the loss sums over, an int or a one-element tensor (see the module doc). Returns a
        :class:`StepReport`. Written in the phase API that :class:`OptimSchedulerGroup` uses.
        """
        check_logger(logger)
        check_timer(time_func, optim_name)
        micro = self.prepare(losses, step_num, epoch_num=epoch_num, num_items=num_items)
        aside = self.set_aside(micro)
        if micro.takes_part:
            timing = timer(time_func, "loss_backward_time", optim_name)
            if aside is None:
                self.backward(micro, timer=timing)
            else:
                with self.restoring(aside):
                    self.backward(micro, timer=timing)
        try:
            flushed = None if aside is None else self.apply_set_aside(aside)
        finally:  # a flushed window refused at its sync still leaves this micro-step run
            self.advance(micro)
        if micro.updates:
            timing = timer(time_func, "optim_time", optim_name)
            report = self.update(micro, timer=timing)
        else:
            report = self.idle_report(micro)
        if flushed is not None:
            report = attrs.evolve(report, flushed=flushed)
        warn_if_skipped(logger, report, optim_name)
        return report

    # ----------------------------------------------------------------- the phase API
    # One micro-step is prepare -> backward (if it takes part) -> advance -> update (if its
    # window ends) or idle_report. step() is exactly that; OptimSchedulerGroup runs the phases
    # of all members itself: every prepare, then every backward, then every update.
    @property
    def parameters(self) -> tuple[nn.Parameter, ...]:
        """Every parameter of the optimizer's param groups, in order, each once."""
        return self._params

    @property
    def trainable_parameters(self) -> tuple[nn.Parameter, ...]:
        """The :attr:`parameters` that require grad: those a backward reaches."""
        return self._inputs

    @property
    def ddp_model(self) -> DistributedDataParallel | None:
        """The DDP model whose gradient sync this shell arms, or ``None``."""
        rule = self._sync_rule
        return None if rule is None else rule.model

    def share(self, *, scaler: torch.amp.GradScaler | None, sync_rule: DdpSyncRule | None) -> None:
        """Use the GradScaler and the DDP sync rule of a group of shells (one call, made by
        :class:`OptimSchedulerGroup` at construction): ``scaler`` replaces this shell's own
        (both or neither fp16), ``sync_rule`` (over this shell's DDP model) its rule."""
        if (scaler is None) != (self.scaler is None):
            raise ValueError(
                "share: a shared GradScaler goes to fp16 shells only (and every fp16 shell "
                "needs one)"
            )
        if (sync_rule is None) != (self._sync_rule is None) or (
            sync_rule is not None and sync_rule.model is not self.ddp_model
        ):
            raise ValueError("share: a shared DDP sync rule must be over this shell's DDP model")
        self.scaler = scaler
        self._sync_rule = sync_rule

    def prepare(
        self,
        losses: Losses,
        step_num: int | None = None,
        *,
        epoch_num: float | None = None,
        num_items: int | Tensor | None = None,
    ) -> MicroStep:
        """Check one micro-step's arguments and say what it means for this shell.

        Changes nothing: every argument is validated here (the loss and ``num_items`` when
        this shell takes part, and, when the micro-step ends a window, the lr and the
        scheduled hyperparameters of its update: :meth:`checked_lr`), so a refused call leaves
        the shell as it was, before any backward.
        """
        n = next_step_num(self._step_num, step_num, self._flushed_after)
        real = real_step(n, self.accum_grad)
        open_window = self._window.real_step
        leaves = open_window if open_window and real != open_window else 0
        if leaves:
            self._check_partial_windows_allowed(
                f"step_num={n} jumping out of window {open_window} (which holds gradients)"
            )
        epoch = check_epoch_num(epoch_num, self._epoch_num, needed_by=self._epoch_needed_by)
        if num_items is None and self.clock == "items":
            raise ValueError(
                "num_items is required: clock='items' schedules by the items seen; pass "
                "step(..., num_items=...) on every micro-step"
            )
        part = real % self.step_per_update == 0
        ends = n % self.accum_grad == 0
        items = None if num_items is None else check_items(num_items)
        loss = None
        if part:
            loss = pick_loss(losses, self._loss_key, self.optim_loss)
            # a micro-step jumping out of the open window starts a window of its own; under
            # DDP a window's items are summed over ranks: checked at the update's sync, where
            # every rank sees the same total and refuses alike
            window = AccumulationWindow() if leaves else self._window
            window.check_next(real, items, ends_window=ends and not self.distributed)
        return MicroStep(
            step_num=n,
            real_step=real,
            takes_part=part,
            ends_window=ends,
            loss=loss,
            num_items=items,
            epoch_num=epoch,
            leaves_window=leaves,
            values=self._early_values(real, epoch) if part and ends else None,
        )

    def checked_lr(self, t: float | None, epoch_num: float | None = None) -> float:
        """``ft_factor · update_lr(t) · plateau scale`` at clock value ``t``, checked to be a
        finite number ``>= 0`` (:func:`~optimsche.optimizer.checked_value.check_value`): a
        ``ValueError`` naming the schedule, the clock value and the value otherwise. Writes
        nothing."""
        overrides = type(self).update_lr is not OptimScheduler.update_lr
        source: object = f"{type(self).__name__}.update_lr" if overrides else self.schedule
        assert t is not None  # prepare() requires epoch_num with clock="epoch"
        lr = check_value("lr", self.update_lr_at(t, epoch_num), schedule=source, t=t)
        return self._scaled_lr(lr, source, t)

    def _scaled_lr(self, lr: float, source: object, t: float) -> float:
        """``ft_factor · lr · plateau scale``, checked (``source`` gave ``lr`` at ``t``)."""
        factor = self.ft_factor
        described = f"ft_factor={self.ft_factor!r} · "
        if self._plateau_state is not None:
            factor *= self._plateau_state.scale
            described += f"plateau scale={self._plateau_state.scale!r} · "
        if factor == 1.0:
            return lr
        return check_value("lr", factor * lr, schedule=described + describe_schedule(source), t=t)

    def set_aside(self, micro: MicroStep) -> SetAside | None:
        """When ``micro`` jumps out of an open window, move that window out of the way of its
        backward (its gradients out of ``param.grad``) and return it for
        :meth:`apply_set_aside`; ``None`` otherwise (:mod:`optimsche.update.partial_window`)."""
        if not micro.leaves_window:
            return None
        grads = [p.grad for p in self._inputs]
        for p in self._inputs:
            p.grad = None
        scale = None if self.scaler is None else scale_snapshot(self.scaler)
        aside = SetAside(grads=grads, window=self._window, scale=scale)
        self._window = AccumulationWindow()
        return aside

    @contextlib.contextmanager
    def restoring(self, aside: SetAside | None) -> Iterator[None]:
        """Around the backward of a micro-step that set a window aside: if it raises, put the
        set-aside window back as it was (what the failed backward left is dropped)."""
        try:
            yield
        except BaseException:
            if aside is not None:
                self._put_back(aside)
            raise

    def apply_set_aside(self, aside: SetAside, *, update_scaler: bool = True) -> StepReport:
        """Apply the window :meth:`set_aside` moved away, as :meth:`flush` would, keeping the
        gradients of the new micro-step (its backward has run) for its own window. With
        ``update_scaler`` the fp16 scaler is updated and those gradients are rescaled to its
        new scale; a group does both itself (:meth:`rescale_gradients`)."""
        new_grads = [p.grad for p in self._inputs]
        new_window = self._window
        self._put_back(aside)
        try:
            report = self._apply_partial_window(update_scaler=update_scaler)
        finally:  # also when that window is refused at its sync: the new one is kept
            for p, grad in zip(self._inputs, new_grads, strict=True):
                p.grad = grad
            self._window = new_window
            if update_scaler:
                self.rescale_gradients(aside.scale)
        return report

    def rescale_gradients(self, scale_before: Tensor | None) -> None:
        """fp16: multiply this shell's gradients, scaled by ``scale_before`` (a device tensor
        from before a scaler update), so that they carry the scaler's current scale. A no-op
        without a scaler."""
        if self.scaler is None:
            return
        grads = [p.grad for p in self._inputs if p.grad is not None]
        rescale_gradients_(grads, self.scaler, scale_before)

    def backward(
        self,
        micro: MicroStep,
        *,
        retain_graph: bool = False,
        timer: contextlib.AbstractContextManager[Any] | None = None,
    ) -> None:
        """Backpropagate ``micro``'s loss into this shell's parameters and record it in the
        open window (``loss / accum_grad``, or the loss itself with ``num_items``; fp16: scaled).
        ``retain_graph`` keeps the graph for a later backward of the same forward.

        The window records the micro-step only once its backward has returned. A backward
        that raises is undone (:mod:`optimsche.update.backward_undo`): gradients that were
        ``None`` before it (all of them on a window's first micro-step) are ``None`` again, so
        the call can be retried. Where it had already accumulated into existing gradients in
        place (a later micro-step of a window), those cannot be put back: the window is then
        marked so that its update is skipped (``StepReport.skipped == "nonfinite"``), and the
        exception says so in a note.
        """
        loss = micro.loss
        if loss is None:
            raise ValueError(f"micro-step {micro.step_num}: this shell takes no part in it")
        scaled = loss
        if micro.num_items is None and self.accum_grad != 1:
            scaled = scaled / self.accum_grad
        if self.scaler is not None:
            scaled = self.scaler.scale(scaled)
        before = snapshot_grads(self._inputs)
        window_before = self._window.state()
        try:
            if timer is None:
                self._run_backward(scaled, final=micro.ends_window, retain_graph=retain_graph)
            else:
                with timer:
                    self._run_backward(scaled, final=micro.ends_window, retain_graph=retain_graph)
        except BaseException as error:
            self._undo_backward(micro, before, error)
            raise
        self._window.add(micro.real_step, loss, micro.num_items)
        self._last_backward = (micro.step_num, before, window_before)

    def retract(self, micro: MicroStep) -> None:
        """Undo the backward of ``micro``, which returned (an :class:`OptimSchedulerGroup`
        whose later member's backward raised undoes the earlier members' with it): the
        window forgets the micro-step and the gradients are put back as :meth:`backward`
        puts them back after a raising backward."""
        last = self._last_backward
        if last is None or last[0] != micro.step_num:
            raise ValueError(f"retract: micro-step {micro.step_num} is not the last backward run")
        _, before, window_before = last
        self._window.restore(window_before)
        self._last_backward = None
        self._undo_backward(micro, before, None)

    def _undo_backward(
        self, micro: MicroStep, before: GradSnapshot, error: BaseException | None
    ) -> None:
        if restore_grads(before):
            return
        if not self._window.losses:
            # nothing of this window was accumulated by the shell: the gradients it changed
            # were left from before the window (the shell's are None between windows)
            for p in self._inputs:
                p.grad = None
            return
        self._window.poison()
        add_note = getattr(error, "add_note", None)
        if add_note is not None:
            add_note(
                f"optimsche: the backward of micro-step {micro.step_num} had already "
                f"accumulated into gradients of window {micro.real_step} in place; they "
                f"cannot be restored, so that window's update will be skipped (nonfinite)"
            )

    def advance(self, micro: MicroStep) -> None:
        """Record ``micro`` as run (:attr:`step_num`, its epoch) and arm DDP for the next
        forward. Its backward can no longer be retracted (the snapshot of the gradients is let
        go)."""
        self._last_backward = None
        self._step_num = micro.step_num
        if micro.epoch_num is not None:
            self._epoch_num = micro.epoch_num
        self._flushed_after = None
        self._arm_next()

    def update(
        self,
        micro: MicroStep,
        *,
        update_scaler: bool = True,
        timer: contextlib.AbstractContextManager[Any] | None = None,
    ) -> StepReport:
        """Apply the window ``micro`` ends (module doc, "Update"): unscale, divide by items,
        norm, clip, the one host sync, the lr, ``optimizer.step()`` unless skipped; then zero
        the gradients and, with ``update_scaler``, update the fp16 scaler (a group updates its
        shared scaler once itself)."""
        if timer is None:
            return self._apply_update(micro, update_scaler=update_scaler)
        with timer:
            return self._apply_update(micro, update_scaler=update_scaler)

    def idle_report(self, micro: MicroStep) -> StepReport:
        """The :class:`StepReport` of a micro-step that did not update."""
        return StepReport(
            step_num=micro.step_num,
            real_step=micro.real_step,
            updated=False,
            skipped=None,
            lr=self._lr,
            grad_norm=None,
        )

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: version, optimizer, scaler, counters, this process's rank and world
        size and, mid-window, the partial gradients (format in :mod:`optimsche.checkpoint`).
        ``torch.load(weights_only=True)`` reads it back. Mid-window under DDP/FSDP it holds
        this rank's own partial gradients: save one file per rank."""
        return to_state_dict(
            optimizer=self.optimizer,
            scaler=self.scaler,
            amp=amp_name(self.amp_dtype),
            step_num=self._step_num,
            accum_grad=self.accum_grad,
            step_per_update=self.step_per_update,
            lr=self._lr,
            params=self._params,
            window=self._window,
            rank=self._rank(),
            world_size=self._world,
            items_seen=self._items_seen,
            epoch_num=self._epoch_num,
            plateau=self._plateau_state,
            group_factors={rule.key: list(rule.factors) for rule in self._group_rules()},
        )

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a checkpoint of :meth:`state_dict` (or SpeeChain's format).

        A checkpoint that does not fit (other optimizer class, parameter shapes, version, an
        accum_grad change mid-window, or a mid-window checkpoint of another rank or world size)
        is refused with a ``ValueError``; documented differences are converted
        (:mod:`optimsche.checkpoint`). A Tensor lr stays the same tensor object. Everything is
        checked before anything is loaded: a refused checkpoint changes nothing.
        """
        # nothing lost (issue 20): all ranks check and compare first (parallel.rank_agreement)
        agree_before_load(self, state_dict)
        self.load_checked_state_dict(self.check_state_dict(state_dict))

    def check_state_dict(self, state_dict: Mapping[str, Any]) -> Restored:
        """Check a checkpoint of :meth:`state_dict` against this shell and convert it, changing
        nothing (a ``ValueError`` when it does not fit); :meth:`load_checked_state_dict` loads
        the result. :class:`OptimSchedulerGroup` checks every member's before it loads any."""
        return read_state_dict(
            state_dict,
            optimizer=self.optimizer,
            scaler=self.scaler,
            accum_grad=self.accum_grad,
            step_per_update=self.step_per_update,
            params=self._params,
            rank=self._rank(),
            world_size=self._world,
            has_plateau=self.plateau is not None,
        )

    def load_checked_state_dict(self, restored: Restored) -> None:
        """Load a checkpoint that :meth:`check_state_dict` checked and converted."""
        lr_rule, hyperparameters = self._restored_rules(restored.group_factors)
        names = {"lr", *(entry.rule.entry.name for entry in self._hyperparameters)}
        own = [{name: group[name] for name in names} for group in self.optimizer.param_groups]
        try:
            self.optimizer.load_state_dict(restored.optimizer)
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            raise ValueError(
                f"OptimScheduler.load_state_dict: the optimizer state does not fit this "
                f"{type(self.optimizer).__name__}: {error}"
            ) from error
        for group, entries in zip(self.optimizer.param_groups, own, strict=True):
            for name, entry in entries.items():
                # keep our entry (a Tensor stays the same object) holding the loaded value
                restore_group_entry(group, name, entry)
        self._lr_rule, self._hyperparameters = lr_rule, hyperparameters
        if restored.scaler is not None and self.scaler is not None:
            self.scaler.load_state_dict(restored.scaler)
        self._step_num = restored.step_num
        self._items_seen = restored.items_seen
        self._epoch_num = restored.epoch_num
        self._flushed_after = None
        if self.plateau is not None:
            state = restored.plateau
            self._plateau_state = state if state is not None else self.plateau.init()
        if restored.lr is not None:
            self._lr = restored.lr
        else:
            self._lr = float(self.optimizer.param_groups[0]["lr"])
        window = self._window
        window.clear()
        for p in self._params:
            p.grad = None
        if restored.grads is not None:
            for p, grad in zip(self._params, restored.grads, strict=True):
                p.grad = grad
            window.losses = [loss.to(self._device) for loss in restored.losses]
            items = restored.items
            window.items = items.to(self._device) if isinstance(items, Tensor) else items
            window.real_step = real_step(restored.step_num, self.accum_grad)
        self._arm_next()

    def __repr__(self) -> str:
        extra = self.extra_repr_fn()
        return (
            f"{type(self).__name__}(optimizer={type(self.optimizer).__name__}, "
            f"optim_loss={self.optim_loss!r}, updated_modules={self.updated_modules!r}, "
            f"accum_grad={self.accum_grad}, step_per_update={self.step_per_update}, "
            f"use_amp={amp_name(self.amp_dtype)!r}, ft_factor={self.ft_factor}, "
            f"grad_clip={self.grad_clip}, grad_norm_type={self.grad_norm_type}"
            + (f", {extra}" if extra else "")
            + ")"
        )

    def _rank(self) -> int:
        """This process's rank for checkpoints: its rank in the default group when the shell
        is distributed, else 0 (and ``self._world`` is 1)."""
        return rank() if self.distributed else 0

    # ----------------------------------------------------------------- private parts
    def _arm_next(self) -> None:
        """DDP decides at forward time whether the backward syncs: arm the next forward
        (:mod:`optimsche.parallel.ddp_sync_rule`)."""
        rule = self._sync_rule
        if rule is not None:
            rule.arm(self._step_num + 1)

    def _run_backward(self, loss: Tensor, *, final: bool, retain_graph: bool) -> None:
        sync_model = self._sync_model
        if sync_model is None:
            torch.autograd.backward(loss, inputs=self._backward_inputs, retain_graph=retain_graph)
            return
        unsynced = final and forward_prepared_sync(sync_model) is False
        with gradient_sync(sync_model, final):
            torch.autograd.backward(loss, inputs=self._backward_inputs, retain_graph=retain_graph)
        if unsynced and self._world > 1:
            # The window's last forward ran with DDP's sync off (the rule of ddp_sync_rule, or
            # step_num jumped): average the gradients across ranks here, as DDP would have.
            average_gradients_(self._inputs, self._world)

    def _put_back(self, aside: SetAside) -> None:
        """The window :meth:`set_aside` moved away becomes the open window again."""
        for p, grad in zip(self._inputs, aside.grads, strict=True):
            p.grad = grad
        self._window = aside.window

    def _check_partial_windows_allowed(self, what: str) -> None:
        """Partial windows need the unsynced gradients of the open window to be averaged by
        the shell, which FSDP cannot do without a backward: refuse them there."""
        if is_fsdp1(self.model) or is_fsdp2(self.model):
            raise ValueError(
                f"{what}: partial windows are not supported under FSDP, whose unsynced "
                f"gradients only a later backward reduces; give consecutive step_num and end "
                f"epochs on a window boundary"
            )

    def _apply_partial_window(self, *, update_scaler: bool) -> StepReport:
        """Apply the open window as the exact mean over the micro-steps it holds
        (:mod:`optimsche.update.partial_window`); the counters are the caller's."""
        window = self._window
        if self.distributed and self._world > 1:
            average_gradients_(self._inputs, self._world)  # its backwards ran unsynced
        factor = mean_factor(self.accum_grad, len(window.losses), window.items is not None)
        if factor != 1.0:
            grads = [p.grad for p in self._inputs if p.grad is not None]
            if grads:
                torch._foreach_mul_(grads, factor)
        micro = MicroStep(
            step_num=self._step_num,
            real_step=window.real_step,
            takes_part=True,
            ends_window=True,
            loss=None,
            num_items=None,
            epoch_num=self._epoch_num,
        )
        return self._apply_update(micro, update_scaler=update_scaler)

    def _schedule_time(self, micro: MicroStep) -> float:
        """The clock value ``t`` of the update ``micro`` ends (module doc, "Clock"): its real
        step, its epoch, or the items seen up to and including its window (read in the
        update's host sync, so call this after it)."""
        if self.clock == "update":
            return micro.real_step
        if self.clock == "epoch":
            assert micro.epoch_num is not None  # prepare() requires it
            return micro.epoch_num
        return self._items_seen

    def _apply_update(self, micro: MicroStep, *, update_scaler: bool) -> StepReport:
        device = self._device
        window = self._window
        scaler = self.scaler
        grads = [p.grad for p in self._inputs if p.grad is not None]
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        items = None
        if window.items is not None:
            items = items_total(window.items, device, self.distributed)
            divide_by_items_(grads, items, self._world)
        norm = total_norm(grads, self.grad_norm_type, device, self._one_device)
        if self.distributed:
            norm = as_full_tensor(norm)  # FSDP2: a sharded norm, reduced here
        if self.grad_clip is not None:
            clip_by_norm_(grads, self.grad_clip, norm, self._one_device)
        check = norm + window.loss_sum(device)
        # The one host sync of the update: the norm plus the losses (finite iff all are), the
        # scaler's overflow flag (summed over ranks so that all ranks agree), and the items.
        overflow_flag = None if scaler is None else found_inf(scaler, self.optimizer, device)
        check_total, overflow, window_items = read_update_values(
            check, overflow_flag, items, self.distributed
        )
        seen_before = self._items_seen
        try:
            # refusals here (a window of no items, an lr known only now) apply nothing
            if window_items is not None:
                check_items_total(window_items, micro.real_step)
                exact = items is not None and not items.is_floating_point()
                self._items_seen += int(window_items) if exact else window_items
            lr = self._apply_values(micro)
            skipped: str | None = None
            if overflow:
                skipped = SKIP_AMP_OVERFLOW
            elif not math.isfinite(check_total):
                skipped = SKIP_NONFINITE
            else:
                self._optimizer_step()
        except ValueError:
            self._items_seen = seen_before  # a refused window counts no items
            raise
        finally:
            # the window closes whatever happened: refused (nothing applied), skipped or applied
            if scaler is not None and update_scaler:
                scaler.update()
            for p in self._inputs:
                p.grad = None
            window.clear()
        return StepReport(
            step_num=micro.step_num,
            real_step=micro.real_step,
            updated=skipped is None,
            skipped=skipped,
            lr=lr,
            grad_norm=norm,
        )

    def _checked_lrs(self, t: float, epoch_num: float | None) -> tuple[float, ...]:
        """The checked lr(s) of an update at clock value ``t``: :meth:`checked_lr`, or with one
        schedule per param group ``ft_factor · schedule_g(t) · plateau scale`` for each; none
        when the lr is not scheduled (the optimizer's own lrs are kept)."""
        rule = self._lr_rule
        if rule is None:
            return ()
        if not rule.per_group:
            return (self.checked_lr(t, epoch_num),)
        return tuple(
            self._scaled_lr(check_value("lr", s(t), schedule=s, t=t), s, t)
            for s in self._lr_sources
        )

    def _scheduled_values(self, t: float, epoch_num: float | None) -> ScheduledValues:
        """Every scheduled value of an update at clock value ``t``, checked, nothing written:
        the lr(s) first (:meth:`_checked_lrs`), then each hyperparameter's, one value or one
        per param group (:mod:`optimsche.optimizer.scheduled_entries`)."""
        lrs = self._checked_lrs(t, epoch_num)
        return (lrs, *(tuple(entry.scheduled(t)) for entry in self._hyperparameters))

    def _early_values(self, real: int, epoch: float | None) -> ScheduledValues | None:
        """The checked values of the update a micro-step ends, when they are known before the
        backward (clocks ``"update"`` and ``"epoch"``); ``None`` for ``clock="items"`` (known
        after the update's host sync) and when nothing is scheduled."""
        if not (self._scheduled or self._hyperparameters) or self.clock == "items":
            return None
        t = real if self.clock == "update" else epoch
        assert t is not None  # prepare() requires epoch_num with clock="epoch"
        return self._scheduled_values(t, epoch)

    def _apply_values(self, micro: MicroStep) -> float:
        """Write the update's checked values into every param group (the ones :meth:`prepare`
        computed, or, with ``clock="items"`` or a flushed window, :meth:`_scheduled_values`
        now, every value checked before any is written): the lr by its per-group rule, then
        each hyperparameter by its; return the lr the first group got."""
        values = micro.values
        if values is None:
            values = self._scheduled_values(self._schedule_time(micro), micro.epoch_num)
        lrs, *hyperparameters = values
        groups = self.optimizer.param_groups
        rule = self._lr_rule
        if rule is not None:
            rule.write(groups, lrs)
            self._lr = rule.first_value(lrs)
        for entry, scheduled in zip(self._hyperparameters, hyperparameters, strict=True):
            entry.rule.write(groups, scheduled)
        return self._lr

    def _group_rules(self) -> list[GroupRule]:
        """The per-group rules of every scheduled key: the lr's (when scheduled) first."""
        rules = [] if self._lr_rule is None else [self._lr_rule]
        return rules + [entry.rule for entry in self._hyperparameters]

    def _restored_rules(
        self, saved: Mapping[str, Any] | None
    ) -> tuple[GroupRule | None, tuple[ScheduledEntry, ...]]:
        """The rules with a checkpoint's factors (``saved``: key -> factors, one per param
        group, checked by :meth:`check_state_dict`; keys this shell does not schedule are
        ignored, keys the checkpoint lacks keep their factors)."""
        where = "OptimScheduler.load_state_dict: group_factors"
        lr_rule = self._lr_rule
        entries = self._hyperparameters
        if saved is None:
            return lr_rule, entries
        if lr_rule is not None and "lr" in saved:
            lr_rule = lr_rule.with_factors(saved["lr"], where)
        entries = tuple(
            entry.with_rule(entry.rule.with_factors(saved[entry.key], where))
            if entry.key in saved
            else entry
            for entry in entries
        )
        return lr_rule, entries
