"""``ShellMachine``: the phases of one shell's micro-step, for the orchestrator and custom loops.

One micro-step is ``plan`` (check everything, change nothing) -> ``backward`` (if the shell
takes part; run by the orchestrator for every shell whose loss is the same tensor at once) ->
``advance`` -> ``update`` (if its window ends) or ``idle_report``. A ``step_num`` that jumps out
of an open window sets that window aside before the backward and applies it after
(:mod:`optimsche.update.partial_window`). :func:`optimsche.machine.orchestrator.run_micro_step`
runs them in that order for one shell or several; a custom loop may call them itself
(``OptimScheduler.machine``).

**Backward protocol.** :meth:`ShellMachine.backward_seed` is what the shell backpropagates
and the gradient it seeds it with (the loss and ``ones / accum_grad``, bit for bit the
gradients of ``(loss / accum_grad).backward()``; with ``num_items`` ones; fp16: the scaled
``loss / accum_grad``); the orchestrator calls
:meth:`~ShellMachine.before_backward`, runs one ``torch.autograd.backward`` for the shells
sharing that scaled loss, then :meth:`~ShellMachine.after_backward` (or
:meth:`~ShellMachine.undo_backward` when it raised) on each.

**Undo, O(1).** Nothing is copied or snapshotted before a backward: on a window's first
micro-step every gradient was ``None`` (checked, O(1): :meth:`plan` refuses gradients left by a
user's own ``loss.backward()``), so a raising backward is undone by setting them back to
``None``; on a later micro-step the backward may have accumulated into the window's gradients
in place, which cannot be undone without a copy: the window is marked (its update skipped,
``"nonfinite"``) and the exception says so in a note.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from optimsche.machine.settings import ShellSettings
from optimsche.machine.state import ShellState
from optimsche.machine.values import ScheduledValues, ValuesProgram
from optimsche.micro_step import MicroStep
from optimsche.parallel.ddp_sync_rule import DdpSyncRule
from optimsche.parallel.distributed import (
    as_full_tensor,
    average_gradients_,
    forward_prepared_sync,
    gradient_sync,
    is_fsdp1,
    is_fsdp2,
)
from optimsche.step_report import SKIP_AMP_OVERFLOW, SKIP_NONFINITE, StepReport
from optimsche.update.accumulation import (
    AccumulationWindow,
    check_items,
    check_items_least,
    check_items_total,
    divide_by_items_,
    items_total,
    next_step_num,
)
from optimsche.update.amp import found_inf, rescale_gradients_, scale_snapshot
from optimsche.update.clipping import clip_by_norm_, total_norm
from optimsche.update.clock import check_epoch_num
from optimsche.update.device_skip import skip_code, step_unless_skipped, supports_device_skip
from optimsche.update.host_read import read_update_values
from optimsche.update.micro_loss import Losses, pick_loss
from optimsche.update.partial_window import SetAside, mean_factor

FREED_GRAPH = "Trying to backward through the graph a second time"
"""The start of torch's message for a backward through a freed graph."""


