"""From raw ``optim_sches`` data (as loaded from YAML) to validated records.

The format is SpeeChain's::

    optim_sches:                      # optional wrapper: a whole train config may be given
      encoder_optim:                  # one entry per optimizer, keyed by its name
        type: noam.NoamLr             # a class, a dotted path, or a schedule function name
        conf:
          optim_type: Adam            # a torch.optim class (or a dotted path to one)
          optim_conf: {lr: 1.0e-3}    # its keyword arguments
          optim_loss: encoder_loss    # (alias: optim_losses) default: the loss named "loss"
          updated_modules: encoder    # a name or a list (dotted for deeper modules);
                                      # default: the whole model
          step_per_update: 2          # take part in every 2nd window only
          d_model: 256                # scheduling keys of the type (here NoamLr.sche_init)
          warmup_steps: 4000
          clock: update               # or epoch, items (optimsche.update.clock)
          count_from: 1               # 0: the k-th update evaluates the schedule at k - 1
          plateau: {patience: 2}      # reduce_on_plateau's arguments (optional)
          hyperparameters:            # param-group entries scheduled besides the lr
            weight_decay: "cosine(peak=0.1, steps=10000, final=0.01)"
            betas[0]: {type: linear, start: 0.95, end: 0.9, steps: 4000}

A mapping with only ``type`` and ``conf`` is a single optimizer named ``main``. A whole
SpeeChain experiment configuration holds the mapping under ``train_cfg.optim_sches``
(:mod:`optimsche.config.experiment_document`). Run-level settings (``accum_grad``,
``ft_factor``, ...) are not conf keys: they come from the experiment (its top level,
``build_optim_sches(..., accum_grad=...)``, ``--accum-grad``).

``type`` may also name a call of the expression language that builds a schedule from plain
values (:func:`optimsche.config.language_names.builders`): icefall's ``eden``/``eden2``,
``transformers_schedule`` and transformers' names (``transformers.cosine``, the bare
``cosine_with_restarts``); the conf keys are its arguments, ``optim_conf.lr`` its ``peak``
when none is given, and the entry is ``type: OptimScheduler`` with that schedule::

    main:
      type: transformers.cosine
      conf: {optim_type: AdamW, optim_conf: {lr: 3.0e-4}, num_warmup_steps: 500,
             num_training_steps: 10000}

A shell class's keys that it lists in ``sche_lengths`` (``NoamLr.warmup_steps``) take units
(``warmup_steps: 5%``) as a leaf's lengths do (:mod:`optimsche.config.durations`).

The lr schedule may also be written as one expression (:mod:`optimsche.config.schedule_expression`),
with ``type: OptimScheduler`` or no ``type``::

    main:
      conf:
        optim_type: AdamW
        schedule: "warmup(cosine(peak=1e-3, steps=10000), steps=500)"

A configured schedule's values are checked (finite, ``>= 0``) at sampled steps
(:mod:`optimsche.config.schedule_values`): a negative ``peak`` is an error here, not gradient
ascent later.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch

import schedules
from optimsche.config.durations import resolve_lengths
from optimsche.config.error import ConfigError, config_require
from optimsche.config.experiment_document import find_optim_sches
from optimsche.config.hyperparameter_conf import KEY as HYPERPARAMETERS_KEY
from optimsche.config.hyperparameter_conf import parse_hyperparameters
from optimsche.config.language_names import transformers_hint
from optimsche.config.number_range import require_float_range
from optimsche.config.records import OptimSchedulerSpec, OptimSchesConfig
from optimsche.config.schedule_expression import (
    ScheduleExpression,
    parse_schedule_call,
    parse_schedule_expression,
)
from optimsche.config.schedule_values import check_schedule_values
from optimsche.config.shell_options import parse_clock, parse_count_from, parse_plateau
from optimsche.config.type_resolution import (
    ExpressionCallType,
    ResolvedType,
    ScheduleFunctionType,
    ShellClassType,
    conf_parameters,
    resolve_type,
)
from optimsche.config.value_types import describe_value, require_fits
from optimsche.optimizer.factory import optimizer_keywords, resolve_optimizer_class
from optimsche.optimizer.optim_conf_types import check_optim_conf_values
from optimsche.sche_conf import check_sche_conf
from schedules.close_matches import did_you_mean
from schedules.validation import require_count

SINGLE_NAME = "main"
"""The name of the optimizer of a single-entry config (``type`` and ``conf`` only)."""

ENTRY_KEYS = ("type", "conf")
GENERAL_KEYS = (
    "optim_type",
    "optim_conf",
    "optim_loss",
    "optim_losses",
    "updated_modules",
    "step_per_update",
    "clock",
    "count_from",
    "plateau",
    HYPERPARAMETERS_KEY,
)
RUN_LEVEL_KEYS = (
    "accum_grad",
    "ft_factor",
    "use_amp",
    "grad_clip",
    "grad_norm_type",
    "distributed",
)


def optim_sches_section(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``optim_sches`` mapping: ``config["optim_sches"]``, ``config["train_cfg"]
    ["optim_sches"]`` (a whole SpeeChain experiment configuration), or ``config`` itself
    (:func:`optimsche.config.experiment_document.find_optim_sches`)."""
    return find_optim_sches(config).entries


