"""``OptimScheduler``: one object that is the optimizer and the lr scheduler of a training run.

A port of SpeeChain's ``OptimScheduler`` (same constructor, same ``step(losses, time_func,
optim_name, step_num)``, same overridable ``sche_init`` / ``update_lr`` / ``extra_repr_fn``),
with its bugs fixed, plus ``optimizer=`` to wrap a torch optimizer you built and ``schedule=``
to drive it with a pure schedule of :mod:`schedules`.

Semantics of ``step()``, one call per micro-step (one forward and one ``backward``):

* **Clock.** Micro-steps are 1-based; ``step_num=None`` lets the shell count, a given
  ``step_num`` must increase (it may jump, but not out of a window holding gradients). The
  real step (window) is ``(step_num - 1) // accum_grad + 1``; the optimizer updates on the last
  micro-step of a window. With ``step_per_update = k`` it takes part, backward *and* update,
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
* **Learning rate** of an update: ``ft_factor · update_lr(real_step)`` is the lr of the
  *reference* param group (the first whose initial lr is not 0); every other group keeps its
  initial ratio to it, or takes its ``lr_scale`` entry as its factor
  (:mod:`optimsche.optimizer.group_rule`: torch ``LambdaLR``'s rule; a group at 0 stays at
  0). ``schedule`` may be a sequence with one schedule per param group. ``update_lr``
  evaluates ``schedule`` (``NoamLr`` and ``ExponentDecayLr`` override it). With neither a
  schedule nor an override the optimizer's own lrs are kept (multiplied once by
  ``ft_factor`` at construction). A Tensor lr stays a Tensor, written in place, so a
  compiled optimizer step does not recompile (``compile_step=True``,
  :mod:`optimsche.optimizer.compiled_step`).
* **Other hyperparameters**: ``hyperparameters={"weight_decay": s, "betas[0]": s, ...}``
  schedules any param-group entry from the same clock, with the same per-group rule
  (:mod:`optimsche.optimizer.scheduled_entries`); ``ft_factor`` applies to the lr only.
  Every value is checked (finite, >= 0) before anything is written.
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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer

from optimsche.checkpoint import read_state_dict, to_state_dict
from optimsche.micro_step import MicroStep
from optimsche.optimizer.checked_value import checked_value
from optimsche.optimizer.compiled_step import compiled_step, tensor_entry_names
from optimsche.optimizer.factory import (
    build_optimizer,
    normalize_updated_modules,
    optimizer_parameters,
    resolve_optimizer_class,
    select_parameters,
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
    all_reduce_sum_,
    as_full_tensor,
    average_gradients_,
    backward_inputs,
    forward_prepared_sync,
    gradient_sync,
    is_data_parallel,
    rank,
    world_size,
)
from optimsche.sche_conf import check_sche_conf, sche_conf_keys
from optimsche.speechain_timer import TimeFunc, timer
from optimsche.step_report import SKIP_AMP_OVERFLOW, SKIP_NONFINITE, StepReport
from optimsche.update.accumulation import (
    AccumulationWindow,
    divide_by_items_,
    items_total,
    next_step_num,
)
from optimsche.update.amp import amp_name, autocast, found_inf, make_scaler, resolve_amp_dtype
from optimsche.update.clipping import clip_by_norm_, total_norm
from schedules.step_arithmetic import real_step
from schedules.validation import require_count, require_number, require_order, require_positive

Losses = Tensor | Mapping[str, Tensor]


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
        **sche_conf: Any,
    ) -> None:
        self.accum_grad = require_count("accum_grad", accum_grad)
        self.step_per_update = require_count("step_per_update", step_per_update)
        self.ft_factor = require_number("ft_factor", ft_factor)
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
        self.optimizer = self._make_optimizer(optim_type, optim_conf, optimizer)
        self._params = tuple(optimizer_parameters(self.optimizer))
        self._inputs = tuple(p for p in self._params if p.requires_grad)
        if not self._inputs:
            raise ValueError("the optimizer has no parameter that requires grad: nothing to train")
        self._device = self._inputs[0].device
        self._one_device = all(p.device == self._device for p in self._inputs)

        self.distributed = self._resolve_distributed(distributed)
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
        self._scheduled = schedule is not None or overrides
        self._lr_rule: GroupRule | None = None
        if self._scheduled:
            self._lr_rule = group_rule(
                GroupEntry(key="lr", name="lr"), groups, per_group=per_group_lr, role="lr"
            )
        self._initial_lr = float(groups[0]["lr"])
        reference = 0 if self._lr_rule is None else self._lr_rule.reference or 0
        self._reference_lr = float(groups[reference]["lr"])
        """The initial lr of the reference param group (the first whose lr is not 0)."""
        if not self._scheduled and self.ft_factor != 1.0:
            for group in self.optimizer.param_groups:
                write_group_value(group, "lr", group["lr"] * self.ft_factor)
        self._lr = float(self.optimizer.param_groups[0]["lr"])

        self._step_num = 0
        self._window = AccumulationWindow()
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

    # ----------------------------------------------------------------- construction helpers
    def _make_optimizer(
        self, optim_type: str | None, optim_conf: object, optimizer: Optimizer | None
    ) -> Optimizer:
        if optimizer is not None:
            if optim_type is not None or optim_conf is not None:
                raise ValueError(
                    "give either optimizer= (an optimizer you built) or optim_type/optim_conf "
                    "(one the shell builds), not both"
                )
            if self.updated_modules is not None:
                raise ValueError(
                    "updated_modules chooses the parameters of an optimizer the shell builds; "
                    "with optimizer= its param_groups decide"
                )
            optimizer_parameters(optimizer)  # checks the type
            return optimizer
        if optim_type is None:
            raise ValueError(
                "give optim_type (a torch.optim class name, with model=) or optimizer="
            )
        optim_class = resolve_optimizer_class(optim_type)
        if self.model is None:
            raise ValueError(f"optim_type={optim_type!r} needs model= to take parameters from")
        params = select_parameters(self.model, self.updated_modules)
        return build_optimizer(optim_class, optim_conf, params)

    def _resolve_distributed(self, distributed: object) -> bool:
        detected = is_data_parallel(self.model)
        if distributed is None:
            return detected
        if distributed is True:
            if not detected:
                raise ValueError(
                    "distributed=True needs model= to be a DistributedDataParallel, FSDP or "
                    f"fully_shard model, got {type(self.model).__name__}"
                )
            return True
        if distributed is False:
            return False
        raise ValueError(f"distributed must be None (detect), True or False, got {distributed!r}")

    # ----------------------------------------------------------------- overridable hooks
    def sche_init(self, *args: Any, **sche_conf: Any) -> None:
        """Initialise the scheduling part from ``**sche_conf`` (a hook for subclasses).

        Called at the end of ``__init__`` with the constructor's extra keyword arguments, after
        they were checked against this method's keyword parameters. The base class takes none
        (it is driven by ``schedule=`` or keeps the optimizer's lr).
        """

    def update_lr(self, real_step: int) -> float:
        """The lr of the update of window ``real_step`` (1-based), before ``ft_factor``.

        The value is the reference param group's lr (see the module doc). The base class
        evaluates ``schedule(real_step)`` (with one schedule per group, the first group's);
        without a schedule it returns the optimizer's initial lr (its first param group's, at
        construction). Subclasses override it (SpeeChain's ``NoamLr``). Called once per
        update, on the host.
        """
        if self.schedule is None:
            return self._initial_lr
        return float(self._lr_sources[0](real_step))

    def extra_repr_fn(self) -> str:
        """The subclass-specific part of ``repr(self)`` (the base shows its ``schedule``)."""
        return "" if self.schedule is None else f"schedule={self.schedule!r}"

    # ----------------------------------------------------------------- public API
    @property
    def step_num(self) -> int:
        """The last micro-step run (0 before the first ``step()``)."""
        return self._step_num

    def get_lr(self) -> float:
        """The lr the first param group got at the last update (``ft_factor`` included; its
        factor of :mod:`optimsche.optimizer.group_rule` too); before the first update, the lr
        of the first param group."""
        return self._lr

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
        *,
        num_items: int | Tensor | None = None,
    ) -> StepReport:
        """Run one micro-step: backward of the loss and, at a window's end, the update.

        ``losses``: one tensor or a dict holding ``optim_loss`` (default ``"loss"``).
        ``time_func``/``optim_name``: SpeeChain's timer, entered as
        ``time_func(["loss_backward_time", optim_name])`` around the backward and
        ``time_func(["optim_time", optim_name])`` around the update. ``step_num``: the 1-based
        micro-step (``None``: the next one). ``num_items``: the items (tokens) the loss sums
        over, an int or a one-element tensor (see the module doc). Returns a
        :class:`StepReport`. Written in the phase API that :class:`OptimSchedulerGroup` uses.
        """
        micro = self.prepare(losses, step_num, num_items=num_items)
        if micro.takes_part:
            self.backward(micro, timer=timer(time_func, "loss_backward_time", optim_name))
        self.advance(micro)
        if micro.updates:
            return self.update(micro, timer=timer(time_func, "optim_time", optim_name))
        return self.idle_report(micro)

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
        self, losses: Losses, step_num: int | None = None, *, num_items: int | Tensor | None = None
    ) -> MicroStep:
        """Check one micro-step's arguments and say what it means for this shell.

        Changes nothing: every argument is validated here (the loss, when this shell takes
        part), so a refused call leaves the shell as it was.
        """
        n = next_step_num(self._step_num, step_num, self._window.real_step, self.accum_grad)
        real = real_step(n, self.accum_grad)
        part = real % self.step_per_update == 0
        return MicroStep(
            step_num=n,
            real_step=real,
            takes_part=part,
            ends_window=n % self.accum_grad == 0,
            loss=self._pick_loss(losses) if part else None,
            num_items=num_items,
        )

    def backward(
        self,
        micro: MicroStep,
        *,
        retain_graph: bool = False,
        timer: contextlib.AbstractContextManager[Any] | None = None,
    ) -> None:
        """Backpropagate ``micro``'s loss into this shell's parameters and record it in the
        open window (``loss / accum_grad``, or the loss itself with ``num_items``; fp16: scaled).
        ``retain_graph`` keeps the graph for a later backward of the same forward."""
        loss = micro.loss
        if loss is None:
            raise ValueError(f"micro-step {micro.step_num}: this shell takes no part in it")
        self._window.add(micro.real_step, loss, micro.num_items)
        if micro.num_items is None and self.accum_grad != 1:
            loss = loss / self.accum_grad
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        with timer or contextlib.nullcontext():
            self._run_backward(loss, final=micro.ends_window, retain_graph=retain_graph)

    def advance(self, micro: MicroStep) -> None:
        """Record ``micro`` as run (:attr:`step_num`) and arm DDP for the next forward."""
        self._step_num = micro.step_num
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
        with timer or contextlib.nullcontext():
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
            group_factors={rule.key: list(rule.factors) for rule in self._group_rules()},
        )

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a checkpoint of :meth:`state_dict` (or SpeeChain's format).

        A checkpoint that does not fit (other optimizer class, parameter shapes, version, an
        accum_grad change mid-window, or a mid-window checkpoint of another rank or world size)
        is refused with a ``ValueError``; documented differences are converted
        (:mod:`optimsche.checkpoint`). A Tensor lr stays the same tensor object.
        """
        restored = read_state_dict(
            state_dict,
            optimizer=self.optimizer,
            scaler=self.scaler,
            accum_grad=self.accum_grad,
            step_per_update=self.step_per_update,
            params=self._params,
            rank=self._rank(),
            world_size=self._world,
        )
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

    def _pick_loss(self, losses: Losses) -> Tensor:
        if isinstance(losses, Tensor):
            loss = losses
        else:
            try:
                loss = losses[self._loss_key]
            except KeyError:
                present = ", ".join(repr(k) for k in losses) or "(none)"
                raise ValueError(
                    f"losses has no {self._loss_key!r} (optim_loss={self.optim_loss!r}); keys "
                    f"present: {present}"
                ) from None
            except TypeError:
                raise ValueError(
                    f"losses must be a Tensor or a dict of Tensors, got {type(losses).__name__}"
                ) from None
            if not isinstance(loss, Tensor):
                raise ValueError(
                    f"losses[{self._loss_key!r}] must be a Tensor, got {type(loss).__name__}"
                )
        if not loss.requires_grad:
            raise ValueError(
                f"the loss {self._loss_key!r} does not require grad (computed under no_grad, or "
                f"detached?): there is nothing to backpropagate"
            )
        if loss.ndim != 0:
            raise ValueError(
                f"the loss {self._loss_key!r} must be a scalar (0-dim), got shape "
                f"{tuple(loss.shape)}"
            )
        return loss

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

    def _apply_update(self, micro: MicroStep, *, update_scaler: bool) -> StepReport:
        device = self._device
        window = self._window
        scaler = self.scaler
        grads = [p.grad for p in self._inputs if p.grad is not None]
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        if window.items is not None:
            divide_by_items_(
                grads, items_total(window.items, device, self.distributed), self._world
            )
        norm = total_norm(grads, self.grad_norm_type, device, self._one_device)
        if self.distributed:
            norm = as_full_tensor(norm)  # FSDP2: a sharded norm, reduced here
        if self.grad_clip is not None:
            clip_by_norm_(grads, self.grad_clip, norm, self._one_device)
        check = norm + window.loss_sum(device)
        # The one host sync of the update: the norm plus the losses (finite iff all are), and
        # the scaler's overflow flag; summed over ranks first so that all ranks agree.
        overflow = 0.0
        if scaler is not None:
            flags = torch.stack([check.float(), found_inf(scaler, self.optimizer, device)])
            if self.distributed:
                all_reduce_sum_(flags)
            check_value, overflow = flags.tolist()
        else:
            if self.distributed:
                all_reduce_sum_(check)
            check_value = check.item()
        lr = self._apply_values(micro)
        skipped: str | None = None
        if overflow:
            skipped = SKIP_AMP_OVERFLOW
        elif not math.isfinite(check_value):
            skipped = SKIP_NONFINITE
        else:
            self._optimizer_step()
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

    def _schedule_time(self, micro: MicroStep) -> int:
        """The clock value the schedules (lr and hyperparameters) see at ``micro``'s update:
        its real step."""
        return micro.real_step

    def _scheduled_lrs(self, time: int, rule: GroupRule) -> list[float]:
        """The checked lr(s) of an update: ``ft_factor · update_lr(time)``, or
        ``ft_factor · schedule_g(time)`` for one schedule per group."""
        ft = self.ft_factor
        if rule.per_group:
            return [checked_value("lr", time, ft * float(s(time)), s) for s in self._lr_sources]
        source = self.schedule if self.schedule is not None else f"{type(self).__name__}.update_lr"
        return [checked_value("lr", time, ft * float(self.update_lr(time)), source)]

    def _apply_values(self, micro: MicroStep) -> float:
        """Evaluate and check every scheduled value of ``micro``'s update (the lr, then each
        hyperparameter), then write them all into the param groups; return the first group's
        lr. A value refused by the check raises before anything is written."""
        time = self._schedule_time(micro)
        rule = self._lr_rule
        lrs = self._scheduled_lrs(time, rule) if rule is not None else None
        values = [entry.scheduled(time) for entry in self._hyperparameters]
        groups = self.optimizer.param_groups
        if rule is not None and lrs is not None:
            rule.write(groups, lrs)
            self._lr = rule.first_value(lrs)
        for entry, scheduled in zip(self._hyperparameters, values, strict=True):
            entry.rule.write(groups, scheduled)
        return self._lr

    def _group_rules(self) -> list[GroupRule]:
        """The per-group rules of every scheduled key: the lr's (when scheduled) first."""
        rules = [] if self._lr_rule is None else [self._lr_rule]
        return rules + [entry.rule for entry in self._hyperparameters]

    def _restored_rules(
        self, saved: Mapping[str, Any] | None
    ) -> tuple[GroupRule | None, tuple[ScheduledEntry, ...]]:
        """The rules with a checkpoint's factors (``saved``: key -> factors; keys this shell
        does not schedule are ignored, keys the checkpoint lacks keep their factors), checked
        before anything is loaded."""
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
