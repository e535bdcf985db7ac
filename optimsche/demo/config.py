"""The demo's configuration: the embedded default, or a user's ``optim_sches`` on the demo model.

A configuration document has an ``optim_sches`` section (SpeeChain's format, see
:mod:`optimsche.config.parsing`) and an optional ``experiment`` section with the run-level
settings every optimizer shares (``accum_grad``, ``ft_factor``, ``use_amp``, ``grad_clip``,
``grad_norm_type``). A user's file may also be a bare ``optim_sches`` mapping. Experiment keys
the user's file does not set keep the embedded default's values (``default_config.yaml``).

Before anything is built, :func:`check_fits_model` checks that every optimizer's
``updated_modules`` are modules of the demo model and its loss is one the model returns, so a
config written for another model fails with one message listing what the demo model has.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from torch import nn

from optimsche.config.error import ConfigError
from optimsche.config.loading import load_config
from optimsche.config.parsing import optim_sches_section, parse_optim_sches
from optimsche.config.records import ExperimentSettings, OptimSchesConfig

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DemoConfig",
    "check_fits_model",
    "default_config_text",
    "load_demo_config",
]

DEFAULT_CONFIG_NAME = "default_config.yaml"
"""The embedded default configuration, shipped as package data of ``optimsche.demo``."""

_EXPERIMENT_KEYS = tuple(field.name for field in attrs.fields(ExperimentSettings))


@attrs.frozen
class DemoConfig:
    """A validated demo configuration: the optimizers, the run-level settings, the source."""

    optim_sches: OptimSchesConfig
    experiment: ExperimentSettings
    source: str

    def experiment_kwargs(self) -> dict[str, Any]:
        """The run-level settings as keyword arguments of ``build_optim_sches``."""
        return attrs.asdict(self.experiment)


def default_config_text() -> str:
    """The YAML text of the embedded default configuration."""
    return resources.files("optimsche.demo").joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")


def _experiment_section(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The ``experiment`` mapping of a document (empty when absent), with its keys checked."""
    section = document.get("experiment", {}) if "optim_sches" in document else {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{source}: experiment: must be a mapping, got {section!r}")
    for key in section:
        if key not in _EXPERIMENT_KEYS:
            raise ConfigError(
                f"{source}: experiment: unknown key {key!r}; valid keys: "
                f"{', '.join(_EXPERIMENT_KEYS)}"
            )
    return dict(section)


def _top_level_keys(document: Mapping[str, Any], source: str) -> None:
    """A document with an ``optim_sches`` section may hold only it and ``experiment``."""
    if "optim_sches" not in document:
        return
    for key in document:
        if key not in ("optim_sches", "experiment"):
            raise ConfigError(
                f"{source}: unknown top-level key {key!r}; a demo configuration holds "
                "'optim_sches' and optionally 'experiment'"
            )


def load_demo_config(path: Path | None = None) -> DemoConfig:
    """The default configuration (``path=None``) or the user's file ``path``, validated.

    Raises :class:`ConfigError` for unreadable files, bad YAML, unknown keys and any mistake
    in ``optim_sches`` (as :func:`optimsche.build_optim_sches` would, before building).
    """
    default = load_config(default_config_text())
    experiment = _experiment_section(default, "<default config>")
    if path is None:
        document, source = default, "the embedded default config"
    else:
        document, source = load_config(Path(path)), str(path)
        experiment.update(_experiment_section(document, source))
    _top_level_keys(document, source)
    try:
        records = parse_optim_sches(optim_sches_section(document))
        settings = ExperimentSettings(**experiment)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    return DemoConfig(optim_sches=records, experiment=settings, source=source)


def _describe_model(model: nn.Module, loss_names: tuple[str, ...]) -> str:
    """'the demo model has first-level modules ... and losses ...' for error messages."""
    modules = ", ".join(repr(name) for name, _ in model.named_children())
    losses = ", ".join(repr(name) for name in loss_names)
    return f"the demo model has first-level modules {modules} and losses {losses}"


def check_fits_model(config: DemoConfig, model: nn.Module, loss_names: tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` unless every optimizer of ``config`` fits ``model``.

    Fits: each name in ``updated_modules`` is a submodule path of ``model`` (its first part a
    first-level module), and ``optim_loss`` (default ``"loss"``) is in ``loss_names``.
    """
    for spec in config.optim_sches.optimizers:
        for module in spec.updated_modules or ():
            try:
                model.get_submodule(module)
            except AttributeError:
                raise ConfigError(
                    f"{config.source}: {spec.where}.conf.updated_modules: {module!r} is not a "
                    f"module of the demo model; {_describe_model(model, loss_names)}"
                ) from None
        loss = spec.optim_loss or "loss"
        if loss not in loss_names:
            raise ConfigError(
                f"{config.source}: {spec.where}.conf.optim_loss: the demo model has no loss "
                f"{loss!r}; {_describe_model(model, loss_names)}"
            )
