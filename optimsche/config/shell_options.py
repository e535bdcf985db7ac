"""The conf keys ``clock:``, ``count_from:`` and ``plateau:`` of an ``optim_sches`` entry.

``count_from: 0`` makes the k-th update evaluate its schedules at k - 1 (torch, transformers,
timm and optax formulas port as written; :mod:`optimsche.update.clock`).

``clock: update | epoch | items`` chooses what the schedule sees (:mod:`optimsche.update.clock`);
``plateau: {factor: 0.5, patience: 2, ...}`` (the arguments of
:class:`schedules.reduce_on_plateau`; ``plateau: {}`` for its defaults) multiplies the lr by
the scale that ``observe(metric)`` updates. Both are checked here, with a :class:`ConfigError`
naming the key, and passed to the OptimScheduler's constructor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optimsche.config.error import ConfigError
from optimsche.config.value_types import describe_value
from optimsche.update.clock import resolve_clock, resolve_count_from
from optimsche.update.plateau import resolve_plateau


def parse_clock(value: object, where: str) -> str:
    """The ``clock`` of an entry (``"update"`` when absent)."""
    try:
        return resolve_clock(value)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


def parse_count_from(value: object, where: str) -> int:
    """The ``count_from`` of an entry (1 when absent; 0 for 0-based ports)."""
    try:
        return resolve_count_from(value)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


def parse_plateau(value: object, where: str) -> Mapping[str, Any] | None:
    """The ``plateau`` arguments of an entry, checked by building the rule once."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: must be a mapping of reduce_on_plateau arguments (factor, patience, ...), "
            f"got {describe_value(value)}"
        )
    try:
        resolve_plateau(value)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    return dict(value)
