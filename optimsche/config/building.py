"""Building OptimSchedulers from a validated ``optim_sches`` configuration.

``build_optim_sches(config, model, **experiment)`` validates the whole configuration into
records first (:mod:`optimsche.config.parsing`), so nothing is built from a config with a
mistake anywhere in it, then builds one :class:`~optimsche.OptimScheduler` per entry and
groups them in an :class:`~optimsche.OptimSchedulerGroup`:

* a class ``type`` (``noam.NoamLr``, a user's subclass) is called as SpeeChain does:
  ``cls(optim_type, optim_conf, model, distributed, optim_loss, updated_modules,
  step_per_update, use_amp, accum_grad, ft_factor, grad_clip, grad_norm_type, **sche_conf)``;
* a schedule function ``type`` (``cosine``) gives
  ``OptimScheduler(..., schedule=schedules.bind(cosine, **hyperparameters))``;
* a ``hyperparameters:`` conf key adds ``hyperparameters={key: schedule}``
  (:mod:`optimsche.config.hyperparameter_conf`).

Several param groups follow the shell's per-group rule (:mod:`optimsche.optimizer.group_rule`).

Errors raised while building (a module the model lacks, an optimizer argument torch refuses,
a bad ``sche_init`` value) come out as a :class:`ConfigError` naming the entry.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from torch import nn
from torch.optim import Optimizer

import schedules
from optimsche.config.durations import RunLengths, run_lengths
from optimsche.config.error import ConfigError
from optimsche.config.experiment_document import find_optim_sches
from optimsche.config.number_range import require_float_range
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.records import ExperimentSettings, OptimSchedulerSpec, OptimSchesConfig
from optimsche.config.type_resolution import ShellClassType
from optimsche.group import OptimSchedulerGroup
from optimsche.optim_scheduler import OptimScheduler


def build_optim_scheduler(
    spec: OptimSchedulerSpec,
    settings: ExperimentSettings,
    *,
    model: nn.Module | None = None,
    optimizer: Optimizer | None = None,
) -> OptimScheduler:
    """One OptimScheduler from its record: over ``model``'s ``updated_modules`` with the
    configured optimizer, or, with ``optimizer=``, around that optimizer (``optim_type``,
    ``optim_conf`` and ``updated_modules`` are then not used)."""
    arguments: dict[str, Any] = {
        "distributed": settings.distributed,
        "optim_loss": spec.optim_loss,
        "step_per_update": spec.step_per_update,
        "use_amp": settings.use_amp,
        "accum_grad": settings.accum_grad,
        "ft_factor": settings.ft_factor,
        "grad_clip": settings.grad_clip,
        "grad_norm_type": settings.grad_norm_type,
    }
    if spec.clock != "update":  # only when configured: a subclass's own __init__ may not take it
        arguments["clock"] = spec.clock
    if spec.count_from != 1:  # the same: only a 0-based entry passes it
        arguments["count_from"] = spec.count_from
    if spec.plateau is not None:
        arguments["plateau"] = dict(spec.plateau)
    if optimizer is None:
        arguments.update(
            optim_type=spec.optim_type,
            optim_conf=dict(spec.optim_conf),
            model=model,
            updated_modules=None if spec.updated_modules is None else list(spec.updated_modules),
        )
    else:
        arguments.update(optimizer=optimizer)
    if spec.hyperparameters:
        arguments["hyperparameters"] = {h.key: h.schedule for h in spec.hyperparameters}
    try:
        if isinstance(spec.target, ShellClassType):
            if spec.schedule is not None:
                arguments.update(schedule=spec.schedule.schedule)
            return spec.target.cls(**arguments, **spec.sche_conf)
        schedule = schedules.bind(spec.target.function, **spec.sche_conf)
        return OptimScheduler(**arguments, schedule=schedule)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{spec.where}: {error}") from None


class NotGiven(enum.Enum):
    """The default of a run setting of :func:`build_optim_sches` that was not given."""

    NOT_GIVEN = "not given"


NOT_GIVEN = NotGiven.NOT_GIVEN
T = TypeVar("T")


def _setting(name: str, given: T | NotGiven, document: Mapping[str, Any], default: T) -> Any:
    """A run setting: the keyword if given, else the document's top-level value, else the
    default."""
    if given is not NOT_GIVEN:
        return given
    return document.get(name, default)


def build_optim_sches(
    config: Mapping[str, Any] | OptimSchesConfig,
    model: nn.Module,
    *,
    accum_grad: int | NotGiven = NOT_GIVEN,
    ft_factor: float | NotGiven = NOT_GIVEN,
    use_amp: bool | str | NotGiven = NOT_GIVEN,
    grad_clip: float | NotGiven | None = NOT_GIVEN,
    grad_norm_type: float | NotGiven = NOT_GIVEN,
    distributed: bool | None = None,
    horizon: float | None = None,
    updates_per_epoch: float | None = None,
) -> OptimSchedulerGroup:
    """Validate ``config`` and build its OptimSchedulers over ``model``, as a group.

    ``config`` is the ``optim_sches`` mapping, a document holding an ``optim_sches`` key
    (as :func:`~optimsche.load_config` returns it), a whole SpeeChain experiment
    configuration (``train_cfg.optim_sches``), or already validated records. The keyword
    arguments are the run-level settings SpeeChain reads from its experiment config; every
    OptimScheduler of the group gets the same ones. Those not given come from the top level of
    a whole experiment configuration, else default to ``accum_grad=1``, ``ft_factor=1.0``,
    ``use_amp=False``, ``grad_clip=None``, ``grad_norm_type=2.0``. ``horizon`` (the run's
    length in updates) and ``updates_per_epoch`` resolve the lengths written with units
    (``warmup: 5%``, ``steps: 3ep``; :mod:`optimsche.config.durations`). Any mistake raises a
    one-line :class:`ConfigError` before anything is built.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"build_optim_sches: model must be a torch.nn.Module, got {type(model).__name__}"
        )
    document: Mapping[str, Any] = {}
    if isinstance(config, OptimSchesConfig):
        records = config
    else:
        document = find_optim_sches(config).run_settings
        with run_lengths(RunLengths(horizon=horizon, updates_per_epoch=updates_per_epoch)):
            records = parse_optim_sches(config)
    for name, given in (
        ("accum_grad", accum_grad),
        ("ft_factor", ft_factor),
        ("grad_clip", grad_clip),
        ("grad_norm_type", grad_norm_type),
    ):
        require_float_range(name, _setting(name, given, document, None))
    settings = ExperimentSettings(
        accum_grad=_setting("accum_grad", accum_grad, document, 1),
        ft_factor=_setting("ft_factor", ft_factor, document, 1.0),
        use_amp=_setting("use_amp", use_amp, document, False),
        grad_clip=_setting("grad_clip", grad_clip, document, None),
        grad_norm_type=_setting("grad_norm_type", grad_norm_type, document, 2.0),
        distributed=distributed,
    )
    members = {
        spec.name: build_optim_scheduler(spec, settings, model=model) for spec in records.optimizers
    }
    try:
        return OptimSchedulerGroup(members)
    except ValueError as error:
        raise ConfigError(f"optim_sches: {error}") from None
