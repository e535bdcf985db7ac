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
* **Learning rate** of an update: ``ft_factor · update_lr(real_step)``, times a param group's
  ``lr_scale`` (default 1). ``update_lr`` evaluates ``schedule`` (``NoamLr`` and
  ``ExponentDecayLr`` override it). With neither a schedule nor an override the optimizer's
  own lrs are kept (multiplied once by ``ft_factor`` at construction). A Tensor lr stays a
  Tensor, written in place, so a compiled optimizer step does not recompile
  (``compile_step=True``, :mod:`optimsche.optimizer.compiled_step`).
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

from optimsche.checkpoint import Restored, read_state_dict, to_state_dict
from optimsche.micro_step import MicroStep
from optimsche.optimizer.checked_value import check_value, describe_schedule
from optimsche.optimizer.compiled_step import compiled_step
from optimsche.optimizer.factory import (
    build_optimizer,
    normalize_updated_modules,
    optimizer_parameters,
    resolve_optimizer_class,
    select_parameters,
)
from optimsche.optimizer.param_group_values import replace_group_entry, write_group_value
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
from optimsche.update.amp import amp_name, autocast, found_inf, make_scaler, resolve_amp_dtype
from optimsche.update.backward_undo import GradSnapshot, restore_grads, snapshot_grads
from optimsche.update.clipping import clip_by_norm_, total_norm
from schedules.step_arithmetic import real_step
from schedules.validation import require_count, require_order, require_positive

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
            schedules.cosine, peak=1e-3, steps=10_000)``).
        compile_step: ``True`` or a dict of ``torch.compile`` options: run the optimizer step
            compiled, with Tensor lrs (:mod:`optimsche.optimizer.compiled_step`).
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
        schedule: Callable[[int], float] | None = None,
        compile_step: bool | Mapping[str, Any] = False,
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

        if schedule is not None and not callable(schedule):
            raise ValueError(f"schedule must be a callable real_step -> lr, got {schedule!r}")
        overrides = type(self).update_lr is not OptimScheduler.update_lr
        if schedule is not None and overrides:
            raise ValueError(
                f"schedule= cannot be combined with {type(self).__name__}, whose update_lr "
                f"computes the lr; use OptimScheduler(schedule=...) or drop schedule="
            )
        self.schedule = schedule
        self._scheduled = schedule is not None or overrides
        self._initial_lr = float(self.optimizer.param_groups[0]["lr"])
        if not self._scheduled and self.ft_factor != 1.0:
            for group in self.optimizer.param_groups:
                write_group_value(group, "lr", group["lr"] * self.ft_factor)
        self._lr = float(self.optimizer.param_groups[0]["lr"])

        self._step_num = 0
        self._window = AccumulationWindow()
        self._last_backward: tuple[int, GradSnapshot, Any] | None = None
        self._optimizer_step: Callable[[], object] = self.optimizer.step
        if compile_step is not False:
            if compile_step is True:
                self._optimizer_step = compiled_step(self.optimizer)
            elif isinstance(compile_step, Mapping):
                self._optimizer_step = compiled_step(self.optimizer, compile_step)
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
        if isinstance(optim_type, Optimizer):
            name = type(optim_type).__name__
            raise ValueError(
                f"optim_type (the first argument) got an optimizer ({name} instance); did you "
                f"mean optimizer=? OptimScheduler(optimizer={name}(...), schedule=...) wraps an "
                f"optimizer you built; optim_type names a class for the shell to build"
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

        The base class evaluates ``schedule(real_step)``; without a schedule it returns the
        optimizer's initial lr (its first param group's, at construction). Subclasses override
        it (SpeeChain's ``NoamLr``). Called once per update, on the host.
        """
        if self.schedule is None:
            return self._initial_lr
        return check_value("lr", self.schedule(real_step), schedule=self.schedule, t=real_step)

    def extra_repr_fn(self) -> str:
        """The subclass-specific part of ``repr(self)`` (the base shows its ``schedule``)."""
        return "" if self.schedule is None else f"schedule={self.schedule!r}"

    # ----------------------------------------------------------------- public API
    @property
    def step_num(self) -> int:
        """The last micro-step run (0 before the first ``step()``)."""
        return self._step_num

    def get_lr(self) -> float:
        """The base lr of the last update, ``ft_factor · update_lr(real_step)`` (before any
        ``lr_scale``); before the first update, the lr of the first param group."""
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
        check_timer(time_func, optim_name)
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

        Changes nothing: every argument is validated here (the loss and ``num_items`` when
        this shell takes part, and, when the micro-step ends a window, the lr of its update:
        :meth:`checked_lr`), so a refused call leaves the shell as it was, before any
        backward.
        """
        n = next_step_num(self._step_num, step_num, self._window.real_step, self.accum_grad)
        real = real_step(n, self.accum_grad)
        part = real % self.step_per_update == 0
        ends = n % self.accum_grad == 0
        items = None if num_items is None else check_items(num_items)
        loss = None
        if part:
            loss = self._pick_loss(losses)
            # under DDP a window's items are summed over ranks: checked at the update's sync,
            # where every rank sees the same total and refuses alike
            self._window.check_next(real, items, ends_window=ends and not self.distributed)
        return MicroStep(
            step_num=n,
            real_step=real,
            takes_part=part,
            ends_window=ends,
            loss=loss,
            num_items=items,
            lr=self.checked_lr(real) if part and ends and self._scheduled else None,
        )

    def checked_lr(self, real: int) -> float:
        """``ft_factor · update_lr(real)``, checked to be a finite number ``>= 0``
        (:func:`~optimsche.optimizer.checked_value.check_value`): a ``ValueError`` naming the
        schedule, the real step and the value otherwise. Writes nothing."""
        overrides = type(self).update_lr is not OptimScheduler.update_lr
        source: object = f"{type(self).__name__}.update_lr" if overrides else self.schedule
        lr = check_value("lr", self.update_lr(real), schedule=source, t=real)
        if self.ft_factor == 1.0:
            return lr
        scaled = f"ft_factor={self.ft_factor!r} · {describe_schedule(source)}"
        return check_value("lr", self.ft_factor * lr, schedule=scaled, t=real)

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
            with timer or contextlib.nullcontext():
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
        """Record ``micro`` as run (:attr:`step_num`) and arm DDP for the next forward. Its
        backward can no longer be retracted (the snapshot of the gradients is let go)."""
        self._last_backward = None
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
        )

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a checkpoint of :meth:`state_dict` (or SpeeChain's format).

        A checkpoint that does not fit (other optimizer class, parameter shapes, version, an
        accum_grad change mid-window, or a mid-window checkpoint of another rank or world size)
        is refused with a ``ValueError``; documented differences are converted
        (:mod:`optimsche.checkpoint`). A Tensor lr stays the same tensor object. Everything is
        checked before anything is loaded: a refused checkpoint changes nothing.
        """
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
        )

    def load_checked_state_dict(self, restored: Restored) -> None:
        """Load a checkpoint that :meth:`check_state_dict` checked and converted."""
        own_lrs = [group["lr"] for group in self.optimizer.param_groups]
        try:
            self.optimizer.load_state_dict(restored.optimizer)
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            raise ValueError(
                f"OptimScheduler.load_state_dict: the optimizer state does not fit this "
                f"{type(self.optimizer).__name__}: {error}"
            ) from error
        for group, own in zip(self.optimizer.param_groups, own_lrs, strict=True):
            loaded = group["lr"]
            replace_group_entry(group, "lr", own)  # keep our entry (a Tensor lr stays the
            write_group_value(group, "lr", loaded)  # same object), holding the loaded value
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
        total: Tensor | None = None
        if window.items is not None:
            total = items_total(window.items, device, self.distributed)
            divide_by_items_(grads, total, self._world)
        norm = total_norm(grads, self.grad_norm_type, device, self._one_device)
        if self.distributed:
            norm = as_full_tensor(norm)  # FSDP2: a sharded norm, reduced here
        if self.grad_clip is not None:
            clip_by_norm_(grads, self.grad_clip, norm, self._one_device)
        check = norm + window.loss_sum(device)
        # The one host sync of the update: the norm plus the losses (finite iff all are), and
        # the scaler's overflow flag; summed over ranks first so that all ranks agree.
        # With Tensor num_items their total joins it (a Python-int total was checked by
        # prepare), so that a window of no items is refused without a second sync.
        overflow = 0.0
        counted = isinstance(window.items, Tensor) or self.distributed
        items = total.float() if counted and total is not None else None
        if scaler is not None or items is not None:
            parts = [check.float()]
            if scaler is not None:
                parts.append(found_inf(scaler, self.optimizer, device))
            if items is not None:
                parts.append(items.to(device))
            flags = torch.stack(parts)
            if self.distributed:
                all_reduce_sum_(flags)  # (the items total was already summed over ranks)
            read = flags.tolist()
            check_total = read[0]
            overflow = read[1] if scaler is not None else 0.0
            items_read = read[-1] if items is not None else None
        else:
            if self.distributed:
                all_reduce_sum_(check)
            check_total = check.item()
            items_read = None
        try:
            if items_read is not None:
                check_items_total(
                    items_read / (self._world if self.distributed else 1), micro.real_step
                )
            lr = self._lr if micro.lr is None else self._apply_lr(micro.lr)
            skipped: str | None = None
            if overflow:
                skipped = SKIP_AMP_OVERFLOW
            elif not math.isfinite(check_total):
                skipped = SKIP_NONFINITE
            else:
                self._optimizer_step()
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

    def _apply_lr(self, lr: float) -> float:
        """Write the lr ``prepare`` checked (:meth:`checked_lr`) into every param group."""
        for group in self.optimizer.param_groups:
            write_group_value(group, "lr", lr * group["lr_scale"] if "lr_scale" in group else lr)
        self._lr = lr
        return lr
