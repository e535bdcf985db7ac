"""Lengths with units in configs and schedule expressions (MosaicML Composer's time strings).

A length hyperparameter (a leaf's :attr:`~schedules.Family.lengths`: ``steps``, ``warmup``,
``milestones``, the steps of ``points``, ...; a combinator's, :data:`COMBINATOR_LENGTHS`,
transformers' names' ``num_warmup_steps``, ...; a shell class's ``sche_lengths`` such as
``NoamLr``'s ``warmup_steps``) may be written as a string with a unit, resolved once, when
the config or expression is parsed, against what is known of the run (:class:`RunLengths`):

=========  =================================  ===========  ===================  ===========
unit       means                              update clock epoch clock          items clock
=========  =================================  ===========  ===================  ===========
``ba``     updates (Composer's batches)       ``n``        ``n / upe``          refused
``ep``     epochs                             ``n · upe``  ``n``                refused
``tok``    items (tokens) seen                refused      refused              ``n``
``%``      percent of the run's horizon       ``n/100·H``  ``n/100·H / upe``    refused
``dur``    fraction of the run's horizon      ``n·H``      ``n·H / upe``        refused
=========  =================================  ===========  ===================  ===========

``upe`` is the run's updates per epoch and ``H`` its horizon in updates
(``build_optim_sches(..., horizon=H, updates_per_epoch=upe)``; ``optimsche show/plot
--horizon H --updates-per-epoch upe``). The clock is the one the length is read on: the
entry's ``clock:`` (``update`` by default), or the clock of the enclosing ``on(clock, ...)``
in an expression; a combinator's length of a fixed clock (``eden``'s ``lr_epochs``) is read on
that clock. A unit that needs what is not known (``3ep`` without updates per epoch), a unit
that does not convert to the clock (``1e9tok`` on the update clock: that needs the items per
update, which vary), an unknown unit, and a unit on something that is not a length are each a
one-line :class:`ConfigError` naming the key, the text and what is missing.

Plain numbers are left alone, so configs without units do not change.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from optimsche.config.error import ConfigError
from optimsche.config.language_names import transformers_names
from schedules import FAMILIES
from schedules.close_matches import did_you_mean
from schedules.validation import require_positive

UNITS = ("ba", "ep", "tok", "%", "dur")
"""The units a length may carry (module doc)."""

_DURATION = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z%]+)\s*$")

COMBINATOR_LENGTHS: Mapping[str, Mapping[str, str | None]] = {
    "warmup": {"steps": None},
    "shift": {"steps": None},
    "join": {"boundaries": None},
    "eden": {"lr_batches": "update", "warmup_batches": "update", "lr_epochs": "epoch"},
    "eden2": {"lr_batches": "update", "warmup_batches": "update"},
    "transformers_schedule": dict.fromkeys(
        ("num_warmup_steps", "num_training_steps", "num_decay_steps", "num_stable_steps")
    ),
}
"""The length arguments of the combinators of the expression language, each read on the
clock named (``None``: the clock in force where the combinator stands); transformers' names
(``transformers.cosine``) have those of ``transformers_schedule``."""


def lengths_of(name: str) -> Mapping[str, str | None]:
    """The length arguments of the leaf or combinator ``name`` -> the clock each is read on
    (``None``: the clock in force): a leaf's :attr:`~schedules.Family.lengths`, a
    combinator's :data:`COMBINATOR_LENGTHS`, a transformers name's those of
    ``transformers_schedule``; none for any other name."""
    family = FAMILIES.get(name)
    if family is not None:
        return dict.fromkeys(family.lengths)
    if name in transformers_names():
        return COMBINATOR_LENGTHS["transformers_schedule"]
    return COMBINATOR_LENGTHS.get(name, {})


@attrs.frozen
class RunLengths:
    """What is known of the run to resolve units: its ``horizon`` (its length in updates,
    for ``%`` and ``dur``) and its ``updates_per_epoch`` (for ``ep`` on the update clock and
    ``ba`` on the epoch clock); ``None`` when not known. Both > 0 when given."""

    horizon: float | None = attrs.field(default=None)
    updates_per_epoch: float | None = attrs.field(default=None)

    @horizon.validator
    def _check_horizon(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            _config_positive("horizon", value)

    @updates_per_epoch.validator
    def _check_updates_per_epoch(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            _config_positive("updates_per_epoch", value)


def _config_positive(name: str, value: object) -> None:
    try:
        require_positive(name, value)
    except ValueError as error:
        raise ConfigError(str(error)) from None


_CURRENT: contextvars.ContextVar[RunLengths | None] = contextvars.ContextVar(
    "optimsche_run_lengths", default=None
)
_NOTHING_KNOWN = RunLengths()


@contextlib.contextmanager
def run_lengths(lengths: RunLengths) -> Iterator[None]:
    """Resolve units against ``lengths`` while parsing within this block (the config
    builder and ``optimsche show/plot`` set it; it is unset, nothing known, elsewhere)."""
    token = _CURRENT.set(lengths)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_lengths() -> RunLengths:
    """The :class:`RunLengths` units are resolved against here (module doc)."""
    return _CURRENT.get() or _NOTHING_KNOWN


def is_duration(value: object) -> bool:
    """Whether ``value`` is a string of a number and letters or ``%`` (a length with a unit,
    valid or not: an unknown unit is refused by :func:`resolve_duration`)."""
    return isinstance(value, str) and _DURATION.match(value) is not None


def resolve_duration(
    text: str, clock: str, where: str, lengths: RunLengths | None = None
) -> int | float:
    """The length ``text`` (``"5%"``, ``"3ep"``, ``"2000ba"``, ``"1e9tok"``, ``"0.1dur"``) in
    steps of ``clock``, against ``lengths`` (default: :func:`current_lengths`): an ``int``
    when it is a whole number of steps, else a ``float``; a :class:`ConfigError` naming
    ``where`` when it cannot be resolved (module doc)."""
    steps = _steps(text, clock, where, current_lengths() if lengths is None else lengths)
    if not math.isfinite(steps):
        raise ConfigError(f"{where}: {text!r} is {steps!r} steps")
    return int(steps) if steps.is_integer() else steps


def _steps(text: str, clock: str, where: str, known: RunLengths) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not a length such as '2000ba', '3ep' or '5%'")
    amount, unit = float(match.group(1)), match.group(2)
    if unit not in UNITS:
        raise ConfigError(
            f"{where}: unknown unit {unit!r} in {text!r}{did_you_mean(unit, UNITS)} "
            f"(valid: {', '.join(UNITS)})"
        )
    if not math.isfinite(amount) or amount < 0:
        raise ConfigError(f"{where}: {text!r} must be a finite length >= 0")
    missing = f"{where}: {text!r} on the {clock!r} clock"
    if clock == "items" and unit != "tok":
        raise ConfigError(
            f"{missing}: the items clock counts items (tokens), and {unit!r} does not convert "
            f"to items (the items per update vary): write the length in 'tok'"
        )
    if unit == "tok":
        if clock != "items":
            raise ConfigError(
                f"{missing}: 'tok' counts items (tokens), which do not convert to "
                f"{clock}s (the items per update vary): use 'ba' or 'ep', or read this "
                f"schedule on the items clock (clock: items, or on('items', ...))"
            )
        return amount
    if unit in ("%", "dur"):
        if known.horizon is None:
            raise ConfigError(
                f"{missing} is a fraction of the run's horizon, which is not known here: "
                f"pass build_optim_sches(..., horizon=N) (optimsche show/plot: --horizon N)"
            )
        updates = amount * known.horizon * (0.01 if unit == "%" else 1.0)
        return updates if clock == "update" else updates / _updates_per_epoch(known, missing)
    if unit == "ep":
        return amount if clock == "epoch" else amount * _updates_per_epoch(known, missing)
    return amount if clock == "update" else amount / _updates_per_epoch(known, missing)  # ba


def _updates_per_epoch(known: RunLengths, missing: str) -> float:
    if known.updates_per_epoch is None:
        raise ConfigError(
            f"{missing} needs the updates per epoch, which are not known here: pass "
            f"build_optim_sches(..., updates_per_epoch=N) (optimsche show/plot: "
            f"--updates-per-epoch N)"
        )
    return known.updates_per_epoch


def resolve_lengths(
    name: str,
    arguments: Mapping[str, Any],
    clock: str,
    where: str,
    lengths: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """``arguments`` of the leaf or combinator ``name`` with every length given with a unit
    resolved on ``clock`` (its ``lengths``, default :func:`lengths_of`; in a list, each
    element; in ``points``, each pair's step). A unit on any other argument is a
    :class:`ConfigError` naming it."""
    if lengths is None:
        lengths = lengths_of(name)
    resolved = dict(arguments)
    for key, value in arguments.items():
        if key in lengths:
            key_clock = lengths[key] or clock
            resolved[key] = _resolve_value(value, key == "points", key_clock, f"{where}.{key}")
        elif _holds_duration(value):
            valid = ", ".join(lengths) or "none"
            raise ConfigError(
                f"{where}.{key}: {_first_duration(value)!r} has a unit, but {key} is not a "
                f"length of {name} (its lengths: {valid})"
            )
    return resolved


def _resolve_value(value: Any, pairs: bool, clock: str, where: str) -> Any:
    if is_duration(value):
        return resolve_duration(value, clock, where)
    if isinstance(value, list | tuple) and not isinstance(value, str):
        items: list[Any] = []
        for i, item in enumerate(value):
            if pairs and isinstance(item, list | tuple) and item:
                step = _resolve_value(item[0], False, clock, f"{where}[{i}][0]")
                items.append(type(item)((step, *item[1:])))
            else:
                items.append(_resolve_value(item, False, clock, f"{where}[{i}]"))
        return type(value)(items)
    return value


def _holds_duration(value: object) -> bool:
    if is_duration(value):
        return True
    if isinstance(value, Sequence) and not isinstance(value, str):
        return any(_holds_duration(v) for v in value)
    return False


def _first_duration(value: object) -> object:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return next(_first_duration(v) for v in value if _holds_duration(v))
    return value
