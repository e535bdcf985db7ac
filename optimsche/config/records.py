"""The validated form of an ``optim_sches`` configuration: small frozen attrs records.

Raw YAML data becomes these records in :mod:`optimsche.config.parsing`; only records are
built into OptimSchedulers. Each record checks its own fields, so a record made by hand is
as trustworthy as one parsed from YAML. Every failure is a
:class:`~optimsche.config.error.ConfigError` that names the place (``optim_sches.<name>
.conf.<key>``), the bad value and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from optimsche.config.error import ConfigError, config_require
from optimsche.config.hyperparameter_conf import ConfiguredHyperparameter
from optimsche.config.schedule_expression import ScheduleExpression
from optimsche.config.shell_options import parse_clock, parse_count_from, parse_plateau
from optimsche.config.type_resolution import ResolvedType, ScheduleFunctionType, ShellClassType
from optimsche.update.amp import resolve_amp_dtype
from schedules.validation import require_count, require_order, require_positive


@attrs.frozen
class ExperimentSettings:
    """The run-level settings SpeeChain takes from its experiment config, shared by every
    optimizer of a run: gradient accumulation, the fine-tuning factor, AMP, clipping, DDP."""

    accum_grad: int = 1
    ft_factor: float = 1.0
    use_amp: bool | str = False
    grad_clip: float | None = None
    grad_norm_type: float = 2.0
    distributed: bool | None = None

    def __attrs_post_init__(self) -> None:
        config_require(require_count, "accum_grad", self.accum_grad)
        config_require(require_positive, "ft_factor", self.ft_factor)
        try:
            resolve_amp_dtype(self.use_amp)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.grad_clip is not None:
            config_require(require_positive, "grad_clip", self.grad_clip)
        config_require(require_order, "grad_norm_type", self.grad_norm_type)
        if self.distributed is not None and not isinstance(self.distributed, bool):
            raise ConfigError(
                f"distributed: must be true, false or null (detect), got {self.distributed!r}"
            )


def _check_name(instance: OptimSchedulerSpec, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"optim_sches: an optimizer name must be a non-empty string, got {value!r}"
        )


@attrs.frozen
class OptimSchedulerSpec:
    """One entry of ``optim_sches``: what to build and with which settings.

    ``target`` is the resolved ``type``; ``sche_conf`` holds the scheduling keys (the class's
    ``sche_init`` arguments, or the schedule function's hyperparameters).
    ``updated_modules`` is ``None`` for the whole model. ``clock``, ``count_from`` (1: the
    k-th update evaluates the schedules at k; 0: at k - 1) and ``plateau`` (the arguments of
    :class:`schedules.reduce_on_plateau`, or ``None``) go to the constructor.
    ``schedule`` is the parsed ``schedule:`` expression of the conf, if it has one.
    ``hyperparameters`` are the param-group entries scheduled besides the lr
    (:mod:`optimsche.config.hyperparameter_conf`).
    """

    name: str = attrs.field(validator=_check_name)
    target: ResolvedType
    optim_type: str
    optim_conf: Mapping[str, Any] = attrs.field(factory=dict)
    optim_loss: str | None = None
    updated_modules: tuple[str, ...] | None = None
    step_per_update: int = 1
    sche_conf: Mapping[str, Any] = attrs.field(factory=dict)
    clock: str = "update"
    count_from: int = 1
    plateau: Mapping[str, Any] | None = None
    schedule: ScheduleExpression | None = None
    hyperparameters: tuple[ConfiguredHyperparameter, ...] = ()

    @property
    def where(self) -> str:
        """The place of this entry in the configuration, for messages."""
        return f"optim_sches.{self.name}"

    @property
    def type_name(self) -> str:
        """The ``type`` as the configuration wrote it (the expression, for ``schedule:``)."""
        if self.schedule is not None:
            return self.schedule.text or self.schedule.name
        return self.target.name

    def __attrs_post_init__(self) -> None:
        conf = f"{self.where}.conf"
        if not isinstance(self.target, ShellClassType | ScheduleFunctionType):
            raise ConfigError(f"{self.where}.type: not a resolved type: {self.target!r}")
        if not isinstance(self.optim_type, str) or not self.optim_type:
            raise ConfigError(
                f"{conf}.optim_type: must name a torch.optim optimizer class, got "
                f"{self.optim_type!r}"
            )
        if not isinstance(self.optim_conf, Mapping) or not all(
            isinstance(k, str) for k in self.optim_conf
        ):
            raise ConfigError(
                f"{conf}.optim_conf: must be a mapping of argument names to values, got "
                f"{self.optim_conf!r}"
            )
        if self.optim_loss is not None and (
            not isinstance(self.optim_loss, str) or not self.optim_loss
        ):
            raise ConfigError(
                f"{conf}.optim_loss: must be the name of one loss (a string), got "
                f"{self.optim_loss!r}"
            )
        modules = self.updated_modules
        if modules is not None:
            if (
                not isinstance(modules, tuple)
                or not modules
                or not all(isinstance(m, str) and m for m in modules)
            ):
                raise ConfigError(
                    f"{conf}.updated_modules: must be a module name or a non-empty list of "
                    f"module names, got {modules!r}"
                )
            repeated = sorted({m for m in modules if modules.count(m) > 1})
            if repeated:
                raise ConfigError(f"{conf}.updated_modules: {repeated[0]!r} is listed twice")
        config_require(require_count, f"{conf}.step_per_update", self.step_per_update)
        if self.schedule is not None and not isinstance(self.schedule, ScheduleExpression):
            raise ConfigError(f"{conf}.schedule: not a parsed expression: {self.schedule!r}")
        if not isinstance(self.sche_conf, Mapping):
            raise ConfigError(
                f"{conf}: scheduling keys must form a mapping, got {self.sche_conf!r}"
            )
        parse_clock(self.clock, f"{conf}.clock")
        parse_count_from(self.count_from, f"{conf}.count_from")
        parse_plateau(self.plateau, f"{conf}.plateau")
        if not isinstance(self.hyperparameters, tuple) or not all(
            isinstance(h, ConfiguredHyperparameter) for h in self.hyperparameters
        ):
            raise ConfigError(
                f"{conf}.hyperparameters: expected a tuple of ConfiguredHyperparameter, got "
                f"{self.hyperparameters!r}"
            )


def _check_optimizers(
    instance: OptimSchesConfig, attribute: attrs.Attribute[Any], value: Any
) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, OptimSchedulerSpec) for v in value):
        raise ConfigError(f"optim_sches: expected a tuple of OptimSchedulerSpec, got {value!r}")
    if not value:
        raise ConfigError("optim_sches: no optimizer is configured")
    names = [spec.name for spec in value]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"optim_sches: the optimizer name {name!r} is used twice")
    whole_model = [spec.name for spec in value if spec.updated_modules is None]
    if whole_model and len(value) > 1:
        other = next(spec.name for spec in value if spec.name != whole_model[0])
        raise ConfigError(
            f"optim_sches: optimizers {whole_model[0]!r} and {other!r} overlap: "
            f"{whole_model[0]!r} has no updated_modules, so it updates the whole model; give "
            "each optimizer of a group its own updated_modules"
        )
    seen: list[tuple[str, str]] = []
    for spec in value:
        for module in spec.updated_modules or ():
            for other_module, other_name in seen:
                if _nested(module, other_module):
                    both = (
                        f"module {module!r}"
                        if module == other_module
                        else f"modules {other_module!r} and {module!r}, one inside the other"
                    )
                    raise ConfigError(
                        f"optim_sches: optimizers {other_name!r} and {spec.name!r} overlap: they "
                        f"update {both}; updated_modules must be disjoint"
                    )
            seen.append((module, spec.name))


def _nested(a: str, b: str) -> bool:
    """Whether module paths ``a`` and ``b`` are the same module or one holds the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


@attrs.frozen
class OptimSchesConfig:
    """A whole ``optim_sches`` configuration: one or more optimizers on disjoint modules."""

    optimizers: tuple[OptimSchedulerSpec, ...] = attrs.field(validator=_check_optimizers)

    @property
    def names(self) -> tuple[str, ...]:
        """The optimizer names, in configuration order."""
        return tuple(spec.name for spec in self.optimizers)
