"""``hyperparameters=``: any param-group entry scheduled per update from the lr's clock, with
the per-group rule (ratios to the reference group, a group at 0 stays at 0, ``<key>_scale``,
one schedule per group), values checked before anything is written, resumed exactly."""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from shell_models import EncoderTwoHeads, batches

import schedules
from optimsche import OptimScheduler

WD = functools.partial(schedules.cosine, peak=0.1, steps=6, final=0.01)
BETA1 = functools.partial(schedules.linear, start=0.95, end=0.85, steps=6)
LR = functools.partial(schedules.constant, value=1e-2)


def loss_of(model: EncoderTwoHeads, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a, b = model(x)
    return (a - y).pow(2).mean() + (b - y).pow(2).mean()


def adamw(model: EncoderTwoHeads, *groups: dict[str, Any], **defaults: Any) -> torch.optim.AdamW:
    """AdamW over encoder / head_a / head_b, each with its own extra entries."""
    modules = (model.encoder, model.head_a, model.head_b)
    return torch.optim.AdamW(
        [{"params": m.parameters(), **g} for m, g in zip(modules, groups, strict=True)],
        **{"lr": 1e-2, **defaults},
    )


def entries(optimizer: torch.optim.Optimizer, key: str) -> list[Any]:
    return [g[key] for g in optimizer.param_groups]


def train(sche: OptimScheduler, model: EncoderTwoHeads, updates: int, key: str) -> list[Any]:
    """Each update's ``key`` entries of the param groups."""
    seen = []
    for x, y in batches(updates):
        assert sche.step(loss_of(model, x, y)).updated
        seen.append(entries(sche.optimizer, key))
    return seen


def test_weight_decay_follows_the_schedule_and_a_no_decay_group_stays_at_zero() -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {"weight_decay": 0.0}, {"weight_decay": 0.2}, {"weight_decay": 0.1})
    sche = OptimScheduler(model=model, optimizer=optimizer, hyperparameters={"weight_decay": WD})
    for k, wds in enumerate(train(sche, model, 6, "weight_decay"), start=1):
        # group 0 (no decay) stays at 0 though it comes first; group 1 is the reference
        assert wds == [0.0, WD(k), pytest.approx(0.5 * WD(k), rel=1e-15)]
    assert entries(optimizer, "lr") == [1e-2] * 3  # no lr schedule: the optimizer's lrs stay


def test_beta1_writes_a_new_tuple_and_keeps_beta2() -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {}, {"betas": (0.9, 0.99)}, {"betas": (0.45, 0.98)})
    sche = OptimScheduler(
        model=model, optimizer=optimizer, schedule=LR, hyperparameters={"betas[0]": BETA1}
    )
    for k, betas in enumerate(train(sche, model, 5, "betas"), start=1):
        b1 = BETA1(k)
        assert betas == [(b1, 0.999), (b1, 0.99), (pytest.approx(b1 / 2, rel=1e-15), 0.98)]


def test_tensor_betas_stay_the_same_tensors_filled_in_place() -> None:
    model = EncoderTwoHeads()
    optimizer = torch.optim.Adam(
        model.parameters(), lr=1e-2, betas=(torch.tensor(0.9), torch.tensor(0.999))
    )
    betas = optimizer.param_groups[0]["betas"]
    sche = OptimScheduler(model=model, optimizer=optimizer, hyperparameters={"betas[0]": BETA1})
    for k in range(1, 5):
        (now,) = train(sche, model, 1, "betas")[0]
        assert now is betas and now[0] is betas[0]
        assert float(now[0]) == pytest.approx(BETA1(k), rel=1e-6)
        assert float(now[1]) == pytest.approx(0.999, rel=1e-6)


