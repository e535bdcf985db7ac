r"""The learning rate every optimizer of a configuration will use, computed without a model.

Each entry is built as an :class:`~optimsche.OptimScheduler` around a stand-in optimizer
(``torch.optim.SGD`` over one zero tensor, with the configured ``lr``, or the optimizer
class's default lr, or 1.0), so that classes which read the optimizer's lr (``NoamLr``
without ``d_model``, ``ExponentDecayLr``) see the same value as in training. Then, for a run
of ``total_steps`` micro-steps with ``accum_grad`` micro-steps per window, the optimizer
updates at the windows ``r = step_per_update, 2·step_per_update, ...`` whose last micro-step
``r·accum_grad`` lies within the run, each with lr ``ft_factor · update_lr(r)``: exactly what
``OptimScheduler.step`` applies.

A shell scheduled by the epoch (``clock: epoch``, or ``ExponentDecayLr``) is previewed with
one epoch per update (epoch ``r`` at real step ``r``), since a configuration does not say
how many updates an epoch holds, unless ``updates_per_epoch`` says it (then update ``r``
sees the epoch ``(r - 1) // updates_per_epoch + 1``). ``clock: items`` cannot be previewed
(the lr depends on the items the data will hold): a :class:`ConfigError` says so.

A schedule of several clocks (``multiply(on("update", f), on("epoch", g))``, ``eden(...)``)
is drawn against the updates given the updates per epoch (``updates_per_epoch``,
``--updates-per-epoch``): update ``r`` (1-based) falls in the 1-based epoch ``(r - 1) //
updates_per_epoch + 1``, the ``epoch_num`` a SpeeChain loop gives. One that reads the epoch
without it, or that reads the items, is a :class:`ConfigError` naming the clock.

The lr is the reference param group's (in the stand-in, the only group). The entry's scheduled
hyperparameters (``hyperparameters:``) come along as
:class:`~optimsche.cli.hyperparameter_curves.ValueCurve`\ s at the same updates.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

import attrs
import torch

from optimsche.cli.hyperparameter_curves import ValueCurve, hyperparameter_curves
from optimsche.cli.schedule_horizon import expression_horizon, schedule_horizon
from optimsche.config.building import build_optim_scheduler
from optimsche.config.error import ConfigError, config_require
from optimsche.config.records import ExperimentSettings, OptimSchedulerSpec, OptimSchesConfig
from optimsche.config.schedule_expression import ScheduleExpression, combinators
from optimsche.config.type_resolution import ShellClassType, schedule_functions
from optimsche.optim_scheduler import OptimScheduler
from optimsche.optimizer.checked_value import check_value
from optimsche.optimizer.factory import resolve_optimizer_class
from schedules.bound_schedule import BoundSchedule
from schedules.time_record import Time, at_time, clocks_of, on
from schedules.validation import require_count, require_number

MAX_POINTS = 100_000
"""At most this many updates are evaluated per optimizer; longer runs are sampled evenly
(first and last update included)."""


@attrs.frozen
class LrCurve:
    """The lr of each update of one optimizer: at micro-step ``steps[i]`` (real step
    ``real_steps[i]``) the update uses ``lrs[i]``. ``updates`` counts all the updates of the
    run; when it exceeds :data:`MAX_POINTS` the points are an even sample (``sampled``).
    ``hyperparameters``: the values of the entry's other scheduled entries at those updates."""

    name: str
    summary: str
    steps: tuple[int, ...]
    real_steps: tuple[int, ...]
    lrs: tuple[float, ...]
    updates: int
    sampled: bool
    hyperparameters: tuple[ValueCurve, ...] = ()


def _stand_in_lr(spec: OptimSchedulerSpec) -> float:
    configured = spec.optim_conf.get("lr")
    if configured is not None:
        return config_require(require_number, f"{spec.where}.conf.optim_conf.lr", configured)
    try:
        default = inspect.signature(resolve_optimizer_class(spec.optim_type)).parameters["lr"]
        return require_number("lr", default.default)
    except (KeyError, ValueError, TypeError):
        return 1.0


