"""The per-group rule (optimsche.optimizer.group_rule), the key parser (group_entry) and the
one writer's tuple entries (param_group_values)."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from optimsche.optimizer.group_entry import GroupEntry, group_entry, schedulable_keys
from optimsche.optimizer.group_rule import group_rule
from optimsche.optimizer.param_group_values import (
    restore_group_entry,
    write_group_value,
    write_group_values,
)

LR = GroupEntry(key="lr", name="lr")
initial_values = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3)), min_size=1, max_size=8)


@given(initial_values, st.floats(0.0, 10.0))
def test_the_reference_gets_the_value_and_every_group_keeps_its_ratio(
    starts: list[float], value: float
) -> None:
    groups = [{"lr": s} for s in starts]
    rule = group_rule(LR, groups, per_group=False, role="lr")
    rule.write(groups, [value])
    written = [g["lr"] for g in groups]
    nonzero = [i for i, s in enumerate(starts) if s != 0.0]
    if not nonzero:  # every group started at 0: every group follows the schedule
        assert rule.reference is None and written == [value] * len(starts)
        return
    reference = nonzero[0]
    assert rule.reference == reference
    assert written[reference] == value  # exactly the schedule's value
    for i, start in enumerate(starts):
        if start == 0.0:
            assert written[i] == 0.0  # a group at 0 stays at 0
        else:
            assert written[i] == pytest.approx(value * start / starts[reference], rel=1e-12)


@given(initial_values, st.floats(0.0, 10.0))
def test_scale_entries_set_the_factor(starts: list[float], value: float) -> None:
    groups: list[dict[str, Any]] = [{"lr": s, "lr_scale": 0.5 * g} for g, s in enumerate(starts)]
    rule = group_rule(LR, groups, per_group=False, role="lr")
    assert rule.factors == tuple(0.5 * g for g in range(len(starts)))
    assert rule.values([value]) == [0.5 * g * value for g in range(len(starts))]


def test_one_schedule_per_group_and_the_initial_values_given() -> None:
    groups: list[dict[str, Any]] = [{"lr": 5.0}, {"lr": 0.0, "lr_scale": 3.0}]
    per_group = group_rule(LR, groups, per_group=True, role="lr")
    assert per_group.values([0.1, 0.2]) == [0.1, pytest.approx(0.6)]
    with pytest.raises(ValueError, match=r"'lr': 1 scheduled value\(s\) for one per 2"):
        per_group.write(groups, [0.1])
    # the initial values may come from elsewhere (as_lr_scheduler: torch's base_lrs)
    from_base = group_rule(LR, groups, per_group=False, role="lr", initial=[2.0, 8.0])
    assert from_base.factors == (1.0, 3.0)  # group 1's lr_scale wins over its ratio (4)
    with pytest.raises(ValueError, match=r"lr: param group 1's initial lr must be >= 0"):
        group_rule(LR, groups, per_group=False, role="lr", initial=[1.0, -1.0])


def test_factors_from_a_checkpoint_are_checked() -> None:
    rule = group_rule(LR, [{"lr": 1.0}, {"lr": 2.0}], per_group=False, role="lr")
    assert rule.with_factors([1.0, 4.0], "here").factors == (1.0, 4.0)
    with pytest.raises(ValueError, match=r"here: 'lr' needs 2 factor\(s\)"):
        rule.with_factors([1.0], "here")
    with pytest.raises(ValueError, match=r"here: 'lr' factor of param group 1 must be finite"):
        rule.with_factors([1.0, math.inf], "here")


def test_keys_and_their_errors() -> None:
    groups = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).param_groups
    assert schedulable_keys(groups) == ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]
    assert group_entry("betas[1]", groups, role="r") == GroupEntry("betas[1]", "betas", 1)
    with pytest.raises(ValueError, match=re.escape("r: 'betas[2]': index 2 is out of range")):
        group_entry("betas[2]", groups, role="r")
    with pytest.raises(ValueError, match=re.escape("r: 'eps[0]': param group 0's 'eps' is")):
        group_entry("eps[0]", groups, role="r")
    with pytest.raises(ValueError, match=re.escape("r: 3 is not a param-group key")):
        group_entry(3, groups, role="r")


def test_tuple_entries_float_and_tensor() -> None:
    group: dict[str, Any] = {"betas": (0.9, 0.999)}
    write_group_value(group, "betas", 0.8, 0)
    assert group["betas"] == (0.8, 0.999)
    write_group_values([group], "betas", [2.0], 0.3, 1)
    assert group["betas"] == (0.8, 0.6)
    tensors = (torch.tensor(0.9), torch.tensor(0.999))
    group = {"betas": tensors}
    write_group_values([group], "betas", [0.5], 1.6, 0)
    assert group["betas"] is tensors and float(tensors[0]) == pytest.approx(0.8)


def test_restore_keeps_tensor_entries_holding_the_loaded_values() -> None:
    own = (torch.tensor(0.9), torch.tensor(0.999))
    group: dict[str, Any] = {"betas": (torch.tensor(0.7), torch.tensor(0.95)), "lr": 0.1}
    restore_group_entry(group, "betas", own)
    assert group["betas"] is own
    assert [float(b) for b in own] == [pytest.approx(0.7), pytest.approx(0.95)]
    restore_group_entry(group, "lr", 0.5)  # a number entry keeps the loaded value
    assert group["lr"] == 0.1
