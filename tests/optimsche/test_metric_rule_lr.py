"""``MetricRuleLR``: metric rules as a torch plateau scheduler; its refusals change nothing."""

from __future__ import annotations

import pytest
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

import schedules
from optimsche.metric_rule_lr import MetricRuleLR


def _optimizer() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (0.1, 0.02)]
    return torch.optim.SGD(groups, lr=0.1)


def test_follows_torch_reduce_lr_on_plateau_in_every_group() -> None:
    ours_optimizer, torch_optimizer = _optimizer(), _optimizer()
    ours = MetricRuleLR(ours_optimizer, schedules.reduce_on_plateau(factor=0.5, patience=1))
    theirs = ReduceLROnPlateau(torch_optimizer, factor=0.5, patience=1, eps=0.0)
    for metric in [1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.1]:
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert ours.last_epoch == theirs.last_epoch


def test_refusals_change_nothing() -> None:
    optimizer = _optimizer()
    with pytest.raises(ValueError, match=r"got 3 rule\(s\) for the optimizer's 2 param group"):
        MetricRuleLR(optimizer, [schedules.newbob()] * 3)
    with pytest.raises(ValueError, match=r"rules\[1\] must be a metric rule"):
        MetricRuleLR(optimizer, [schedules.newbob(), 0.5])  # type: ignore[list-item]
    scheduler = MetricRuleLR(optimizer, schedules.newbob(factor=0.5, threshold=0.5))
    scheduler.step(1.0)
    scheduler.step(0.9)
    state = scheduler.state_dict()
    lrs = [group["lr"] for group in optimizer.param_groups]
    assert lrs == pytest.approx([0.05, 0.01])
    other = MetricRuleLR(_optimizer(), schedules.reduce_on_plateau())
    for bad, message in [
        ({**state, "states": state["states"][:1]}, "do not fit the optimizer's 2 param group"),
        ({k: v for k, v in state.items() if k != "states"}, "missing states"),
    ]:
        with pytest.raises(ValueError, match=message):
            scheduler.load_state_dict(bad)
    with pytest.raises(ValueError, match="holds a 'newbob' state, but this scheduler's rule is"):
        other.load_state_dict(state)
    assert [group["lr"] for group in other.optimizer.param_groups] == [0.1, 0.02]
    assert other.last_epoch == 0
    for metric in ["x", float("inf")]:
        with pytest.raises(ValueError, match="metric"):
            scheduler.step(metric)
    assert [group["lr"] for group in optimizer.param_groups] == lrs
    assert scheduler.state_dict() == state