def preview_optim_scheduler(
    spec: OptimSchedulerSpec, settings: ExperimentSettings
) -> OptimScheduler:
    """``spec`` built around a one-tensor SGD stand-in with the configured lr (no model, no
    AMP, no DDP, no hyperparameter schedules: the stand-in has no such entries): enough to ask
    it ``update_lr``."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=_stand_in_lr(spec))
    local = attrs.evolve(settings, use_amp=False, distributed=False)
    return build_optim_scheduler(attrs.evolve(spec, hyperparameters=()), local, optimizer=optimizer)


def _summary(spec: OptimSchedulerSpec, settings: ExperimentSettings) -> str:
    modules = ", ".join(spec.updated_modules) if spec.updated_modules else "the whole model"
    spu, accum = spec.step_per_update, settings.accum_grad
    windows = "every window" if spu == 1 else f"every {spu} windows"
    micro = "" if accum == 1 else f" of {accum} micro-steps"
    parts = [
        spec.type_name,
        f"{spec.optim_type} over {modules}",
        f"loss {spec.optim_loss or 'loss'!r}",
        f"updates {windows}{micro}",
    ]
    if settings.ft_factor != 1.0:
        parts.append(f"ft_factor {settings.ft_factor:g}")
    return " · ".join(parts)


def is_builtin_schedule(schedule: object) -> bool:
    """Whether ``schedule`` is made only of :mod:`schedules`' own parts (a partial of a leaf,
    or a combinator of such), which all take a Tensor of steps."""
    if isinstance(schedule, BoundSchedule):
        return True
    if isinstance(schedule, functools.partial):
        return schedule.func in schedule_functions().values()
    if type(schedule) in combinators().values():
        single, several = getattr(schedule, "schedule", None), getattr(schedule, "schedules", ())
        flat = [*([single] if single is not None else []), *several]
        return all(map(is_builtin_schedule, flat))
    return False


def update_times(
    schedule: Any, real_steps: tuple[int, ...], updates_per_epoch: int | None, what: str
) -> list[Time]:
    """The :class:`Time` of each update ``r`` of ``real_steps`` for a schedule of several
    clocks (module doc): ``update=r``, ``epoch=(r - 1) // updates_per_epoch + 1``. A
    :class:`ConfigError` naming ``what`` when it reads a clock a preview cannot know."""
    clocks = clocks_of(schedule)
    if "items" in clocks:
        raise ConfigError(
            f"{what} reads the 'items' clock (the items, such as tokens, seen so far), which a "
            f"preview does not know: its curve cannot be drawn against updates"
        )
    if "epoch" in clocks and updates_per_epoch is None:
        raise ConfigError(
            f"{what} reads the 'epoch' clock: give --updates-per-epoch N (the updates in one "
            f"epoch) to draw it against updates"
        )
    per_epoch = updates_per_epoch or 1
    return [Time(update=r, epoch=max(r - 1, 0) // per_epoch + 1) for r in real_steps]


def schedule_values(
    schedule: Any,
    real_steps: tuple[int, ...],
    updates_per_epoch: int | None = None,
    what: str = "the schedule",
) -> list[float]:
    """``schedule(r)`` for every ``r``: in one call on a float64 Tensor of the steps for a
    :func:`is_builtin_schedule`, else step by step. A schedule of several clocks is
    evaluated at each update's :func:`update_times` (``what`` names it in errors)."""
    if clocks_of(schedule):
        times = update_times(schedule, real_steps, updates_per_epoch, what)
        if real_steps and is_builtin_schedule(schedule):
            values = schedule(
                Time(
                    update=torch.tensor([t.update for t in times], dtype=torch.float64),
                    epoch=torch.tensor([t.epoch for t in times], dtype=torch.float64),
                )
            )
            return [float(v) for v in values.tolist()]
        return [float(at_time(schedule, t)) for t in times]
    if real_steps and is_builtin_schedule(schedule):
        values = schedule(torch.tensor(real_steps, dtype=torch.float64))
        return [float(v) for v in values.tolist()]
    return [float(schedule(real)) for real in real_steps]


def _on_shell_clock(shell: OptimScheduler, schedule: Any, updates_per_epoch: int | None) -> Any:
    """``schedule`` as the shell reads it: a plain schedule of a ``clock: epoch`` shell, with
    ``updates_per_epoch`` known, read at each update's epoch (``on("epoch", schedule)``); the
    lr's and the scheduled hyperparameters' alike."""
    if shell.clock == "epoch" and updates_per_epoch is not None and not clocks_of(schedule):
        return on("epoch", schedule)
    return schedule


def _update_lrs(
    shell: OptimScheduler, real_steps: tuple[int, ...], updates_per_epoch: int | None, what: str
) -> list[float]:
    """``shell.update_lr(r)`` for every ``r``. A plain OptimScheduler driven by a schedule
    made of :mod:`schedules`' own parts (whose ``update_lr`` is the checked
    ``schedule(r)``) is evaluated in one call on a float64 Tensor of the steps
    (:func:`schedule_values`); any other class step by step, each value checked
    (:func:`~optimsche.optimizer.checked_value.check_value`). A shell scheduled by the epoch
    sees epoch ``r`` at real step ``r``, or with ``updates_per_epoch`` the epoch of update
    ``r`` (module doc)."""
    schedule = _on_shell_clock(shell, shell.schedule, updates_per_epoch)
    by_clock = shell.clock == "epoch"
    plain_update_lr = type(shell).update_lr is OptimScheduler.update_lr
    if plain_update_lr and (is_builtin_schedule(schedule) or clocks_of(schedule)):
        return schedule_values(schedule, real_steps, updates_per_epoch, what)
    by_epoch = shell.requires_epoch_num
    source = f"{type(shell).__name__}.update_lr"
    values = []
    for real in real_steps:
        epoch = real if updates_per_epoch is None else (real - 1) // updates_per_epoch + 1
        t = epoch if by_clock else real
        lr = shell.update_lr_at(t, epoch if by_epoch else None)
        values.append(check_value("lr", lr, schedule=source, t=t))
    return values


