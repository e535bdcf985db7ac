"""Reduce on plateau: a metric-driven multiplier of any schedule, as a pure rule.

``rule = reduce_on_plateau(factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
mode="min", cooldown=0, min_scale=0.0, strict=True)`` is a frozen record of its arguments
with two pure methods: ``rule.init()`` gives the first
:class:`~schedules.plateau_state.PlateauState` (``scale == 1.0``) and ``rule.update(state,
metric)`` the next one; neither changes anything. The learning rate is ``schedule(step) ·
state.scale``: any schedule times the scale is "warmup, then plateau".

One update, with ``m`` the metric (``last_epoch``, ``best``, ``num_bad_epochs`` and
``cooldown_counter`` read from ``state``, written into the new state)::

    last_epoch += 1
    if improves(m, best): best = m; num_bad_epochs = 0
    else:                 num_bad_epochs += 1
    if cooldown_counter > 0: cooldown_counter -= 1; num_bad_epochs = 0
    if num_bad_epochs > patience:
        scale = max(scale · factor, min_scale), kept only if it is lower than scale
        cooldown_counter = cooldown; num_bad_epochs = 0

    improves(m, best) =  m < best · (1 - threshold)   mode "min", threshold_mode "rel"
                         m < best - threshold         mode "min", threshold_mode "abs"
                         m > best · (1 + threshold)   mode "max", threshold_mode "rel"
                         m > best + threshold         mode "max", threshold_mode "abs"

with ``best = inf`` (``"min"``) or ``-inf`` (``"max"``) at first, so the first metric always
improves. ``strict=False`` compares non-strictly (``<=`` and ``>=``): a metric equal to the bar
counts as an improvement, as SpeechBrain's ``ReduceLROnPlateau`` does (``current_loss <=
anchor``; see :mod:`schedules.plateau_warmup` for its ``dont_halve_until_epoch``). So the
scale drops after ``patience + 1`` updates in a row without an improvement, then at most
once every ``cooldown + patience + 1`` updates; it never rises and never goes below
``min_scale``. As in torch, ``"rel"`` compares against ``best · (1 ∓ threshold)``, which
for a negative ``best`` moves the bar the other way (a metric slightly worse than a negative
best still counts as an improvement in mode ``"min"``).

Reference: torch ``ReduceLROnPlateau(optimizer, mode, factor, patience, threshold,
threshold_mode, cooldown, min_lr, eps)``, stepped with the same metrics: when the base
schedule is a constant ``base_lr``, torch's lr after every step is ``state.scale · base_lr``
(number for number; the tests replay vectors generated from torch), with these differences:

* torch's absolute ``min_lr`` is ``min_scale · base_lr`` here (a scale, since the base
  schedule may change);
* torch's ``eps`` (a reduction that would change the lr by ``eps = 1e-8`` or less is skipped)
  has no counterpart: here every reduction is applied. They differ only once torch's lr gets
  within ``1e-8 / (1 - factor)`` of 0 (or a reduction would move it less than ``1e-8`` above
  ``min_lr``), where torch stops reducing; the vectors are generated with ``eps=0`` and, for
  runs that stay far above that, with torch's default;
* torch's deprecated ``step(metric, epoch)`` has none either: ``last_epoch`` counts updates.

Bad arguments are a ``ValueError`` naming them: ``factor`` outside (0, 1), a negative or
non-integer ``patience`` or ``cooldown``, a negative ``threshold``, ``min_scale`` outside
[0, 1], an unknown ``mode`` or ``threshold_mode`` (the valid choices listed). In ``update``, a
metric that is not a finite real number (a NaN or infinite loss, a Tensor of more than one
element) is a ``ValueError`` naming ``metric``. A Tensor metric is read with ``float(metric)``:
one host-device sync per update, as in torch.
"""

from __future__ import annotations

import functools
import math
import numbers

import attrs
from torch import Tensor

from schedules.combinator_fields import using
from schedules.plateau_state import PlateauState
from schedules.validation import (
    require_bool,
    require_choice,
    require_int,
    require_non_negative,
    require_number,
    require_open_unit,
    require_unit_interval,
)