def test_sgd_momentum_and_explicit_scales() -> None:
    model = EncoderTwoHeads()
    modules = (model.encoder, model.head_a, model.head_b)
    optimizer = torch.optim.SGD(
        [
            {"params": modules[0].parameters(), "momentum": 0.9},
            {"params": modules[1].parameters(), "momentum": 0.9, "momentum_scale": 0.5},
            {"params": modules[2].parameters(), "momentum": 0.0, "momentum_scale": 1.0},
        ],
        lr=1e-2,
    )
    momentum = functools.partial(schedules.linear, start=0.8, end=0.9, steps=4)
    sche = OptimScheduler(model=model, optimizer=optimizer, hyperparameters={"momentum": momentum})
    for k, values in enumerate(train(sche, model, 4, "momentum"), start=1):
        assert values == [momentum(k), 0.5 * momentum(k), momentum(k)]


def test_betas_index_scale_spelling() -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {}, {"betas[0]_scale": 0.5}, {"betas[0]_scale": 0.0})
    sche = OptimScheduler(model=model, optimizer=optimizer, hyperparameters={"betas[0]": BETA1})
    for k, betas in enumerate(train(sche, model, 3, "betas"), start=1):
        assert [b[0] for b in betas] == [BETA1(k), 0.5 * BETA1(k), 0.0]


def test_one_schedule_per_group() -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {}, {}, {"weight_decay_scale": 2.0})
    per_group: list[Callable[[int], float]] = [
        WD,
        functools.partial(schedules.constant, value=0.0),
        lambda s: 0.01 * s,
    ]
    sche = OptimScheduler(
        model=model, optimizer=optimizer, hyperparameters={"weight_decay": per_group}
    )
    for k, wds in enumerate(train(sche, model, 3, "weight_decay"), start=1):
        assert wds == [WD(k), 0.0, 2.0 * (0.01 * k)]


def test_ft_factor_applies_to_the_lr_only() -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {}, {}, {})
    sche = OptimScheduler(
        model=model,
        optimizer=optimizer,
        schedule=LR,
        ft_factor=0.1,
        hyperparameters={"weight_decay": WD},
    )
    for k, wds in enumerate(train(sche, model, 3, "weight_decay"), start=1):
        assert wds == [WD(k)] * 3
        assert entries(optimizer, "lr") == [pytest.approx(1e-3, rel=1e-15)] * 3


def test_equals_a_hand_written_loop_writing_the_same_values() -> None:
    """The shell's training equals a plain torch loop that sets lr, weight decay and beta1 of
    every group by hand before each step, bit for bit."""
    model, twin = EncoderTwoHeads(), EncoderTwoHeads()
    groups: tuple[dict[str, Any], ...] = (
        {"lr": 1e-3, "weight_decay": 0.0},
        {"lr": 1e-2, "weight_decay": 0.05},
        {"lr": 5e-3, "weight_decay": 0.1},
    )
    sche = OptimScheduler(
        model=model,
        optimizer=adamw(model, *copy.deepcopy(groups)),
        schedule=LR,
        hyperparameters={"weight_decay": WD, "betas[0]": BETA1},
    )
    hand = adamw(twin, *copy.deepcopy(groups))
    for k, (x, y) in enumerate(batches(6), start=1):
        sche.step(loss_of(model, x, y))
        loss_of(twin, x, y).backward()
        for g, group in zip(groups, hand.param_groups, strict=True):
            group["lr"] = LR(k) * (g["lr"] / 1e-3)
            group["weight_decay"] = WD(k) * (g["weight_decay"] / 0.05)
            group["betas"] = (BETA1(k), 0.999)
        hand.step()
        hand.zero_grad(set_to_none=True)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)