MAX_STEPS = 2**53
"""The longest run a curve may span: every micro-step up to it is exact in float64."""


def update_indices(updates: int, max_points: int) -> list[int]:
    """``1..updates``, or an even sample of ``max_points`` of them (first and last kept)."""
    if updates <= max_points:
        return list(range(1, updates + 1))
    return [1 + k * (updates - 1) // (max_points - 1) for k in range(max_points)]


def expression_curve(
    expression: ScheduleExpression,
    total_steps: int,
    *,
    max_points: int = MAX_POINTS,
    updates_per_epoch: int | None = None,
) -> LrCurve:
    """The values of a parsed schedule expression at steps ``1..total_steps``, sampled like
    :func:`lr_curve` (at most ``max_points`` evaluated, memory bounded whatever the run); a
    schedule of several clocks with ``updates_per_epoch`` updates per epoch (module doc)."""
    _check_total(total_steps)
    steps = tuple(update_indices(total_steps, max_points))
    what = f"schedule {expression.text!r}"
    values = schedule_values(expression.schedule, steps, updates_per_epoch, what)
    for step, value in zip(steps, values, strict=True):
        if not math.isfinite(value):
            raise ConfigError(
                f"schedule {expression.text!r}: the value at step {step} is {value!r}"
            )
    return LrCurve(
        name="schedule",
        summary=expression.text or expression.name,
        steps=steps,
        real_steps=steps,
        lrs=tuple(values),
        updates=total_steps,
        sampled=len(steps) < total_steps,
    )


def _check_total(total_steps: int) -> None:
    config_require(require_count, "steps", total_steps)
    if total_steps > MAX_STEPS:
        raise ConfigError(f"steps: at most {MAX_STEPS} (2^53), got {total_steps}")


def lr_curve(
    spec: OptimSchedulerSpec,
    settings: ExperimentSettings,
    total_steps: int,
    *,
    max_points: int = MAX_POINTS,
    updates_per_epoch: int | None = None,
) -> LrCurve:
    """The lr of every update of ``spec`` in a run of ``total_steps`` micro-steps (a
    schedule of several clocks with ``updates_per_epoch`` updates per epoch, module doc)."""
    _check_total(total_steps)
    shell = preview_optim_scheduler(spec, settings)
    if shell.clock == "items":
        raise ConfigError(
            f"{spec.where}.conf.clock: 'items' schedules by the items (tokens) seen, which a "
            f"configuration does not know: its lr curve cannot be previewed"
        )
    spu, accum = spec.step_per_update, settings.accum_grad
    updates = (total_steps // accum) // spu
    indices = update_indices(updates, max_points)
    real_steps = tuple(k * spu for k in indices)
    what = f"{spec.where}.conf.schedule"
    lrs = [
        shell.ft_factor * value for value in _update_lrs(shell, real_steps, updates_per_epoch, what)
    ]
    for real, lr in zip(real_steps, lrs, strict=True):
        if not math.isfinite(lr):
            raise ConfigError(f"{spec.where}: the lr at real step {real} is {lr!r}")
    return LrCurve(
        name=spec.name,
        summary=_summary(spec, settings),
        steps=tuple(real * accum for real in real_steps),
        real_steps=real_steps,
        lrs=tuple(lrs),
        updates=updates,
        sampled=len(indices) < updates,
        hyperparameters=hyperparameter_curves(
            spec,
            real_steps,
            lambda schedule, steps: schedule_values(
                _on_shell_clock(shell, schedule, updates_per_epoch), steps, updates_per_epoch, what
            ),
        ),
    )


def default_total_steps(config: OptimSchesConfig, settings: ExperimentSettings) -> int:
    """Micro-steps to show when none are asked for: the longest
    :func:`~optimsche.schedule_horizon.schedule_horizon` of the entries (their lr schedules
    and hyperparameter schedules), times ``accum_grad``."""
    horizons = []
    for spec in config.optimizers:
        target = spec.target
        if spec.schedule is not None:
            horizons.append(expression_horizon(spec.schedule))
            continue
        name = target.cls.__name__ if isinstance(target, ShellClassType) else target.name
        horizons.append(schedule_horizon(name, spec.sche_conf))
        for configured in spec.hyperparameters:
            horizons.extend(expression_horizon(e) for e in configured.expressions)
    return min(max(horizons) * settings.accum_grad, MAX_STEPS)


def lr_curves(
    config: OptimSchesConfig,
    settings: ExperimentSettings,
    total_steps: int | None = None,
    *,
    updates_per_epoch: int | None = None,
) -> list[LrCurve]:
    """:func:`lr_curve` of every entry of ``config``, over ``total_steps`` micro-steps
    (default: :func:`default_total_steps`), ``updates_per_epoch`` for schedules of several
    clocks."""
    steps = default_total_steps(config, settings) if total_steps is None else total_steps
    return [
        lr_curve(spec, settings, steps, updates_per_epoch=updates_per_epoch)
        for spec in config.optimizers
    ]