_COUNT = functools.partial(require_int, minimum=0)
"""A count: an int >= 0 (bools refused)."""

__all__ = ["MODES", "THRESHOLD_MODES", "PlateauState", "reduce_on_plateau"]

MODES = ("min", "max")
"""``"min"``: a lower metric is better (a loss); ``"max"``: a higher one (an accuracy)."""

THRESHOLD_MODES = ("rel", "abs")
"""``"rel"``: an improvement beats ``best`` by a fraction ``threshold`` of it; ``"abs"``: by
``threshold`` itself."""


def _check_mode(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    require_choice(attribute.name, value, MODES)


def _check_threshold_mode(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    require_choice(attribute.name, value, THRESHOLD_MODES)


def read_metric(metric: object) -> float:
    """``metric`` as a finite Python float: a real number (numpy scalars included, bools
    refused) or a one-element Tensor (read with ``float``); a ``ValueError`` naming ``metric``
    otherwise."""
    if isinstance(metric, Tensor):
        if metric.numel() != 1:
            raise ValueError(
                f"metric must be a number or a one-element Tensor, got a Tensor of shape "
                f"{tuple(metric.shape)}"
            )
        value: object = float(metric)
    elif isinstance(metric, numbers.Real) and not isinstance(metric, bool):
        value = float(metric)
    else:
        value = metric  # refused below, with its type
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"metric must be finite, got {value!r}")
    return require_number("metric", value)


@attrs.frozen
class reduce_on_plateau:
    """Scale the lr by ``factor`` once the metric has not improved for more than ``patience``
    updates (torch ``ReduceLROnPlateau``; the formula and the differences are in the module
    doc). ``init()`` and ``update(state, metric)`` are pure."""

    factor: float = attrs.field(default=0.1, validator=using(require_open_unit))
    patience: int = attrs.field(default=10, validator=using(_COUNT))
    threshold: float = attrs.field(default=1e-4, validator=using(require_non_negative))
    threshold_mode: str = attrs.field(default="rel", validator=_check_threshold_mode)
    mode: str = attrs.field(default="min", validator=_check_mode)
    cooldown: int = attrs.field(default=0, validator=using(_COUNT))
    min_scale: float = attrs.field(default=0.0, validator=using(require_unit_interval))
    strict: bool = attrs.field(default=True, validator=using(require_bool))

    def init(self) -> PlateauState:
        """The state before any metric: scale 1.0, the worst possible ``best``, no counts."""
        return PlateauState(
            scale=1.0,
            best=math.inf if self.mode == "min" else -math.inf,
            num_bad_epochs=0,
            cooldown_counter=0,
            last_epoch=0,
        )

    def improves(self, metric: float, best: float) -> bool:
        """Whether ``metric`` is an improvement on ``best`` (the four cases of the module
        doc, each written as torch writes it, so the comparison rounds alike; ``<=``/``>=``
        when ``strict`` is false)."""
        if self.mode == "min":
            bar = (
                best * (1.0 - self.threshold)
                if self.threshold_mode == "rel"
                else best - self.threshold
            )
            return metric < bar if self.strict else metric <= bar
        bar = (
            best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold
        )
        return metric > bar if self.strict else metric >= bar

    def update(self, state: PlateauState, metric: object) -> PlateauState:
        """The state after ``metric``, the result of one more evaluation (module doc)."""
        if not isinstance(state, PlateauState):
            raise ValueError(
                f"state must be a PlateauState (from init() or update()), got "
                f"{type(state).__name__}: {state!r}"
            )
        value = read_metric(metric)
        best, bad = state.best, state.num_bad_epochs + 1
        if self.improves(value, state.best):
            best, bad = value, 0
        cooldown_counter = state.cooldown_counter
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad = 0
        scale = state.scale
        if bad > self.patience:
            reduced = max(scale * self.factor, self.min_scale)
            if reduced < scale:
                scale = reduced
            cooldown_counter = self.cooldown
            bad = 0
        return PlateauState(
            scale=scale,
            best=best,
            num_bad_epochs=bad,
            cooldown_counter=cooldown_counter,
            last_epoch=state.last_epoch + 1,
        )
