"""A metric rule that holds its scale during a warmup: ESPnet's and SpeechBrain's two ways.

``plateau_warmup(rule, warmup, ignore="changes")`` wraps any metric rule (its state must have
``scale`` and ``last_epoch``, as every rule of :mod:`schedules` has); its states are the
wrapped rule's. For the first ``warmup`` metrics (``state.last_epoch < warmup`` before the
update) it keeps the scale where it was:

* ``ignore="changes"`` (ESPnet): the rule sees the metric and counts it as usual (its best,
  bad-update and cooldown counters move), only a change of the scale is dropped::

      new = rule.update(state, m); new.scale = state.scale

* ``ignore="metrics"`` (SpeechBrain's ``dont_halve_until_epoch``): the metric only becomes the
  rule's reference: the rule starts afresh from it, nothing counted::

      new = rule.update(rule.init() with state's scale and last_epoch, m)

After the warmup it is the wrapped rule.

References:

* ESPnet ``espnet2.schedulers.warmup_reducelronplateau.WarmupReduceLROnPlateau(optimizer,
  warmup_steps, mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps)``: its
  plateau part runs on every metric, but while its batch count is below ``warmup_steps`` the
  next batch step overwrites the lr with the warmup's ``base_lr · step / warmup_steps``, so a
  reduction then is lost. With ``E`` batches per epoch and a metric per epoch its lr is
  ``base_lr · min(s / warmup_steps, 1) · state.scale`` for ``plateau_warmup(reduce_on_plateau(
  mode, factor, patience, threshold, threshold_mode, cooldown, min_scale=min_lr / base_lr),
  warmup=ceil(warmup_steps / E) - 1)`` (the metrics that come after fewer than
  ``warmup_steps`` batches; the tests replay vectors of a reimplementation of ESPnet's class
  written from its source, as ESPnet is not installable here; its ``eps`` as in
  :mod:`schedules.reduce_on_plateau`). One difference: ESPnet's lost reduction still reaches
  the one update between the metric and the next batch step (the first update of the next
  epoch runs at ``factor`` times the warmup lr); here that update runs at the warmup lr.
* SpeechBrain ``speechbrain.nnet.schedulers.ReduceLROnPlateau(lr_min, factor, patience,
  dont_halve_until_epoch)``, called with epochs 1, 2, ...: its lr is ``lr · state.scale`` for
  ``plateau_warmup(reduce_on_plateau(factor, patience, threshold=0.0, strict=False,
  min_scale=lr_min / lr), warmup=dont_halve_until_epoch, ignore="metrics")`` (the tests
  replay vectors of SpeechBrain 1.1.2's class).

Bad arguments are a ``ValueError`` naming them: a ``rule`` without ``init``/``update``, a
negative or non-integer ``warmup``, an unknown ``ignore``.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from schedules.combinator_fields import using
from schedules.metric_rule import MetricRule
from schedules.rule_state import RuleState
from schedules.validation import require_choice, require_int

__all__ = ["IGNORE", "plateau_warmup"]

IGNORE = ("changes", "metrics")
"""``"changes"``: the rule counts the metric, its scale change is dropped (ESPnet);
``"metrics"``: the metric restarts the rule, nothing counted (SpeechBrain)."""


def _check_rule(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, MetricRule):
        raise ValueError(
            f"rule must be a metric rule (with init() and update(state, metric)), got "
            f"{type(value).__name__}: {value!r}"
        )


def _check_ignore(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    require_choice(attribute.name, value, IGNORE)


@attrs.frozen
class plateau_warmup:
    """``rule`` with its scale held during the first ``warmup`` metrics (module doc).
    ``init()`` and ``update(state, metric)`` are pure."""

    rule: MetricRule = attrs.field(validator=_check_rule)
    warmup: int = attrs.field(validator=using(functools.partial(require_int, minimum=0)))
    ignore: str = attrs.field(default="changes", validator=_check_ignore)

    def init(self) -> RuleState:
        """The wrapped rule's first state."""
        return self.rule.init()

    def update(self, state: Any, metric: object) -> RuleState:
        """The state after ``metric`` (module doc)."""
        last_epoch = getattr(state, "last_epoch", None)
        if not isinstance(state, RuleState) or not isinstance(last_epoch, int):
            raise ValueError(
                f"state must be a state of {self.rule!r} (from init() or update()), got "
                f"{type(state).__name__}: {state!r}"
            )
        if last_epoch >= self.warmup:
            return self.rule.update(state, metric)
        if self.ignore == "changes":
            return attrs.evolve(self.rule.update(state, metric), scale=state.scale)  # type: ignore[misc]
        fresh = attrs.evolve(self.rule.init(), scale=state.scale, last_epoch=last_epoch)  # type: ignore[misc]
        return self.rule.update(fresh, metric)