class ShellMachine:
    """The phases of one shell (module doc). Built by ``OptimScheduler``; everything it uses
    it holds: the settings, the values program, the state, the optimizer and its parameters,
    the scaler, the DDP rule and the model's gradient sync."""

    def __init__(
        self,
        *,
        name: str,
        settings: ShellSettings,
        values: ValuesProgram,
        state: ShellState,
        optimizer: Optimizer,
        optimizer_step: Callable[[], object],
        params: tuple[nn.Parameter, ...],
        inputs: tuple[nn.Parameter, ...],
        model: nn.Module | None,
        distributed: bool,
        world: int,
        sync_rule: DdpSyncRule | None,
        backward_inputs: list[Tensor] | None,
        model_coverage: tuple[int, int, int] | None,
        scaler: torch.amp.GradScaler | None,
        epoch_needed_by: str | None,
        items_needed_by: str | None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.values = values
        self.state = state
        self.optimizer = optimizer
        self.optimizer_step = optimizer_step
        # the skip decision on the device (update/device_skip.py): an optimizer with torch's
        # AMP protocol (fused=True), stepped as it is (not compiled)
        self.device_skip = supports_device_skip(optimizer) and optimizer_step == optimizer.step
        self.params = params
        self.inputs = inputs
        self.model = model
        self.distributed = distributed
        self.world = world
        self.sync_model = model if distributed else None
        self.sync_rule = sync_rule
        self.backward_inputs = backward_inputs
        self.model_coverage = model_coverage
        """``(id of the model, its trainable parameters, this shell's among them)`` when every
        trainable parameter of this shell is one of its model's; ``None`` otherwise: then a
        backward must be restricted to its parameters (``inputs=``)."""
        self.owns_its_model = backward_inputs is None or (
            model_coverage is not None and model_coverage[1] == model_coverage[2]
        )
        """Whether a backward of this shell alone may run unrestricted (it owns every
        parameter of its model that requires grad, or FSDP)."""
        self.scaler = scaler
        self.device = inputs[0].device
        self.one_device = all(p.device == self.device for p in inputs)
        self.epoch_needed_by = epoch_needed_by
        self.items_needed_by = items_needed_by
        self._seeds: dict[tuple[torch.dtype, torch.device, int], Tensor] = {}

    def share(self, *, scaler: torch.amp.GradScaler | None, sync_rule: DdpSyncRule | None) -> None:
        """Use the GradScaler and the DDP sync rule of a group of shells (one call, made by
        :class:`~optimsche.OptimSchedulerGroup` at construction): ``scaler`` replaces this
        shell's own (both or neither fp16), ``sync_rule`` (over this shell's DDP model) its
        rule."""
        if (scaler is None) != (self.scaler is None):
            raise ValueError(
                "share: a shared GradScaler goes to fp16 shells only (and every fp16 shell "
                "needs one)"
            )
        own = self.sync_rule
        if (sync_rule is None) != (own is None) or (
            sync_rule is not None and own is not None and sync_rule.model is not own.model
        ):
            raise ValueError("share: a shared DDP sync rule must be over this shell's DDP model")
        self.scaler = scaler
        self.sync_rule = sync_rule

    # ----------------------------------------------------------------- plan
    def plan(
        self,
        losses: Losses,
        step_num: int | None = None,
        *,
        epoch_num: float | None = None,
        num_items: int | Tensor | None = None,
    ) -> MicroStep:
        """Check one micro-step's arguments and say what it means for this shell.

        Changes nothing: every argument is validated here (the loss and ``num_items`` when
        this shell takes part, gradients left by a user's own backward at a window's start,
        and, when the micro-step ends a window, the lr and the scheduled hyperparameters of
        its update when they are known before the sync), so a refused call leaves the shell as
        it was, before any backward.
        """
        settings, state = self.settings, self.state
        window = state.window
        n = next_step_num(state.step_num, step_num, state.flushed_after)
        real = settings.real_step(n)
        open_window = window.real_step
        leaves = open_window if open_window and real != open_window else 0
        if leaves:
            self.check_partial_windows_allowed(
                f"step_num={n} jumping out of window {open_window} (which holds gradients)"
            )
            window = AccumulationWindow()  # a micro-step jumping out starts a window of its own
        epoch = check_epoch_num(
            epoch_num, state.epoch_num, needed_by=self.epoch_needed_by, first=settings.count_from
        )
        items = None
        if num_items is not None:
            items = check_items(num_items)
        elif self.items_needed_by is not None:
            raise ValueError(
                f"num_items is required: {self.items_needed_by}; pass step(..., num_items=...) "
                f"on every micro-step"
            )
        part = settings.takes_part(real)
        ends = settings.ends_window(n)
        loss = None
        values = None
        if part:
            loss = pick_loss(losses, settings.loss_key, settings.optim_loss)
            # under DDP a window's items are summed over ranks: checked at the update's sync,
            # where every rank sees the same total and refuses alike
            window.check_next(real, items, ends_window=ends and not self.distributed)
            if not window.losses and not leaves:
                self._check_no_gradients(n)
            if ends and self.values.schedules_anything and self.values.known_before_sync:
                values = self.scheduled_values(real, epoch)
        return MicroStep(n, real, part, ends, loss, items, epoch, leaves, values)

    def _check_no_gradients(self, n: int) -> None:
        """On a window's first micro-step this shell's gradients are ``None`` (it sets them so
        after every update): a gradient there is a user's own ``loss.backward()`` (O(1): the
        first and the last trainable parameter are looked at)."""
        inputs = self.inputs
        if inputs[0].grad is None and inputs[-1].grad is None:
            return
        raise ValueError(
            f"{self.name}: micro-step {n} starts a window but this shell's parameters already "
            f"hold gradients: step() runs the backward itself, so do not call loss.backward() "
            f"before step(loss) (and leave gradients to the shell, which sets them to None after "
            f"each update); nothing was changed"
        )

    def scheduled_values(self, real: int, epoch: float | None) -> ScheduledValues:
        """Every value of the update of window ``real``, checked, nothing written
        (:class:`~optimsche.machine.values.ValuesProgram`)."""
        state = self.state
        time = self.values.time(real, epoch, state.items_seen, state.items_seen)
        return self.values.values(time, state.plateau)

    # ----------------------------------------------------------------- backward
    def backward_seed(self, micro: MicroStep) -> tuple[Tensor, Tensor | None]:
        """What this shell backpropagates for ``micro`` and the gradient it is seeded with:
        ``d(loss / accum_grad)``, bit for bit what ``(loss / accum_grad).backward()`` gives.

        Without fp16 the loss itself, seeded with ``ones / accum_grad`` (computed once per
        dtype and device by the very division autograd's ``DivBackward`` runs on the ones it
        seeds ``loss / accum_grad`` with, so every gradient equals the hand-written loop's,
        without the division's forward and backward on each micro-step); by 1 with
        ``num_items``. fp16: ``scaler.scale(loss / accum_grad)``, seeded with ones; a loss
        of a Tensor subclass: ``loss / accum_grad``, seeded by autograd."""
        loss = micro.loss
        if loss is None:
            raise ValueError(f"micro-step {micro.step_num}: this shell takes no part in it")
        divisor = self.settings.loss_divisor(micro.num_items is not None)
        if self.scaler is not None or loss.__class__ is not Tensor:
            # fp16, or a Tensor subclass (a DTensor loss...), which autograd seeds with its own
            # kind of ones: divided as written
            scaled = loss if divisor == 1 else loss / divisor
            return (scaled if self.scaler is None else self.scaler.scale(scaled)), None
        key = (loss.dtype, loss.device, divisor)
        seed = self._seeds.get(key)
        if seed is None:
            ones = torch.ones((), dtype=loss.dtype, device=loss.device)
            seed = self._seeds[key] = ones if divisor == 1 else ones / divisor
        return loss, seed

    def loss_scaling(self, micro: MicroStep) -> tuple[int, int, int, bool, int]:
        """What makes two shells' backwards of one loss the same pass: the loss tensor, the
        divisor, the scaler, whether the window ends, and the gradient-synced model."""
        assert micro.loss is not None
        return (
            id(micro.loss),
            self.settings.loss_divisor(micro.num_items is not None),
            id(self.scaler),
            micro.ends_window,
            id(self.sync_model),
        )

    def before_backward(self, micro: MicroStep) -> tuple[int, int, Any]:
        """The undo record of ``micro``'s backward (O(1): module doc)."""
        window = self.state.window
        return (micro.step_num, len(window.losses), window.state())

    def run_backward(
        self,
        loss: Tensor,
        seed: Tensor | None = None,
        *,
        inputs: list[Tensor] | None,
        final: bool,
        retain_graph: bool,
    ) -> bool:
        """``torch.autograd.backward(loss, seed, inputs=inputs)`` (:meth:`backward_seed`) under
        this shell's gradient sync (DDP/FSDP: none on a window's non-final micro-steps).
        ``True`` when the window's last forward ran with DDP's sync off, so each shell must
        average its gradients itself (:meth:`after_backward`)."""
        sync_model = self.sync_model
        try:
            if sync_model is None:
                torch.autograd.backward(loss, seed, retain_graph, inputs=inputs)
                return False
            unsynced = final and forward_prepared_sync(sync_model) is False
            with gradient_sync(sync_model, final):
                torch.autograd.backward(loss, seed, retain_graph, inputs=inputs)
            return unsynced and self.world > 1
        except RuntimeError as error:
            if FREED_GRAPH not in str(error):
                raise
            raise RuntimeError(
                "step() runs the backward itself: the loss's graph was already freed by an "
                "earlier backward (did you call loss.backward() before sche.step(loss)?); drop "
                f"your own loss.backward() and let step() run it (torch: {error})"
            ) from error

    def after_backward(self, micro: MicroStep, record: Any, *, unsynced: bool) -> None:
        """Record ``micro`` in the open window once its backward returned (and average the
        gradients over ranks when its last forward ran unsynced)."""
        if unsynced:
            # The window's last forward ran with DDP's sync off (the rule of ddp_sync_rule, or
            # step_num jumped): average the gradients across ranks here, as DDP would have.
            average_gradients_(self.inputs, self.world)
        assert micro.loss is not None
        self.state.window.add(micro.real_step, micro.loss, micro.num_items)
        self.state.last_backward = (micro.step_num, record)

    def undo_backward(self, micro: MicroStep, record: Any, error: BaseException | None) -> None:
        """Undo a backward of ``micro`` that raised, or that returned (``error`` None: a
        :meth:`retract`): the window forgets it; the gradients are ``None`` again on a
        window's first micro-step, else the window is marked skipped (module doc)."""
        _, count, window_before = record
        window = self.state.window
        window.restore(window_before)
        if count == 0:
            for p in self.inputs:
                p.grad = None
            return
        window.poison()
        add_note = getattr(error, "add_note", None)
        if add_note is not None:
            add_note(
                f"optimsche: the backward of micro-step {micro.step_num} may have accumulated "
                f"into gradients of window {micro.real_step} in place; they cannot be "
                f"restored, so that window's update will be skipped (nonfinite)"
            )

    def retract(self, micro: MicroStep) -> None:
        """Undo the backward of ``micro``, which returned (a group whose later backward raised
        undoes the earlier ones with it): as :meth:`undo_backward`."""
        last = self.state.last_backward
        if last is None or last[0] != micro.step_num:
            raise ValueError(f"retract: micro-step {micro.step_num} is not the last backward run")
        self.state.last_backward = None
        self.undo_backward(micro, last[1], None)

    # ----------------------------------------------------------------- partial windows
    def set_aside(self, micro: MicroStep) -> SetAside | None:
        """When ``micro`` jumps out of an open window, move that window out of the way of its
        backward (its gradients out of ``param.grad``) and return it for
        :meth:`apply_set_aside`; ``None`` otherwise (:mod:`optimsche.update.partial_window`)."""
        if not micro.leaves_window:
            return None
        grads = [p.grad for p in self.inputs]
        for p in self.inputs:
            p.grad = None
        scale = None if self.scaler is None else scale_snapshot(self.scaler)
        aside = SetAside(grads=grads, window=self.state.window, scale=scale)
        self.state.window = AccumulationWindow()
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

    def _put_back(self, aside: SetAside) -> None:
        for p, grad in zip(self.inputs, aside.grads, strict=True):
            p.grad = grad
        self.state.window = aside.window

    def apply_set_aside(self, aside: SetAside, *, update_scaler: bool = True) -> StepReport:
        """Apply the window :meth:`set_aside` moved away, as ``flush()`` would, keeping the
        gradients of the new micro-step (its backward has run) for its own window. With
        ``update_scaler`` the fp16 scaler is updated and those gradients are rescaled to its
        new scale; a group does both itself (:meth:`rescale_gradients`)."""
        new_grads = [p.grad for p in self.inputs]
        new_window = self.state.window
        self._put_back(aside)
        try:
            report = self.apply_partial_window(update_scaler=update_scaler)
        finally:  # also when that window is refused at its sync: the new one is kept
            for p, grad in zip(self.inputs, new_grads, strict=True):
                p.grad = grad
            self.state.window = new_window
            if update_scaler:
                self.rescale_gradients(aside.scale)
        return report

    def rescale_gradients(self, scale_before: Tensor | None) -> None:
        """fp16: multiply this shell's gradients, scaled by ``scale_before`` (a device tensor
        from before a scaler update), so that they carry the scaler's current scale."""
        if self.scaler is None:
            return
        grads = [p.grad for p in self.inputs if p.grad is not None]
        rescale_gradients_(grads, self.scaler, scale_before)

    def check_partial_windows_allowed(self, what: str) -> None:
        """Partial windows need the unsynced gradients of the open window to be averaged by
        the shell, which FSDP cannot do without a backward: refuse them there."""
        if is_fsdp1(self.model) or is_fsdp2(self.model):
            raise ValueError(
                f"{what}: partial windows are not supported under FSDP, whose unsynced "
                f"gradients only a later backward reduces; give consecutive step_num and end "
                f"epochs on a window boundary"
            )

    def flush(self, *, update_scaler: bool) -> StepReport | None:
        """Apply the open window now (``OptimScheduler.flush``); ``None`` when none is open."""
        state = self.state
        if not state.window.real_step:
            return None
        self.check_partial_windows_allowed("flush()")
        end = self.settings.window_end(state.window.real_step)
        report = self.apply_partial_window(update_scaler=update_scaler)
        state.flushed_after = state.step_num
        state.step_num = end
        self.arm_next()
        return report

    def apply_partial_window(self, *, update_scaler: bool) -> StepReport:
        """Apply the open window as the exact mean over the micro-steps it holds
        (:mod:`optimsche.update.partial_window`); the counters are the caller's."""
        window = self.state.window
        if self.distributed and self.world > 1:
            average_gradients_(self.inputs, self.world)  # its backwards ran unsynced
        factor = mean_factor(self.settings.accum_grad, len(window.losses), window.items is not None)
        if factor != 1.0:
            grads = [p.grad for p in self.inputs if p.grad is not None]
            if grads:
                torch._foreach_mul_(grads, factor)
        micro = MicroStep(
            step_num=self.state.step_num,
            real_step=window.real_step,
            takes_part=True,
            ends_window=True,
            loss=None,
            num_items=None,
            epoch_num=self.state.epoch_num,
        )
        return self.update(micro, update_scaler=update_scaler)

    # ----------------------------------------------------------------- advance, update
    def advance(self, micro: MicroStep) -> None:
        """Record ``micro`` as run (its step and epoch) and arm DDP for the next forward; its
        backward can no longer be retracted."""
        state = self.state
        state.last_backward = None
        state.step_num = micro.step_num
        if micro.epoch_num is not None:
            state.epoch_num = micro.epoch_num
        state.flushed_after = None
        self.arm_next()

    def arm_next(self) -> None:
        """DDP decides at forward time whether the backward syncs: arm the next forward
        (:mod:`optimsche.parallel.ddp_sync_rule`)."""
        rule = self.sync_rule
        if rule is not None:
            rule.arm(self.state.step_num + 1)

    def idle_report(self, micro: MicroStep) -> StepReport:
        """The :class:`StepReport` of a micro-step that did not update."""
        return StepReport.idle(micro.step_num, micro.real_step, self.state.lr)

    def update(self, micro: MicroStep, *, update_scaler: bool = True) -> StepReport:
        """Apply the window ``micro`` ends: unscale, divide by items, norm, clip, the one host
        sync, the values, ``optimizer.step()`` unless skipped; then zero the gradients and,
        with ``update_scaler``, update the fp16 scaler (a group updates its shared one once).

        The window closes whatever happens: refused (a window of no items, or a negative
        Tensor ``num_items`` on any of its micro-steps, or a value known only now: nothing
        applied, ``ValueError``), skipped or applied.
        """
        state, settings = self.state, self.settings
        device = self.device
        window = state.window
        scaler = self.scaler
        grads = [p.grad for p in self.inputs if p.grad is not None]
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        items = None
        if window.items is not None:
            items = items_total(window.items, device, self.distributed)
            divide_by_items_(grads, items, self.world)
        norm = total_norm(grads, settings.grad_norm_type, device, self.one_device)
        if self.distributed:
            norm = as_full_tensor(norm)  # FSDP2: a sharded norm, reduced here
        if settings.grad_clip is not None:
            clip_by_norm_(grads, settings.grad_clip, norm, self.one_device)
        loss_sum = window.loss_sum(device)
        count = len(window.losses)
        mean_loss = loss_sum if count <= 1 else loss_sum / count
        check = norm + loss_sum
        overflow_flag = None if scaler is None else found_inf(scaler, self.optimizer, device)
        if self.device_skip and items is None:
            # No host sync: the skip code (0 applied, 1 nonfinite, 2 amp_overflow; summed over
            # ranks) is the fused optimizer's found_inf; the report reads it when read.
            code = skip_code(check, overflow_flag, self.distributed)
            try:
                self._write_values(micro, state.items_seen)
                step_unless_skipped(self.optimizer, code)
            finally:
                self._close_window(update_scaler)
            return StepReport(
                step_num=micro.step_num,
                real_step=micro.real_step,
                skipped=code,
                lr=state.lr,
                lrs=self._group_lrs(),
                grad_norm=norm,
                loss=mean_loss,
            )
        # The host path's one sync: the norm plus the losses (finite iff all are), the
        # scaler's overflow flag (summed over ranks so that all ranks agree), the items and
        # the least items of a micro-step.
        seen_before = state.items_seen
        try:
            # refusals here (ranks at different micro-steps, a window of no items, an lr known
            # only now) apply nothing, and the window closes as after any update
            check_total, overflow, window_items, least = read_update_values(
                check,
                overflow_flag,
                items,
                self.distributed,
                least=window.least_items(device),
                step=micro.step_num if self.world > 1 else None,  # ranks that drifted apart
            )
            if window_items is not None:
                check_items_total(window_items, micro.real_step)
                check_items_least(least, micro.real_step)
                exact = items is not None and not items.is_floating_point()
                state.items_seen += int(window_items) if exact else window_items
            self._write_values(micro, seen_before)
            skipped: str | None = None
            if overflow:
                skipped = SKIP_AMP_OVERFLOW
            elif not math.isfinite(check_total):
                skipped = SKIP_NONFINITE
            else:
                self.optimizer_step()
        except ValueError:
            state.items_seen = seen_before  # a refused window counts no items
            raise
        finally:
            self._close_window(update_scaler)
        return StepReport(
            step_num=micro.step_num,
            real_step=micro.real_step,
            updated=skipped is None,
            skipped=skipped,
            lr=state.lr,
            lrs=self._group_lrs(),
            grad_norm=norm,
            loss=mean_loss,
        )

    def _write_values(self, micro: MicroStep, seen_before: float) -> None:
        """Write the update's checked values (computed in prepare, or now for the items clock
        and flushed windows, with ``seen_before`` the items seen before the window)."""
        state = self.state
        values = micro.values
        if values is None and self.values.schedules_anything:
            time = self.values.time(micro.real_step, micro.epoch_num, seen_before, state.items_seen)
            values = self.values.values(time, state.plateau)
        if values is not None:
            lr = self.values.write(self.optimizer.param_groups, values)
            if lr is not None:
                state.lr = lr

    def _close_window(self, update_scaler: bool) -> None:
        """The window closes whatever happened (refused, skipped or applied): the fp16 scaler
        updated (unless a group does it), the gradients let go, the window cleared."""
        if self.scaler is not None and update_scaler:
            self.scaler.update()
        for p in self.inputs:
            p.grad = None
        self.state.window.clear()

    def _group_lrs(self) -> tuple[float, ...]:
        """Every param group's lr as a Python float, or ``()`` where one is a Tensor (reading it
        would be a host sync)."""
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if all(lr.__class__ is float or lr.__class__ is int for lr in lrs):
            return tuple(float(lr) for lr in lrs)
        return ()
