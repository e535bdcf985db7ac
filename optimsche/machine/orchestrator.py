"""``run_micro_step``: one micro-step of one shell or of several, the one place its phases are
ordered. ``OptimSchedulerGroup.step`` calls it; ``OptimScheduler.step`` calls
``run_one_micro_step``, the same phases for one shell as straight-line code (the hot path of
a plain loop: no grouping, no dicts), which hands the rare micro-step that jumps out of an
open window to the general order.

1. **Plan** every shell (:meth:`ShellMachine.plan`: all arguments checked, nothing changed).
2. **Set aside** the open windows a jumping ``step_num`` leaves (partial windows).
3. **Backward, one pass per loss.** The shells that take part are grouped by what they
   backpropagate (:meth:`ShellMachine.loss_scaling`: the same loss tensor, divided alike, on one
   scaler, ending a window alike, on one gradient-synced model): each group runs **one**
   ``torch.autograd.backward`` of that loss (seeded: :meth:`ShellMachine.backward_seed`) over
   the union of its parameters, so every shell's gradient is bit for bit what its own backward
   gives, and k distinct (loss, scaling) pairs cost k passes. Every backward but the last keeps
   the graph (``retain_graph=True``). The backward is restricted (``inputs=``) only where it
   could reach a parameter of no participating shell: unrestricted when every shell of the call
   takes part in it, all on one model, owning every parameter of it that requires grad (a lone
   shell built with ``model=`` on all of it); restricted otherwise, and always for a shell built
   with ``optimizer=`` and no ``model=`` (what its loss reaches is unknown). If a backward
   raises, every shell whose backward already ran retracts it and the raising group's shells
   undo theirs, so the call leaves every shell as before
   (:mod:`optimsche.machine.shell_machine`, "Undo").
4. **Apply the set-aside windows**, then, with fp16, update the scaler once and rescale the new
   gradients to it.
5. **Advance and update**: each shell whose window ends updates (the scaler updated once after
   all); the others report idle. A window refused at its sync is closed unapplied, the others go
   ahead, and the first refusal is raised once the micro-step is complete.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import Tensor

from optimsche.machine.shell_machine import ShellMachine
from optimsche.micro_step import MicroStep
from optimsche.parallel.ddp_sync_rule import DdpSyncRule
from optimsche.speechain_timer import TimeFunc, timer
from optimsche.step_report import StepReport
from optimsche.update.amp import scale_snapshot
from optimsche.update.micro_loss import Losses
from optimsche.update.partial_window import SetAside
from optimsche.update.skip_warning import WarningLogger, warn_if_skipped

ItemsFor = Callable[[str], "int | Tensor | None"]
"""The ``num_items`` of the shell of a name."""


def run_micro_step(
    machines: Mapping[str, ShellMachine],
    losses: Losses,
    step_num: int | None,
    *,
    epoch_num: float | None,
    items_for: ItemsFor,
    time_func: TimeFunc | None,
    logger: WarningLogger | None,
    scaler: torch.amp.GradScaler | None,
    sync_rules: Sequence[DdpSyncRule] = (),
    timer_names: Mapping[str, str | None] | None = None,
) -> dict[str, StepReport]:
    """Run one micro-step of every shell of ``machines`` (module doc); name -> report.

    ``scaler``: the fp16 GradScaler the shells share (each shell's own for one shell), updated
    once after the updates. ``sync_rules``: DDP rules checked before the backward (a group's).
    ``timer_names``: the ``optim_name`` each shell's timer is entered with (default: its name).
    """
    names = timer_names if timer_names is not None else {name: name for name in machines}
    planned = {
        name: machine.plan(losses, step_num, epoch_num=epoch_num, num_items=items_for(name))
        for name, machine in machines.items()
    }
    for rule in sync_rules:
        rule.check_forward(next(iter(planned.values())).step_num)
    return _run_planned(machines, planned, time_func, logger, scaler, names)


def run_one_micro_step(
    machine: ShellMachine,
    losses: Losses,
    step_num: int | None,
    *,
    epoch_num: float | None,
    num_items: int | Tensor | None,
    time_func: TimeFunc | None,
    logger: WarningLogger | None,
    optim_name: str | None,
) -> StepReport:
    """:func:`run_micro_step` of one shell (``OptimScheduler.step``), its own scaler: the same
    phases in the same order, as straight-line code for the common micro-step (no grouping:
    one shell's backward is its own pass, unrestricted when it owns its model); a micro-step
    that jumps out of an open window goes through :func:`run_micro_step`'s order."""
    micro = machine.plan(losses, step_num, epoch_num=epoch_num, num_items=num_items)
    if micro.leaves_window:
        return _run_planned(
            {"": machine}, {"": micro}, time_func, logger, machine.scaler, {"": optim_name}
        )[""]
    if micro.takes_part:
        _backward_pass(
            ((machine, micro),),
            inputs=None if machine.owns_its_model else machine.backward_inputs,
            retain_graph=False,
            timing=None
            if time_func is None
            else timer(time_func, "loss_backward_time", optim_name),
        )
    machine.advance(micro)
    if not micro.updates:
        return machine.idle_report(micro)  # never a skipped update: nothing to warn of
    scaler = machine.scaler
    try:
        report = _update(machine, micro, time_func, optim_name)
    except ValueError:  # refused at its sync: the window is closed, the scaler updated
        if scaler is not None:
            scaler.update()
        raise
    if scaler is not None:
        scaler.update()
    warn_if_skipped(logger, report, optim_name)
    return report


def _run_planned(
    machines: Mapping[str, ShellMachine],
    planned: Mapping[str, MicroStep],
    time_func: TimeFunc | None,
    logger: WarningLogger | None,
    scaler: torch.amp.GradScaler | None,
    names: Mapping[str, str | None],
) -> dict[str, StepReport]:
    """Phases 2 to 5 (module doc) of the planned micro-steps of ``machines``."""
    aside = {name: machines[name].set_aside(micro) for name, micro in planned.items()}
    if any(token is not None for token in aside.values()):
        with _restoring(machines, aside):
            _backward_all(machines, planned, time_func, names)
        flushed, refused = _apply_set_aside(machines, aside, scaler)
    else:
        _backward_all(machines, planned, time_func, names)
        flushed, refused = {}, None
    reports: dict[str, StepReport] = {}
    for name, micro in planned.items():
        machine = machines[name]
        machine.advance(micro)
        if micro.updates:
            try:
                reports[name] = _update(machine, micro, time_func, names[name])
            except ValueError as error:  # refused at its sync: that window is closed
                refused = refused or error
        else:
            reports[name] = machine.idle_report(micro)
    if scaler is not None and any(micro.updates for micro in planned.values()):
        scaler.update()
    for name, report in flushed.items():
        if name in reports:
            reports[name] = attrs.evolve(reports[name], flushed=report)
    for name, report in reports.items():
        warn_if_skipped(logger, report, names[name])
    if refused is not None:
        raise refused
    return reports


def _update(
    machine: ShellMachine, micro: MicroStep, time_func: TimeFunc | None, optim_name: str | None
) -> StepReport:
    """The update ``micro`` ends, in SpeeChain's ``optim_time`` timer when one is given; the
    fp16 scaler is the caller's to update (once, after every shell's update)."""
    timing = timer(time_func, "optim_time", optim_name)
    if timing is None:
        return machine.update(micro, update_scaler=False)
    with timing:
        return machine.update(micro, update_scaler=False)


def _backward_all(
    machines: Mapping[str, ShellMachine],
    planned: Mapping[str, MicroStep],
    time_func: TimeFunc | None,
    names: Mapping[str, str | None],
) -> None:
    """One backward per (loss, scaling) group of the participating shells (module doc)."""
    groups: dict[tuple[int, int, int, bool, int], list[str]] = {}
    for name, micro in planned.items():
        if micro.takes_part:
            groups.setdefault(machines[name].loss_scaling(micro), []).append(name)
    passes = list(groups.values())
    done: list[tuple[str, MicroStep]] = []
    try:
        for index, members in enumerate(passes):
            _backward_pass(
                [(machines[name], planned[name]) for name in members],
                inputs=_inputs(machines, members, unrestricted=len(members) == len(machines)),
                retain_graph=index != len(passes) - 1,
                timing=timer(time_func, "loss_backward_time", names[members[0]]),
            )
            done.extend((name, planned[name]) for name in members)
    except BaseException:
        for name, micro in reversed(done):
            machines[name].retract(micro)
        raise


def _backward_pass(
    members: Sequence[tuple[ShellMachine, MicroStep]],
    *,
    inputs: list[Tensor] | None,
    retain_graph: bool,
    timing: contextlib.AbstractContextManager[Any] | None,
) -> None:
    """One ``torch.autograd.backward`` of the loss ``members`` share (restricted to
    ``inputs``); each records it, or undoes it when it raised."""
    first, micro = members[0]
    loss, seed = first.backward_seed(micro)
    records = [(machine, step, machine.before_backward(step)) for machine, step in members]
    try:
        if timing is None:
            unsynced = first.run_backward(
                loss, seed, inputs=inputs, final=micro.ends_window, retain_graph=retain_graph
            )
        else:
            with timing:
                unsynced = first.run_backward(
                    loss, seed, inputs=inputs, final=micro.ends_window, retain_graph=retain_graph
                )
    except BaseException as error:
        for machine, step, record in records:
            machine.undo_backward(step, record, error)
        raise
    for machine, step, record in records:
        machine.after_backward(step, record, unsynced=unsynced)


def _inputs(
    machines: Mapping[str, ShellMachine], members: list[str], unrestricted: bool
) -> list[Tensor] | None:
    """``inputs=`` of a pass: ``None`` (unrestricted) under FSDP, or when ``members`` are every
    shell of the call, on one model, owning all its parameters that require grad; else the
    union of their parameters."""
    if len(members) == 1:
        shell = machines[members[0]]
        return None if unrestricted and shell.owns_its_model else shell.backward_inputs
    shells = [machines[name] for name in members]
    if any(shell.backward_inputs is None for shell in shells):
        return None  # FSDP: see optimsche.parallel.distributed.backward_inputs
    coverage = [shell.model_coverage for shell in shells]
    if unrestricted and all(c is not None for c in coverage):
        models = {c[0] for c in coverage if c is not None}
        owned = sum(c[2] for c in coverage if c is not None)
        if len(models) == 1 and coverage[0] is not None and owned == coverage[0][1]:
            return None
    return [p for shell in shells for p in shell.backward_inputs or ()]


@contextlib.contextmanager
def _restoring(
    machines: Mapping[str, ShellMachine], aside: Mapping[str, SetAside | None]
) -> Iterator[None]:
    """If a backward raises, every shell's set-aside window goes back as it was."""
    with contextlib.ExitStack() as stack:
        for name, token in aside.items():
            if token is not None:
                stack.enter_context(machines[name].restoring(token))
        yield


def _apply_set_aside(
    machines: Mapping[str, ShellMachine],
    aside: Mapping[str, SetAside | None],
    scaler: torch.amp.GradScaler | None,
) -> tuple[dict[str, StepReport], ValueError | None]:
    """Apply the windows set aside for a jumping ``step_num``; then, with fp16, update the
    scaler once and rescale the new micro-step's gradients to it. A window refused at its
    sync is closed unapplied, the others go ahead; the first refusal is returned."""
    tokens = {name: token for name, token in aside.items() if token is not None}
    if not tokens:
        return {}, None
    before = None if scaler is None else scale_snapshot(scaler)
    reports: dict[str, StepReport] = {}
    refused: ValueError | None = None
    for name, token in tokens.items():
        try:
            reports[name] = machines[name].apply_set_aside(token, update_scaler=False)
        except ValueError as error:
            refused = refused or error
    if scaler is not None:
        scaler.update()
        for machine in machines.values():
            machine.rescale_gradients(before)
    return reports, refused
