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
* **Backward** runs in ``step()`` (do not call ``loss.backward()`` yourself: gradients present
  at a window's start are a ``ValueError``, a graph already freed is an error saying so). It
  is restricted to this optimizer's own parameters (``backward(inputs=...)``) only where it
  could reach others: a shell built with ``model=`` owning every parameter of it that requires
  grad backpropagates unrestricted (as a hand-written loop does); one that owns part of the
  model (``updated_modules``), or built with ``optimizer=`` and no ``model=`` (what its loss
  reaches is unknown), is restricted, so several optimizers never leak gradients into each
  other (under FSDP, whose optimizer holds sharded parameters that are not leaves of the
  graph, backward reaches every parameter: see :func:`optimsche.distributed.backward_inputs`).
  Under DDP/FSDP (detected from ``model``, or
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
  including the updating window, read in the update's one host sync. A clock-aware schedule
  (``schedules.on("epoch", f)``, or a combinator of such) is given the whole
  :class:`schedules.Time` of the update and reads the clocks it names; each clock it reads is
  then required on every ``step()`` (``epoch_num``, ``num_items``). ``count_from=0`` makes
  the k-th update evaluate at ``k - 1`` (torch/transformers/timm/optax formulas port as they
  are written): time ``real_step - 1``, the items seen before the window, epochs from 0.
* **Learning rate** of an update: ``ft_factor · update_lr(t) · plateau scale`` is the lr of the
  *reference* param group (the first whose initial lr is not 0); every other group keeps its initial
  ratio to it, or takes its ``lr_scale`` entry as its factor (:mod:`optimsche.optimizer.group_rule`:
  torch ``LambdaLR``'s rule; a group at 0 stays at 0). ``schedule`` may be a sequence with one
  schedule per param group. An ``update_lr(real_step, epoch_num)`` override also gets the epoch.
  ``plateau=`` (:mod:`optimsche.update.plateau`) keeps a metric rule's state
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
* **The machine.** The phases live on :attr:`OptimScheduler.machine`
  (:mod:`optimsche.machine`); :func:`optimsche.machine.orchestrator.run_micro_step` runs them
  for one shell or a group.
* **Checkpoints**: :meth:`state_dict` holds the optimizer, the scaler, the counters and,
  mid-window, the partial gradients, so resuming at any micro-step continues bit for bit
  (format and conversions in :mod:`optimsche.checkpoint`). Under DDP/FSDP those partial
  gradients are the saving rank's own (not yet all-reduced): save one file per rank and load
  each on the same rank and world size, or checkpoint at a window boundary, which loads
  anywhere. A mid-window checkpoint loaded on another rank or world size is a ``ValueError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer

from optimsche.checkpoint import Restored, read_state_dict, to_state_dict
from optimsche.machine.orchestrator import run_one_micro_step
from optimsche.machine.settings import ShellSettings, settings
from optimsche.machine.shell_machine import ShellMachine
from optimsche.machine.state import ShellState
from optimsche.machine.values import ValuesProgram
from optimsche.optimizer.checked_value import check_value, describe_schedule
from optimsche.optimizer.compiled_step import compiled_step, tensor_entry_names
from optimsche.optimizer.factory import (
    make_optimizer,
    normalize_updated_modules,
    optimizer_parameters,
)
from optimsche.optimizer.group_entry import GroupEntry
from optimsche.optimizer.group_rule import group_rule
from optimsche.optimizer.param_group_values import restore_group_entry, write_group_value
from optimsche.optimizer.scheduled_entries import schedule_sources, scheduled_entries
from optimsche.parallel.ddp_sync_rule import DdpSyncRule
from optimsche.parallel.distributed import (
    backward_inputs,
    rank,
    resolve_distributed,
    unwrap,
    world_size,
)
from optimsche.parallel.rank_agreement import agree_at_construction, agree_before_load
from optimsche.sche_conf import check_sche_conf, sche_conf_keys
from optimsche.speechain_timer import TimeFunc, check_timer
from optimsche.step_report import StepReport
from optimsche.update.amp import amp_name, autocast, make_scaler, resolve_amp_dtype
from optimsche.update.clock import clock_record, epoch_use, resolve_count_from
from optimsche.update.micro_loss import Losses
from optimsche.update.plateau import resolve_plateau
from optimsche.update.skip_warning import WarningLogger, check_logger, warn_if_skipped
from schedules.metric_rule import MetricRule
from schedules.reduce_on_plateau import read_metric
from schedules.rule_state import RuleState
from schedules.time_record import clocks_of


class OptimScheduler:
    """The optimizer and the lr scheduler of a training run in one object (see module doc).

    Build the optimizer, ``torch.optim.<optim_type>(params, **optim_conf)`` over the
    parameters of ``updated_modules`` (first-level submodules of ``model``, or dotted paths;
    all of ``model`` when ``None``; DDP/FSDP wrappers are looked through), or wrap an existing
    one with ``optimizer=``.

    Args:
        optim_type: a ``torch.optim`` class name (``"AdamW"``) or a dotted path to one.
        optim_conf: the optimizer's keyword arguments (a dict).
        model: the model (needed with ``optim_type``; with ``optimizer=`` for DDP/FSDP, and
            to let the backward run unrestricted when this shell owns all of it).
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
        schedule: a pure schedule ``t -> lr`` (e.g. ``functools.partial(
            schedules.cosine, peak=1e-3, steps=10_000)``), or a clock-aware one
            (``schedules.on``): the reference param group's lr, the others keeping their
            ratios to it; or a list with one schedule per group.
        compile_step: ``True`` or a dict of ``torch.compile`` options: run the optimizer step
            compiled, with Tensor lrs (:mod:`optimsche.optimizer.compiled_step`).
        hyperparameters: param-group key -> schedule (or list of schedules, one per group),
            e.g. ``{"weight_decay": s, "betas[0]": s}``
            (:mod:`optimsche.optimizer.scheduled_entries`).
        clock: what a plain schedule sees: ``"update"`` (the real step), ``"epoch"`` (the
            ``epoch_num`` of ``step()``) or ``"items"`` (the items seen, with ``num_items``).
        plateau: a metric rule (:class:`schedules.reduce_on_plateau`, ``newbob``, ``greedy``,
            ``plateau_warmup``) or a dict naming one (:mod:`optimsche.update.plateau`): the lr
            is multiplied by its scale, which :meth:`observe` updates.
        count_from: 1 (default): the k-th update is at time k; 0: at time k - 1, the items
            seen before its window, epochs from 0 (torch/transformers/timm/optax formulas).
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
        plateau: MetricRule | Mapping[str, Any] | None = None,
        count_from: int = 1,
        **sche_conf: Any,
    ) -> None:
        self.settings: ShellSettings = settings(
            accum_grad=accum_grad,
            step_per_update=step_per_update,
            ft_factor=ft_factor,
            grad_clip=grad_clip,
            grad_norm_type=grad_norm_type,
            optim_loss=optim_loss,
            count_from=resolve_count_from(count_from),
        )
        if model is not None and not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
        self.model = model
        self.updated_modules = normalize_updated_modules(updated_modules)
        self.optimizer = make_optimizer(
            optim_type, optim_conf, optimizer, model=model, updated_modules=self.updated_modules
        )
        params = tuple(optimizer_parameters(self.optimizer))
        inputs = tuple(p for p in params if p.requires_grad)
        if not inputs:
            raise ValueError("the optimizer has no parameter that requires grad: nothing to train")
        self.distributed = resolve_distributed(distributed, model)
        sync_rule: DdpSyncRule | None = None
        if self.distributed and isinstance(model, DistributedDataParallel):
            # an OptimSchedulerGroup replaces it by one rule for all its members on this model
            sync_rule = DdpSyncRule(
                model, [(accum_grad, step_per_update)], [type(self).__name__], inputs
            )
        self.use_amp = use_amp
        self.amp_dtype = resolve_amp_dtype(use_amp)
        device = inputs[0].device

        if not (schedule is None or callable(schedule) or isinstance(schedule, list | tuple)):
            raise ValueError(f"schedule must be a callable real_step -> lr, got {schedule!r}")
        overrides = type(self).update_lr is not OptimScheduler.update_lr
        if schedule is not None and overrides:
            raise ValueError(
                f"schedule= cannot be combined with {type(self).__name__}, whose update_lr "
                f"computes the lr; use OptimScheduler(schedule=...) or drop schedule="
            )
        groups = self.optimizer.param_groups
        lr_sources: tuple[Callable[[Any], Any], ...] = ()
        per_group_lr = False
        if schedule is not None:
            lr_sources, per_group_lr = schedule_sources(
                "lr", schedule, len(groups), role="schedule"
            )
        entries = scheduled_entries(hyperparameters, groups)
        self.schedule = schedule
        self.plateau = resolve_plateau(plateau)
        self._lr_epoch = epoch_use(self.update_lr)  # read once, not per update
        scheduled = schedule is not None or overrides or self.plateau is not None
        lr_rule = None
        if scheduled:
            lr_rule = group_rule(
                GroupEntry(key="lr", name="lr"), groups, per_group=per_group_lr, role="lr"
            )
        reference = 0 if lr_rule is None else lr_rule.reference or 0
        self._reference_lr = float(groups[reference]["lr"])
        """The initial lr of the reference param group (the first whose lr is not 0)."""
        self._initial_lr = self._reference_lr
        if not scheduled and self.ft_factor != 1.0:
            for group in self.optimizer.param_groups:
                write_group_value(group, "lr", group["lr"] * self.ft_factor)
        values = ValuesProgram(
            clock=clock_record(clock),
            count_from=self.settings.count_from,
            ft_factor=self.settings.ft_factor,
            lr_rule=lr_rule,
            lr_sources=lr_sources,
            hook=self.update_lr_at if overrides else None,
            hook_name=f"{type(self).__name__}.update_lr",
            initial_lr=self._initial_lr,
            hyperparameters=entries,
        )
        optimizer_step: Callable[[], object] = self.optimizer.step
        if compile_step is not False:
            tensors = tensor_entry_names(entry.rule.entry.name for entry in entries)
            if compile_step is True:
                optimizer_step = compiled_step(self.optimizer, tensor_entries=tensors)
            elif isinstance(compile_step, Mapping):
                optimizer_step = compiled_step(self.optimizer, compile_step, tensor_entries=tensors)
            else:
                raise ValueError(
                    f"compile_step must be False, True or a dict of torch.compile options, "
                    f"got {compile_step!r}"
                )
        self.compile_step = compile_step
        state = ShellState(
            lr=float(self.optimizer.param_groups[0]["lr"]),
            plateau=None if self.plateau is None else self.plateau.init(),
        )
        self.machine = ShellMachine(
            name=type(self).__name__,
            settings=self.settings,
            values=values,
            state=state,
            optimizer=self.optimizer,
            optimizer_step=optimizer_step,
            params=params,
            inputs=inputs,
            model=model,
            distributed=self.distributed,
            world=world_size() if self.distributed else 1,
            sync_rule=sync_rule,
            backward_inputs=backward_inputs(model, inputs),
            model_coverage=_model_coverage(model, inputs),
            scaler=make_scaler(self.amp_dtype, device.type),
            epoch_needed_by=self._clock_needed_by("epoch", values),
            items_needed_by=self._clock_needed_by("items", values),
        )
        """The phases of this shell (:mod:`optimsche.machine.shell_machine`), for groups and
        custom loops."""

        if type(self).sche_init is OptimScheduler.sche_init:
            valid: list[str] | None = []
        else:
            valid = sche_conf_keys(self.sche_init)
        check_sche_conf(type(self).__name__, valid, sche_conf)
        self.sche_init(**sche_conf)
        self.machine.arm_next()
        # nothing lost (issue 20): the ranks compare their settings (parallel.rank_agreement)
        agree_at_construction(self)

    def _clock_needed_by(self, clock: str, values: ValuesProgram) -> str | None:
        """Why every ``step()`` must give ``clock`` (``"epoch"``: ``epoch_num``, ``"items"``:
        ``num_items``), for the message; ``None`` when nothing reads it."""
        if values.clock.name == clock:
            what = "epoch" if clock == "epoch" else "items seen"
            return f"clock={clock!r} schedules by the {what}"
        if clock == "epoch" and self._lr_epoch == "required":
            return (
                f"{type(self).__name__}.update_lr(real_step, epoch_num) computes the lr from "
                f"the epoch"
            )
        sources = [*values.lr_sources, *(s for e in values.hyperparameters for s in e.schedules)]
        for source in sources:
            if clock in clocks_of(source):
                return f"the schedule {describe_schedule(source)} reads the {clock!r} clock"
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
        default ``clock="update"``; the epoch or the items seen with the other clocks;
        ``real_step - 1`` with ``count_from=0``), before ``ft_factor`` and the plateau scale.

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
        source = self.machine.values.lr_sources[0]
        return check_value("lr", source(real_step), schedule=source, t=real_step)

    def extra_repr_fn(self) -> str:
        """The subclass-specific part of ``repr(self)`` (the base shows its ``schedule``)."""
        return "" if self.schedule is None else f"schedule={self.schedule!r}"

    def update_lr_at(self, t: float, epoch_num: float | None = None) -> float:
        """``update_lr(t)`` as an update calls it: with ``epoch_num`` too when the override
        takes one (before ``ft_factor`` and the plateau scale), unchecked."""
        if self._lr_epoch == "none":
            return self.update_lr(t)  # type: ignore[arg-type]  # t: the clock value
        return self.update_lr(t, epoch_num)  # type: ignore[call-arg, arg-type]

    # ----------------------------------------------------------------- read-only properties
    @property
    def accum_grad(self) -> int:
        """Micro-steps per window."""
        return self.settings.accum_grad

    @property
    def step_per_update(self) -> int:
        """Take part only in windows whose real step is a multiple of this."""
        return self.settings.step_per_update

    @property
    def ft_factor(self) -> float:
        """The factor of every lr."""
        return self.settings.ft_factor

    @property
    def grad_clip(self) -> float | None:
        """The clipping norm (``None``: no clipping)."""
        return self.settings.grad_clip

    @property
    def grad_norm_type(self) -> float:
        """The order of the gradient norm."""
        return self.settings.grad_norm_type

    @property
    def optim_loss(self) -> str | None:
        """The key of this shell's loss in ``losses`` (``None``: ``"loss"``)."""
        return self.settings.optim_loss

    @property
    def count_from(self) -> int:
        """1: the k-th update is at time k; 0: at k - 1 (module doc, "Clock")."""
        return self.settings.count_from

    @property
    def clock(self) -> str:
        """The clock a plain schedule reads: ``"update"``, ``"epoch"`` or ``"items"``."""
        return self.machine.values.clock.name

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """The fp16 GradScaler (a group's shared one), ``None`` without fp16."""
        return self.machine.scaler

    @property
    def step_num(self) -> int:
        """The last micro-step run (0 before the first ``step()``)."""
        return self.machine.state.step_num

    @property
    def items_seen(self) -> int | float:
        """The items (``num_items``) of every window this shell updated or skipped so far,
        summed over all ranks: the clock of ``clock="items"`` (0 without ``num_items``)."""
        return self.machine.state.items_seen

    @property
    def plateau_state(self) -> RuleState | None:
        """The state of the ``plateau`` rule (``None`` without one)."""
        return self.machine.state.plateau

    @property
    def requires_epoch_num(self) -> bool:
        """Whether every ``step()`` must give ``epoch_num`` (``clock="epoch"``, an
        ``update_lr(real_step, epoch_num)`` override that needs it, or a schedule bound to the
        epoch clock)."""
        return self.machine.epoch_needed_by is not None

    @property
    def requires_num_items(self) -> bool:
        """Whether every ``step()`` must give ``num_items`` (``clock="items"``, or a schedule
        bound to the items clock)."""
        return self.machine.items_needed_by is not None

    @property
    def parameters(self) -> tuple[nn.Parameter, ...]:
        """Every parameter of the optimizer's param groups, in order, each once."""
        return self.machine.params

    @property
    def trainable_parameters(self) -> tuple[nn.Parameter, ...]:
        """The :attr:`parameters` that require grad: those a backward reaches."""
        return self.machine.inputs

    @property
    def ddp_model(self) -> DistributedDataParallel | None:
        """The DDP model whose gradient sync this shell arms, or ``None``."""
        rule = self.machine.sync_rule
        return None if rule is None else rule.model

    @property
    def _sync_rule(self) -> DdpSyncRule | None:
        return self.machine.sync_rule

    def get_lr(self) -> float:
        """The lr the first param group got at the last update, ``ft_factor`` and the plateau
        scale included (and its factor of :mod:`optimsche.optimizer.group_rule`); before the
        first update, the lr of the first param group."""
        return self.machine.state.lr

    # ----------------------------------------------------------------- stepping
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

        ``losses``: one tensor or a dict holding ``optim_loss`` (default ``"loss"``); its graph
        must not have been backpropagated yet (``step()`` runs the backward).
        ``time_func``/``optim_name``: SpeeChain's timer, entered as
        ``time_func(["loss_backward_time", optim_name])`` around the backward and
        ``time_func(["optim_time", optim_name])`` around the update. ``step_num``: the 1-based
        micro-step (``None``: the next one; a jump out of an open window applies it first).
        ``epoch_num``: SpeeChain's 1-based epoch (required with ``clock="epoch"`` or an
        ``update_lr(real_step, epoch_num)`` override; never going backwards). ``logger``: a
        ``logging.Logger``, warned once per skipped update. ``num_items``: the items (tokens)
        the loss sums over, an int or a one-element tensor (see the module doc). Returns a
        :class:`StepReport`. Runs :func:`optimsche.machine.orchestrator.run_one_micro_step`.
        """
        if logger is not None:
            check_logger(logger)
        if time_func is not None or optim_name is not None:
            check_timer(time_func, optim_name)
        return run_one_micro_step(
            self.machine,
            losses,
            step_num,
            epoch_num=epoch_num,
            num_items=num_items,
            time_func=time_func,
            logger=logger,
            optim_name=optim_name,
        )

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
        report = self.machine.flush(update_scaler=update_scaler)
        warn_if_skipped(logger, report)
        return report

    def observe(self, metric: float | Tensor) -> None:
        """Feed the ``plateau`` rule one evaluation of its metric (a number or a one-element
        Tensor, read on the host): the lr of the next updates is scaled by its new
        ``state.scale``. A metric that is not a finite number, or a shell without a plateau
        rule, is a ``ValueError``; nothing changes then."""
        rule, state = self.plateau, self.machine.state
        if rule is None or state.plateau is None:
            raise ValueError(
                f"observe: this {type(self).__name__} has no plateau rule; build it with "
                f"plateau=schedules.reduce_on_plateau(...) (or plateau={{...}} in a config)"
            )
        state.plateau = rule.update(state.plateau, read_metric(metric))

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """A context for the forward pass: ``torch.autocast`` with this shell's AMP dtype on
        its parameters' device type, or a no-op without AMP."""
        return autocast(self.amp_dtype, self.machine.device.type)

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: version, optimizer, scaler, counters, this process's rank and world
        size and, mid-window, the partial gradients (format in :mod:`optimsche.checkpoint`).
        ``torch.load(weights_only=True)`` reads it back. Mid-window under DDP/FSDP it holds
        this rank's own partial gradients: save one file per rank."""
        machine = self.machine
        return to_state_dict(
            optimizer=self.optimizer,
            scaler=machine.scaler,
            amp=amp_name(self.amp_dtype),
            accum_grad=self.accum_grad,
            step_per_update=self.step_per_update,
            params=machine.params,
            rank=self._rank(),
            world_size=machine.world,
            group_factors={rule.key: list(rule.factors) for rule in machine.values.group_rules()},
            **machine.state.checkpoint_fields(),
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
        machine = self.machine
        return read_state_dict(
            state_dict,
            optimizer=self.optimizer,
            scaler=machine.scaler,
            accum_grad=self.accum_grad,
            step_per_update=self.step_per_update,
            params=machine.params,
            rank=self._rank(),
            world_size=machine.world,
            has_plateau=self.plateau is not None,
            plateau_kind=None if self.plateau_state is None else self.plateau_state.KIND,
        )

    def load_checked_state_dict(self, restored: Restored) -> None:
        """Load a checkpoint that :meth:`check_state_dict` checked and converted."""
        machine = self.machine
        values = machine.values.with_factors(restored.group_factors)
        names = {"lr", *(entry.rule.entry.name for entry in values.hyperparameters)}
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
        machine.values = values
        if restored.scaler is not None and machine.scaler is not None:
            machine.scaler.load_state_dict(restored.scaler)
        state = ShellState(
            step_num=restored.step_num,
            items_seen=restored.items_seen,
            epoch_num=restored.epoch_num,
            lr=(
                restored.lr
                if restored.lr is not None
                else float(self.optimizer.param_groups[0]["lr"])
            ),
            plateau=None
            if self.plateau is None
            else restored.plateau
            if restored.plateau is not None
            else self.plateau.init(),
        )
        for p in machine.params:
            p.grad = None
        if restored.grads is not None:
            for p, grad in zip(machine.params, restored.grads, strict=True):
                p.grad = grad
            window = state.window
            window.losses = [loss.to(machine.device) for loss in restored.losses]
            items = restored.items
            window.items = items.to(machine.device) if isinstance(items, Tensor) else items
            window.real_step = self.settings.real_step(restored.step_num)
        machine.state = state
        machine.arm_next()

    def __repr__(self) -> str:
        extra = self.extra_repr_fn()
        return (
            f"{type(self).__name__}(optimizer={type(self.optimizer).__name__}, "
            f"optim_loss={self.optim_loss!r}, updated_modules={self.updated_modules!r}, "
            f"accum_grad={self.accum_grad}, step_per_update={self.step_per_update}, "
            f"use_amp={amp_name(self.amp_dtype)!r}, ft_factor={self.ft_factor}, "
            f"grad_clip={self.grad_clip}, grad_norm_type={self.grad_norm_type}"
            + (f", {extra}" if extra else "")
            + (f", count_from={self.count_from}" if self.count_from != 1 else "")
            + ")"
        )

    def _rank(self) -> int:
        """This process's rank for checkpoints: its rank in the default group when the shell
        is distributed, else 0."""
        return rank() if self.distributed else 0


def _model_coverage(
    model: nn.Module | None, inputs: Sequence[nn.Parameter]
) -> tuple[int, int, int] | None:
    """``(id of the model, its parameters that require grad, how many of them are inputs)``
    when every one of ``inputs`` is a parameter of ``model``; ``None`` without a model or when
    one is not (the backward must then be restricted: module doc, "Backward")."""
    if model is None:
        return None
    module = unwrap(model)
    trainable = {id(p) for p in module.parameters() if p.requires_grad}
    if not all(id(p) in trainable for p in inputs):
        return None
    return id(module), len(trainable), len(inputs)
