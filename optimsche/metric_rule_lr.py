"""Metric rules as a torch scheduler stepped with a metric: ``MetricRuleLR``.

``MetricRuleLR(optimizer, rules)`` holds one pure metric rule per param group
(:class:`~schedules.metric_rule.MetricRule`; one rule for all groups is repeated) and their
states. ``step(metric)`` feeds the metric to every rule; the lr of group ``g`` is then::

    lr_g = base_g · state_g.scale

with ``base_g`` the group's lr when the scheduler was built. It is a
``torch.optim.lr_scheduler.ReduceLROnPlateau`` (a subclass, with its own state), so the code
that steps a plateau scheduler with a metric recognises it: transformers' ``Trainer`` (which
steps ``ReduceLROnPlateau`` and ``GreedyLR`` after each evaluation and no other time),
Lightning's ``monitor``. :func:`optimsche.get_scheduler` builds it for
``"reduce_lr_on_plateau"`` and ``"greedy"``.

Every value is checked before anything changes: a metric that is not a finite number, or an
lr that would not be a finite number ``>= 0``, raises a ``ValueError`` and the scheduler and
the optimizer stay as they were. ``state_dict()`` holds ``last_epoch``, ``base_lrs``,
``_last_lr`` and every rule's state as a plain dict (:mod:`schedules.rule_state`), loadable
with ``torch.load(weights_only=True)``; the rules themselves are rebuilt by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from optimsche.lr_scheduler_adapter import current_lrs
from optimsche.optimizer.checked_value import check_value
from optimsche.optimizer.param_group_values import write_group_value
from schedules.metric_rule import MetricRule
from schedules.reduce_on_plateau import read_metric
from schedules.rule_state import RuleState

__all__ = ["MetricRuleLR"]

_STATE_KEYS = ("last_epoch", "base_lrs", "_last_lr", "states")


class MetricRuleLR(ReduceLROnPlateau):
    """The lr of every param group is its initial lr times its rule's scale (module doc)."""

    def __init__(self, optimizer: Optimizer, rules: MetricRule | Sequence[MetricRule]) -> None:
        # ReduceLROnPlateau's own __init__ is not run: this class keeps its own state
        groups = optimizer.param_groups
        per_group: list[MetricRule] = (
            list(rules) if isinstance(rules, list | tuple) else [rules] * len(groups)  # type: ignore[list-item]
        )
        if len(per_group) != len(groups):
            raise ValueError(
                f"rules: got {len(per_group)} rule(s) for the optimizer's {len(groups)} param "
                f"group(s) (give one, or one per group)"
            )
        for index, rule in enumerate(per_group):
            if not isinstance(rule, MetricRule):
                raise ValueError(
                    f"rules[{index}] must be a metric rule (init() and update(state, metric)), "
                    f"got {type(rule).__name__}: {rule!r}"
                )
        self.optimizer = optimizer
        self.rules = per_group
        self.states: list[RuleState] = [rule.init() for rule in per_group]
        self.base_lrs = [float(group["lr"]) for group in groups]
        self.last_epoch = 0
        self._last_lr: list[float | Tensor] = current_lrs(optimizer)

    def _lrs(self, states: Sequence[RuleState]) -> list[float]:
        """``base_g · scale_g`` for every group, each checked to be a finite number >= 0."""
        return [
            check_value("lr", base * state.scale, schedule=f"{rule!r}", t=self.last_epoch + 1)
            for base, state, rule in zip(self.base_lrs, states, self.rules, strict=True)
        ]

    def step(self, metrics: Any = None, epoch: int | None = None) -> None:  # type: ignore[override]
        """Feed every rule one metric and set the groups' lrs; ``epoch`` (deprecated in
        torch) sets ``last_epoch`` instead of counting. A missing or bad metric is a
        ``ValueError``, nothing changed."""
        if metrics is None:
            raise ValueError(
                "step(metrics): this scheduler is stepped with a metric (the value the rules "
                "watch, e.g. a validation loss), after each evaluation"
            )
        value = read_metric(metrics)
        states = [
            rule.update(state, value) for rule, state in zip(self.rules, self.states, strict=True)
        ]
        lrs = self._lrs(states)
        self.states = states
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            write_group_value(group, "lr", lr)
        self._last_lr = current_lrs(self.optimizer)

    def get_last_lr(self) -> list[float | Tensor]:
        """The lr of every group after the last ``step``."""
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        """``last_epoch``, ``base_lrs``, ``_last_lr`` and the rules' states as plain dicts."""
        return {
            "last_epoch": self.last_epoch,
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
            "states": [state.as_dict() for state in self.states],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` and set the groups' lrs to match. A missing key, a
        state of another rule, or ``base_lrs``/``states`` that do not fit the groups raise a
        ``ValueError``, changing nothing."""
        missing = [key for key in _STATE_KEYS if key not in state_dict]
        if missing:
            raise ValueError(
                f"not a MetricRuleLR state_dict: missing {', '.join(missing)} "
                f"(got keys {', '.join(sorted(state_dict))})"
            )
        groups = len(self.optimizer.param_groups)
        base_lrs, saved = state_dict["base_lrs"], state_dict["states"]
        for key, value in (("base_lrs", base_lrs), ("states", saved)):
            if not isinstance(value, list | tuple) or len(value) != groups:
                raise ValueError(
                    f"the checkpoint's {key} {value!r} do not fit the optimizer's {groups} "
                    f"param group(s)"
                )
        states = [RuleState.from_dict(item) for item in saved]
        for index, (state, current) in enumerate(zip(states, self.states, strict=True)):
            if type(state) is not type(current):
                raise ValueError(
                    f"states[{index}]: the checkpoint holds a {state.KIND!r} state, but this "
                    f"scheduler's rule is {current.KIND!r}"
                )
        previous = self.base_lrs
        self.base_lrs = [float(lr) for lr in base_lrs]
        try:
            lrs = self._lrs(states)
        except ValueError:
            self.base_lrs = previous
            raise
        self.states, self.last_epoch = states, int(state_dict["last_epoch"])
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            write_group_value(group, "lr", lr)
        self._last_lr = current_lrs(self.optimizer)

    def __repr__(self) -> str:
        return f"MetricRuleLR(rules={self.rules!r}, last_epoch={self.last_epoch})"
