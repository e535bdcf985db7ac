"""Where the ``optim_sches`` of a configuration are, and the run settings that come with them.

Three shapes are accepted (:func:`find_optim_sches`):

* the ``optim_sches`` mapping itself (name -> ``{type, conf}``, or one ``{type, conf}``);
* a document holding it under a top-level ``optim_sches`` key (optimsche's examples);
* a whole SpeeChain experiment configuration (``exp_cfg``), holding it under
  ``train_cfg.optim_sches``, with the run settings SpeeChain's runner passes to every
  OptimScheduler at the top level: ``accum_grad``, ``ft_factor``, ``grad_clip``,
  ``grad_norm_type``, ``use_amp`` (:data:`RUN_SETTINGS`). ``build_optim_sches`` uses those
  unless given as keywords.

A document that has neither ``optim_sches`` nor ``train_cfg.optim_sches`` but looks like an
experiment configuration (it has a ``train_cfg``, ``data_cfg`` or ``infer_cfg`` section, or a
top-level run setting) is a :class:`ConfigError` that says where it looked. So is a document
with a key one edit away from ``optim_sches`` (``optim_sche:``) at the top or in
``train_cfg``: a typo, with the suggestion, not an optimizer of that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from optimsche.config.error import ConfigError
from optimsche.config.value_types import describe_value
from schedules.close_matches import within_one_edit

RUN_SETTINGS = ("accum_grad", "ft_factor", "grad_clip", "grad_norm_type", "use_amp")
"""The top-level keys of a SpeeChain experiment configuration that every OptimScheduler of the
run takes (SpeeChain's runner reads them from its arguments)."""

EXPERIMENT_SECTIONS = ("train_cfg", "data_cfg", "infer_cfg")
"""The sections of a SpeeChain experiment configuration."""


@attrs.frozen
class OptimSchesSection:
    """The ``optim_sches`` mapping of a configuration, where it was found (``"optim_sches"``,
    ``"train_cfg.optim_sches"``, or ``""`` for the mapping itself), and the top-level run
    settings of a whole experiment configuration (empty otherwise)."""

    entries: Mapping[str, Any]
    where: str
    run_settings: Mapping[str, Any] = attrs.field(factory=dict)


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: must be a mapping of optimizer names to {{type, conf}} entries, "
            f"got {describe_value(value)}"
        )
    return value


def _looks_like_experiment(config: Mapping[str, Any]) -> bool:
    return any(key in config for key in (*EXPERIMENT_SECTIONS, *RUN_SETTINGS))


def _refuse_misspelled(section: Mapping[str, Any], where: str) -> None:
    """A key one edit away from ``optim_sches`` (``optim_sche``, ``optimsches``) is a typo,
    not an optimizer of that name: a :class:`ConfigError` with the suggestion."""
    for key in section:
        if isinstance(key, str) and key != "optim_sches" and within_one_edit(key, "optim_sches"):
            raise ConfigError(
                f"{where}{key}: unknown key; did you mean 'optim_sches'? (the optimizers of a "
                f"document go under {where}optim_sches:)"
            )


def find_optim_sches(config: object) -> OptimSchesSection:
    """The ``optim_sches`` of ``config`` in one of the three shapes of the module doc."""
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"optim_sches: must be a mapping of optimizer names to entries, got {config!r}"
        )
    train = config.get("train_cfg")
    nested = isinstance(train, Mapping) and "optim_sches" in train
    if "optim_sches" in config:
        if nested:
            raise ConfigError(
                "optim_sches: given twice, at the top level and under train_cfg; keep one"
            )
        return OptimSchesSection(_mapping(config["optim_sches"], "optim_sches"), "optim_sches")
    if nested:
        assert isinstance(train, Mapping)
        settings = {key: config[key] for key in RUN_SETTINGS if key in config}
        where = "train_cfg.optim_sches"
        return OptimSchesSection(_mapping(train["optim_sches"], where), where, settings)
    if "train_cfg" in config and not isinstance(train, Mapping):
        raise ConfigError(f"train_cfg: must be a mapping, got {describe_value(train)}")
    _refuse_misspelled(config, "")
    if isinstance(train, Mapping):
        _refuse_misspelled(train, "train_cfg.")
    if _looks_like_experiment(config):
        found = ", ".join(repr(str(key)) for key in config)
        inside = (
            f"; train_cfg has {', '.join(repr(str(k)) for k in train) or 'no keys'}"
            if isinstance(train, Mapping)
            else ""
        )
        raise ConfigError(
            f"no optimizer configuration found: looked for a top-level 'optim_sches' and for "
            f"'train_cfg.optim_sches' (SpeeChain's experiment configuration); the document has "
            f"top-level keys {found}{inside}"
        )
    return OptimSchesSection(config, "")
