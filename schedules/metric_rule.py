"""What every metric rule is: the protocol the shell, ``get_scheduler`` and the config use.

A metric rule is a frozen, picklable record with two pure methods: ``init()`` gives the first
state and ``update(state, metric)`` the state after one more metric; ``state.scale`` is the
multiplier of the lr, and ``state.as_dict()`` / ``RuleState.from_dict`` carry the state through
a ``weights_only`` checkpoint (:mod:`schedules.rule_state`). The rules:
:class:`~schedules.reduce_on_plateau.reduce_on_plateau` (torch; ``strict=False``: SpeechBrain),
:class:`~schedules.newbob.newbob` (SpeechBrain), :class:`~schedules.greedy.greedy`
(transformers) and the wrapper :class:`~schedules.plateau_warmup.plateau_warmup` (ESPnet,
SpeechBrain's ``dont_halve_until_epoch``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from schedules.rule_state import RuleState

__all__ = ["MetricRule"]


@runtime_checkable
class MetricRule(Protocol):
    """``init() -> RuleState``; ``update(state, metric) -> RuleState``, both pure."""

    def init(self) -> RuleState: ...

    def update(self, state: Any, metric: object) -> RuleState: ...