def _optimizer_class(optim_type: object, where: str) -> type[torch.optim.Optimizer]:
    try:
        return resolve_optimizer_class(optim_type)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


def _check_optim_conf(optim_conf: object, cls: type[torch.optim.Optimizer], where: str) -> None:
    if not isinstance(optim_conf, Mapping):
        raise ConfigError(
            f"{where}: must be a mapping of {cls.__name__} arguments, "
            f"got {describe_value(optim_conf)}"
        )
    valid, takes_any = optimizer_keywords(cls)
    for key in optim_conf:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: keys must be strings, got {key!r}")
        if key == "params":
            raise ConfigError(
                f"{where}: 'params' cannot be configured: updated_modules chooses the parameters"
            )
        if key not in valid and not takes_any:
            raise ConfigError(
                f"{where}: {cls.__name__} takes no argument {key!r}{did_you_mean(key, valid)} "
                f"(valid: {', '.join(valid)})"
            )
    try:
        check_optim_conf_values(cls, optim_conf, where)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _updated_modules(value: object, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ConfigError(
        f"{where}: must be a module name or a non-empty list of module names, "
        f"got {describe_value(value)}"
    )


def _refuse_run_level_keys(sche_conf: Mapping[str, Any], where: str) -> None:
    for key in sche_conf:
        if key in RUN_LEVEL_KEYS:
            raise ConfigError(
                f"{where}.{key}: {key} is a run-level setting, not an optimizer key: "
                f"pass it to build_optim_sches(..., {key}=...)"
            )


def _check_sche_conf(target: ResolvedType, sche_conf: dict[str, Any], where: str) -> None:
    params = conf_parameters(target)
    kind = "schedule" if isinstance(target, ScheduleFunctionType) else "type"
    _refuse_run_level_keys(sche_conf, where)
    try:
        check_sche_conf(
            where,
            None if params.accepts_any else params.accepted,
            sche_conf,
            owner=f"{kind} {target.name!r}",
            also_valid=GENERAL_KEYS,
        )
    except ValueError as error:
        unknown = [key for key in sche_conf if key not in params.accepted]
        raise ConfigError(f"{error}{transformers_hint(target.name, unknown)}") from None
    for key, value in sche_conf.items():
        if key in params.annotations:
            require_fits(f"{where}.{key}:", value, params.annotations[key])
    missing = [key for key in params.required if key not in sche_conf]
    if missing:
        raise ConfigError(
            f"{where}: missing key {missing[0]!r} required by {kind} {target.name!r} "
            f"(required: {', '.join(params.required)})"
        )
    if isinstance(target, ScheduleFunctionType):
        try:
            target.function(1, **sche_conf)
        except (ValueError, TypeError, ArithmeticError) as error:
            raise ConfigError(f"{where}: schedule {target.name!r}: {error}") from None
        check_schedule_values(schedules.bind(target.function, **sche_conf), where)


def _shell_lengths(target: ResolvedType) -> Mapping[str, str | None] | None:
    """The ``sche_conf`` keys of a shell class that are lengths (its ``sche_lengths``, e.g.
    ``NoamLr.sche_lengths == ("warmup_steps",)``), read on the entry's clock; ``None`` (the
    leaf's own lengths) for a schedule function."""
    if isinstance(target, ShellClassType):
        return dict.fromkeys(getattr(target.cls, "sche_lengths", ()))
    return None


def _require_schedule(expression: ScheduleExpression, where: str) -> ScheduleExpression:
    """``expression`` if it gives an lr per step, its values checked; else a ConfigError."""
    if expression.kind == "rule" or not callable(expression.schedule):
        raise ConfigError(f"{where}: {expression.name} is not a schedule (it gives no lr per step)")
    check_schedule_values(expression.schedule, where)
    return expression


def _schedule_expression(
    conf: Mapping[str, Any],
    target: ResolvedType | None,
    where: str,
    clock: str = "update",
    count_from: int = 1,
) -> ScheduleExpression | None:
    """The ``schedule:`` expression of an entry's conf, parsed and its values checked; it
    needs ``type: OptimScheduler`` (or a subclass that keeps ``update_lr``) or no type."""
    if "schedule" not in conf:
        return None
    from optimsche.optim_scheduler import OptimScheduler

    if isinstance(target, ScheduleFunctionType) or (
        isinstance(target, ShellClassType) and target.cls.update_lr is not OptimScheduler.update_lr
    ):
        assert target is not None
        raise ConfigError(
            f"{where}.schedule: type {target.name!r} computes the lr itself; give either a "
            f"schedule expression (with type: OptimScheduler, or no type) or type "
            f"{target.name!r} with its keys"
        )
    text = conf["schedule"]
    if not isinstance(text, str):
        raise ConfigError(
            f"{where}.schedule: must be a schedule expression such as "
            f"'cosine(peak=1e-3, steps=10000)', got {describe_value(text)}"
        )
    try:
        expression = parse_schedule_expression(text, clock, count_from)
    except ConfigError as error:
        raise ConfigError(f"{where}.{error}") from None
    return _require_schedule(expression, f"{where}.schedule")


def _called_type(
    resolved: ExpressionCallType,
    conf: Mapping[str, Any],
    where: str,
    clock: str,
    count_from: int,
) -> ScheduleExpression:
    """The schedule of a ``type:`` naming a call of the language (``eden``,
    ``transformers.cosine``): the call with the entry's scheduling keys as its arguments;
    without ``peak``, the optimizer's ``optim_conf.lr`` is its ``peak`` (transformers'
    schedulers and icefall's Eden scale the optimizer's lr)."""
    if "schedule" in conf:
        raise ConfigError(
            f"{where}.schedule: type {resolved.name!r} is a schedule itself; give either type "
            f"{resolved.name!r} with its keys or a schedule expression (with type: "
            f"OptimScheduler, or no type)"
        )
    arguments = {k: v for k, v in conf.items() if k not in GENERAL_KEYS}
    _refuse_run_level_keys(arguments, where)
    optim_lr = (conf.get("optim_conf") or {}).get("lr")
    takes_peak = "peak" in inspect.signature(resolved.function).parameters
    if takes_peak and "peak" not in arguments and optim_lr is not None:
        arguments["peak"] = optim_lr  # transformers' and icefall's schedulers scale it
    expression = parse_schedule_call(resolved.name, arguments, where, clock, count_from)
    return _require_schedule(expression, where)


def parse_entry(name: object, entry: object) -> OptimSchedulerSpec:
    """One ``name: {type, conf}`` entry of ``optim_sches`` as a validated record."""
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"optim_sches: an optimizer name must be a non-empty string, got {name!r}"
        )
    where = f"optim_sches.{name}"
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"{where}: must be a mapping with keys 'type' and 'conf', got {describe_value(entry)}"
        )
    require_float_range(where, entry)
    for key in entry:
        if key not in ENTRY_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}{did_you_mean(str(key), ENTRY_KEYS)} "
                "(an entry has exactly the keys 'type' and 'conf')"
            )
    if "conf" not in entry:
        raise ConfigError(f"{where}: missing key 'conf' (it holds optim_type, optim_conf, ...)")
    conf = entry["conf"]
    if not isinstance(conf, Mapping):
        raise ConfigError(f"{where}.conf: must be a mapping, got {describe_value(conf)}")
    if "type" not in entry and "schedule" not in conf:
        raise ConfigError(
            f"{where}: missing key 'type' (a class such as noam.NoamLr or a schedule name; or "
            f"give conf.schedule: an expression such as 'cosine(peak=1e-3, steps=10000)')"
        )
    resolved = resolve_type(entry.get("type", "OptimScheduler"), f"{where}.type")
    for key in conf:
        if not isinstance(key, str):
            raise ConfigError(f"{where}.conf: keys must be strings, got {key!r}")
    if "optim_type" not in conf:
        raise ConfigError(
            f"{where}.conf: missing key 'optim_type' (a torch.optim class, e.g. Adam)"
        )
    optim_cls = _optimizer_class(conf["optim_type"], f"{where}.conf.optim_type")
    optim_conf = conf.get("optim_conf") or {}
    _check_optim_conf(optim_conf, optim_cls, f"{where}.conf.optim_conf")
    if "optim_loss" in conf and "optim_losses" in conf:
        raise ConfigError(
            f"{where}.conf: give either 'optim_loss' or its alias 'optim_losses', not both"
        )
    loss_key = "optim_losses" if "optim_losses" in conf else "optim_loss"
    optim_loss = conf.get(loss_key)
    if optim_loss is not None and (not isinstance(optim_loss, str) or not optim_loss):
        raise ConfigError(
            f"{where}.conf.{loss_key}: must be the name of one loss (a string), "
            f"got {describe_value(optim_loss)}"
        )
    modules = _updated_modules(conf.get("updated_modules"), f"{where}.conf.updated_modules")
    step_per_update = config_require(
        require_count, f"{where}.conf.step_per_update", conf.get("step_per_update", 1)
    )
    clock = parse_clock(conf.get("clock", "update"), f"{where}.conf.clock")
    count_from = parse_count_from(conf.get("count_from", 1), f"{where}.conf.count_from")
    plateau = parse_plateau(conf.get("plateau"), f"{where}.conf.plateau")
    sche_conf: dict[str, Any] = {}
    if isinstance(resolved, ExpressionCallType):
        expression: ScheduleExpression | None = _called_type(
            resolved, conf, f"{where}.conf", clock, count_from
        )
        from optimsche.optim_scheduler import OptimScheduler

        target: ResolvedType = ShellClassType(name="OptimScheduler", cls=OptimScheduler)
    else:
        target = resolved
        expression = _schedule_expression(conf, target, f"{where}.conf", clock, count_from)
        sche_conf = {k: v for k, v in conf.items() if k not in GENERAL_KEYS and k != "schedule"}
        sche_conf = resolve_lengths(  # units
            target.name, sche_conf, clock, f"{where}.conf", _shell_lengths(target)
        )
        _check_sche_conf(target, sche_conf, f"{where}.conf")
    hyperparameters = parse_hyperparameters(
        conf.get(HYPERPARAMETERS_KEY),
        optim_cls,
        f"{where}.conf.{HYPERPARAMETERS_KEY}",
        clock=clock,
        count_from=count_from,
    )
    return OptimSchedulerSpec(
        name=name,
        target=target,
        optim_type=conf["optim_type"],
        optim_conf=dict(optim_conf),
        optim_loss=optim_loss,
        updated_modules=modules,
        step_per_update=step_per_update,
        sche_conf=sche_conf,
        schedule=expression,
        clock=clock,
        count_from=count_from,
        plateau=plateau,
        hyperparameters=hyperparameters,
    )


def parse_optim_sches(config: Mapping[str, Any]) -> OptimSchesConfig:
    """Validate an ``optim_sches`` mapping (or a document holding one) into records.

    Checks, each with a one-line :class:`ConfigError`: the entry keys, the ``type`` (close
    matches when unknown), ``optim_type`` and the keys of ``optim_conf`` against the torch
    optimizer's signature, ``optim_loss``/``optim_losses``, ``updated_modules``,
    ``step_per_update``, the scheduling keys against ``sche_init`` or the schedule function
    (unknown, missing, wrong type, bad value), ``hyperparameters`` (keys against the
    optimizer's arguments, each schedule parsed), and that the optimizers' modules are
    disjoint.
    """
    section = optim_sches_section(config)
    if not section:
        raise ConfigError("optim_sches: no optimizer is configured (the mapping is empty)")
    if set(section) <= set(ENTRY_KEYS) and isinstance(section.get("conf"), Mapping):
        entries: Mapping[str, Any] = {SINGLE_NAME: section}
    else:
        entries = section
    specs = tuple(parse_entry(name, entry) for name, entry in entries.items())
    return OptimSchesConfig(optimizers=specs)
