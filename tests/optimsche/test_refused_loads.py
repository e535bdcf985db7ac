"""A refused checkpoint changes nothing: every part of it is checked before any is loaded."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp
from shell_state import assert_same_state, shell_state
from torch import nn

from optimsche import OptimScheduler, OptimSchedulerGroup


def _trained(optim_type: str = "Adam", steps: int = 2, **kwargs: object) -> OptimScheduler:
    model = tiny_mlp()
    sche = OptimScheduler(optim_type, {"lr": 0.01}, model, **kwargs)  # type: ignore[arg-type]
    for x, y in batches(steps):
        sche.step(mse(model, x, y))
    return sche


def _group(model: EncoderTwoHeads) -> OptimSchedulerGroup:
    return OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "Adam", {"lr": 0.01}, model, optim_loss="loss_a", updated_modules="encoder"
            ),
            "b": OptimScheduler(
                "Adam", {"lr": 0.01}, model, optim_loss="loss_b", updated_modules="head_b"
            ),
        }
    )


def _step(group: OptimSchedulerGroup, model: EncoderTwoHeads) -> None:
    x, y = batches(1)[0]
    out_a, out_b = model(x)
    group.step({"loss_a": (out_a - y).pow(2).mean(), "loss_b": (out_b - y).pow(2).mean()})


def test_a_group_refusing_one_members_checkpoint_loads_no_member() -> None:
    saved_model = EncoderTwoHeads()
    saved = _group(saved_model)
    for _ in range(3):
        _step(saved, saved_model)
    checkpoint = copy.deepcopy(saved.state_dict())
    checkpoint["b"]["optimizer_type"] = "SGD"
    model = EncoderTwoHeads()
    group = _group(model)
    _step(group, model)
    before = {name: shell_state(member) for name, member in group.items()}
    with pytest.raises(ValueError, match=r"'b': OptimScheduler\.load_state_dict: the checkpoint"):
        group.load_state_dict(checkpoint)
    for name, member in group.items():
        assert_same_state(before[name], shell_state(member))
    assert group.step_num == 1


@pytest.mark.parametrize("missing", ["growth_factor", "_growth_tracker", "growth_interval"])
def test_an_fp16_shell_refuses_a_scaler_state_with_missing_keys(missing: str) -> None:
    checkpoint = copy.deepcopy(_trained(use_amp=True, steps=3).state_dict())
    del checkpoint["scaler"][missing]
    sche = _trained(use_amp=True, steps=1)
    before = shell_state(sche)
    with pytest.raises(ValueError, match=f"the scaler state lacks '{missing}'"):
        sche.load_state_dict(checkpoint)
    assert_same_state(before, shell_state(sche))


def test_a_scaler_state_with_a_non_number_is_refused() -> None:
    checkpoint = copy.deepcopy(_trained(use_amp=True).state_dict())
    checkpoint["scaler"]["growth_interval"] = "2000"
    with pytest.raises(ValueError, match="scaler 'growth_interval' must be a number"):
        _trained(use_amp=True, steps=0).load_state_dict(checkpoint)


@pytest.mark.parametrize("live_state", [False, True])
def test_an_optimizer_state_tensor_of_the_wrong_shape_is_refused(live_state: bool) -> None:
    checkpoint = copy.deepcopy(_trained().state_dict())
    state = checkpoint["optimizer"]["state"]
    state[0]["exp_avg"] = state[0]["exp_avg"].t().contiguous()  # (6, 8) instead of (8, 6)
    sche = _trained(steps=1 if live_state else 0)
    before = shell_state(sche)
    with pytest.raises(
        ValueError,
        match=re.escape("optimizer state 'exp_avg' of parameter 0")
        + r".*(\(6, 8\), its parameter \(8, 6\)|\(6, 8\), this optimizer's is \(8, 6\))",
    ):
        sche.load_state_dict(checkpoint)
    assert_same_state(before, shell_state(sche))
    bias = copy.deepcopy(_trained().state_dict())
    bias["optimizer"]["state"][1]["exp_avg_sq"] = torch.zeros(3)  # a (8,) bias
    with pytest.raises(ValueError, match=r"'exp_avg_sq' of parameter 1 .*\(3,\)"):
        sche.load_state_dict(bias)


def test_optimizer_state_for_an_unknown_parameter_or_missing_keys_is_refused() -> None:
    checkpoint = copy.deepcopy(_trained().state_dict())
    checkpoint["optimizer"]["state"][99] = checkpoint["optimizer"]["state"][0]
    with pytest.raises(ValueError, match="state for parameter 99, which no param group lists"):
        _trained().load_state_dict(checkpoint)
    fewer = copy.deepcopy(_trained().state_dict())
    del fewer["optimizer"]["state"][0]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"the state of parameter 0 holds \['exp_avg', 'step'\]"):
        _trained().load_state_dict(fewer)


def test_factored_and_scalar_optimizer_states_still_load() -> None:
    """Adafactor keeps row/column factors (sizes 1 where the parameter has more): they fit."""
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
    sche = OptimScheduler("Adafactor", {"lr": 0.01}, model)
    for x, y in batches(2):
        sche.step(mse(model, x, y))
    checkpoint = copy.deepcopy(sche.state_dict())
    fresh = OptimScheduler("Adafactor", {"lr": 0.01}, tiny_mlp())
    fresh.load_state_dict(checkpoint)
    assert fresh.step_num == 2
    x, y = batches(1)[0]
    assert fresh.step(mse(fresh.model, x, y)).updated  # type: ignore[arg-type]