def test_resume_continues_exactly() -> None:
    model = EncoderTwoHeads()
    groups = ({"weight_decay": 0.0}, {"weight_decay": 0.2}, {"weight_decay": 0.1})

    def shell(m: EncoderTwoHeads, optimizer: torch.optim.Optimizer) -> OptimScheduler:
        return OptimScheduler(
            model=m,
            optimizer=optimizer,
            schedule=LR,
            hyperparameters={"weight_decay": WD, "betas[0]": BETA1},
        )

    sche = shell(model, adamw(model, *groups))
    data = batches(6)
    for x, y in data[:3]:
        sche.step(loss_of(model, x, y))
    saved = copy.deepcopy(sche.state_dict())
    assert saved["group_factors"]["weight_decay"] == [0.0, 1.0, 0.5]
    saved_model = copy.deepcopy(model.state_dict())
    expected = []
    for x, y in data[3:]:
        sche.step(loss_of(model, x, y))
        expected.append((entries(sche.optimizer, "weight_decay"), entries(sche.optimizer, "betas")))

    resumed = EncoderTwoHeads()
    resumed.load_state_dict(saved_model)
    other = shell(resumed, adamw(resumed, *groups))
    other.load_state_dict(saved)
    # the param groups hold the values of the saved run's last update
    assert entries(other.optimizer, "weight_decay") == [0.0, WD(3), pytest.approx(0.5 * WD(3))]
    seen = []
    for x, y in data[3:]:
        other.step(loss_of(resumed, x, y))
        seen.append((entries(other.optimizer, "weight_decay"), entries(other.optimizer, "betas")))
    assert seen == expected
    for p, q in zip(resumed.parameters(), model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_tensor_betas_stay_the_same_objects_across_a_load() -> None:
    model = EncoderTwoHeads()
    optimizer = torch.optim.Adam(
        model.parameters(), lr=1e-2, betas=(torch.tensor(0.9), torch.tensor(0.999))
    )
    sche = OptimScheduler(model=model, optimizer=optimizer, hyperparameters={"betas[0]": BETA1})
    train(sche, model, 2, "betas")
    saved = copy.deepcopy(sche.state_dict())
    betas = optimizer.param_groups[0]["betas"]
    train(sche, model, 2, "betas")
    sche.load_state_dict(saved)
    assert optimizer.param_groups[0]["betas"] is betas
    assert float(betas[0]) == pytest.approx(BETA1(2), rel=1e-6)


# ------------------------------------------------------------------ refusals


def snapshot(sche: OptimScheduler) -> tuple[Any, ...]:
    return (
        copy.deepcopy(sche.optimizer.state_dict()),
        [p.detach().clone() for p in sche.parameters],
    )


def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    state_a, params_a = a
    state_b, params_b = b
    return (
        state_a["param_groups"] == state_b["param_groups"]
        and all(torch.equal(p, q) for p, q in zip(params_a, params_b, strict=True))
        and all(
            torch.equal(state_a["state"][i][k], state_b["state"][i][k])
            for i in state_a["state"]
            for k in state_a["state"][i]
        )
        and state_a["state"].keys() == state_b["state"].keys()
    )


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {"weight_dacay": WD},
            "hyperparameters: unknown key 'weight_dacay': param group 0 has no entry "
            "'weight_dacay'; did you mean 'weight_decay'? (valid keys of this optimizer: lr, "
            "betas[0], betas[1], eps, weight_decay",
        ),
        (
            {"betas[2]": BETA1},
            "'betas[2]': index 2 is out of range, param group 0's 'betas' "
            "has 2 entries (valid: betas[0], betas[1])",
        ),
        (
            {"betas": BETA1},
            "'betas' cannot be scheduled: param group 0 holds (0.9, 0.999), "
            "not a number (a tuple: schedule one element, e.g. 'betas[0]')",
        ),
        ({"amsgrad": WD}, "'amsgrad' cannot be scheduled: param group 0 holds False"),
        ({"lr": WD}, "hyperparameters: 'lr' is scheduled by schedule="),
        ({"weight_decay": 0.1}, "'weight_decay' must be a schedule (a callable t -> value)"),
        (
            {"weight_decay": [WD, WD]},
            "hyperparameters: 'weight_decay' has 2 schedule(s) but the optimizer has 3 param "
            "group(s)",
        ),
        ({"weight-decay": WD}, "'weight-decay' is not a param-group key"),
        ([("weight_decay", WD)], "hyperparameters must be a dict of param-group keys"),
    ],
)
def test_bad_hyperparameters_are_named_and_change_nothing(
    hyperparameters: Any, message: str
) -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {}, {}, {})
    before = copy.deepcopy(optimizer.state_dict())
    with pytest.raises(ValueError, match=re.escape(message)):
        OptimScheduler(
            model=model,
            optimizer=optimizer,
            ft_factor=0.5,
            compile_step=True,
            hyperparameters=hyperparameters,
        )
    assert optimizer.state_dict() == before


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "0.5", None])
def test_a_bad_key_scale_is_named_and_changes_nothing(bad: object) -> None:
    model = EncoderTwoHeads()
    optimizer = adamw(model, {}, {"betas[0]_scale": bad}, {})
    before = copy.deepcopy(optimizer.state_dict())
    with pytest.raises(
        ValueError, match=re.escape("hyperparameters: param group 1: betas[0]_scale must be")
    ):
        OptimScheduler(
            model=model, optimizer=optimizer, ft_factor=0.5, hyperparameters={"betas[0]": BETA1}
        )
    assert optimizer.state_dict() == before


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1])
@pytest.mark.parametrize("key", ["weight_decay", "betas[0]", "lr"])
def test_a_bad_scheduled_value_raises_before_anything_changes(bad: float, key: str) -> None:
    """At the third update the schedule of ``key`` gives ``bad``: a ValueError naming the key,
    the step and the value, raised when the update's last micro-step is prepared (before its
    backward), so the parameters, their gradients, the optimizer (its param groups, the lr
    included) and the step counter are as before the call."""
    model = EncoderTwoHeads()

    def schedule(s: int) -> float:
        return bad if s == 3 else 0.5

    lr: Callable[[int], float] = schedule if key == "lr" else LR
    hyperparameters = {} if key == "lr" else {key: schedule}
    sche = OptimScheduler(
        model=model,
        optimizer=adamw(model, {}, {}, {}),
        schedule=lr,
        hyperparameters={"weight_decay": WD, **hyperparameters},
    )
    data = batches(3)
    for x, y in data[:2]:
        sche.step(loss_of(model, x, y))
    before = snapshot(sche)
    with pytest.raises(ValueError, match=re.escape(f"{key}: the schedule ")) as raised:
        sche.step(loss_of(model, *data[2]))
    assert f"gave {bad!r} at step 3" in str(raised.value)
    assert same(snapshot(sche), before)
    assert sche.step_num == 2
    assert all(p.grad is None for p in sche.parameters)


def test_hyperparameters_follow_the_epoch_clock() -> None:
    """With ``clock="epoch"`` the hyperparameter schedules see the epoch, as the lr does."""
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model,
        optimizer=adamw(model, {}, {}, {}),
        schedule=LR,
        clock="epoch",
        hyperparameters={"weight_decay": lambda epoch: 0.01 * epoch},
    )
    for step, (x, y) in enumerate(batches(4)):
        epoch = 1 + step / 2  # a float epoch, two updates per epoch
        sche.step(loss_of(model, x, y), epoch_num=epoch)
        assert entries(sche.optimizer, "weight_decay") == [0.01 * epoch] * 3


def test_the_plateau_scale_applies_to_the_lr_only() -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model,
        optimizer=adamw(model, {"lr": 1e-3}, {"lr": 1e-2}, {"lr": 0.0}),
        schedule=LR,
        plateau=schedules.reduce_on_plateau(factor=0.5, patience=0),
        hyperparameters={"weight_decay": WD},
    )
    data = batches(3)
    sche.step(loss_of(model, *data[0]))
    sche.observe(1.0)
    sche.observe(2.0)  # no improvement: the scale halves
    sche.step(loss_of(model, *data[1]))
    assert entries(sche.optimizer, "lr") == [0.5 * 1e-2, pytest.approx(0.5 * 1e-1), 0.0]
    assert entries(sche.optimizer, "weight_decay") == [WD(2)] * 3
