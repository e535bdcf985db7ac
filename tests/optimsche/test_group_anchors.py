"""Anchors for the per-group rule and ``hyperparameters=``, against numbers torch itself
produces in the test (and Megatron's weight-decay increment, whose formula is written here as
the reference):

* torch ``OneCycleLR(cycle_momentum=True)``: lr and SGD momentum / Adam beta1 over a whole run;
* torch ``LambdaLR`` with a list of lambdas, and with one lambda over 3 groups of different lrs;
* Megatron ``OptimizerParamScheduler.get_wd`` ``linear`` and ``cosine`` increments.

The clocks: a torch scheduler's (and Megatron's) k-th optimizer update uses its formula at
``k - 1`` (the constructor evaluates step 0, each ``scheduler.step()`` after an update moves
on); the shell's k-th update evaluates its schedules at the real step ``k`` (1-based). So a
0-based formula ``f`` is driven as ``schedules.warmup(f, steps=1)``, which is ``f(k - 1)`` for
``k >= 1``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from shell_models import EncoderTwoHeads, batches
from torch.optim.lr_scheduler import LambdaLR, OneCycleLR

import schedules
from optimsche import OptimScheduler

TOTAL = 20
PCT_START = 0.3
MAX_LR = 0.1
BASE_MOMENTUM, MAX_MOMENTUM = 0.85, 0.95


def shifted(schedule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``schedule(k - 1)`` at the shell's 1-based real step ``k``: a torch scheduler's clock."""
    return schedules.warmup(schedule, steps=1)


def loss_of(model: EncoderTwoHeads, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a, b = model(x)
    return (a - y).pow(2).mean() + (b - y).pow(2).mean()


def three_groups(model: EncoderTwoHeads, lrs: tuple[float, ...], kind: str, **defaults: Any) -> Any:
    modules = (model.encoder, model.head_a, model.head_b)
    groups = [{"params": m.parameters(), "lr": lr} for m, lr in zip(modules, lrs, strict=True)]
    return getattr(torch.optim, kind)(groups, **defaults)


def torch_run(
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    model: EncoderTwoHeads,
    keys: tuple[str, ...],
) -> list[list[Any]]:
    """Each update's param-group entries ``keys`` as the update used them."""
    used = []
    for x, y in batches(TOTAL):
        loss_of(model, x, y).backward()
        used.append([[g[k] for k in keys] for g in optimizer.param_groups])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
    return used


def shell_run(sche: OptimScheduler, model: EncoderTwoHeads, keys: tuple[str, ...]) -> list[Any]:
    used = []
    for x, y in batches(TOTAL):
        assert sche.step(loss_of(model, x, y)).updated
        used.append([[g[k] for k in keys] for g in sche.optimizer.param_groups])
    return used


@pytest.mark.parametrize(
    ("kind", "key", "entry"), [("SGD", "momentum", "momentum"), ("Adam", "betas[0]", "betas")]
)
def test_one_cycle_lr_with_cycle_momentum(kind: str, key: str, entry: str) -> None:
    """The lr is ``one_cycle``; the momentum (beta1) is the inverse cycle, max → base → max,
    with the same cosine phases: ``one_cycle`` peaking at ``base_momentum`` from
    ``initial = peak / div = max_momentum`` (``div = base/max < 1``) back to
    ``minimum = initial / final_div = max_momentum`` (``final_div = 1``)."""
    defaults: dict[str, Any] = {"momentum": MAX_MOMENTUM} if kind == "SGD" else {}
    torch_model, model = EncoderTwoHeads(), EncoderTwoHeads()
    lrs = (MAX_LR, MAX_LR, MAX_LR)
    optimizer = three_groups(torch_model, lrs, kind, **defaults)
    one_cycle = OneCycleLR(
        optimizer,
        max_lr=MAX_LR,
        total_steps=TOTAL,
        pct_start=PCT_START,
        base_momentum=BASE_MOMENTUM,
        max_momentum=MAX_MOMENTUM,
    )
    expected = torch_run(optimizer, one_cycle, torch_model, ("lr", entry))

    momentum = functools.partial(
        schedules.one_cycle,
        peak=BASE_MOMENTUM,
        steps=TOTAL,
        pct_start=PCT_START,
        div=BASE_MOMENTUM / MAX_MOMENTUM,
        final_div=1.0,
    )
    sche = OptimScheduler(
        model=model,
        optimizer=three_groups(model, lrs, kind, **defaults),
        schedule=shifted(
            functools.partial(schedules.one_cycle, peak=MAX_LR, steps=TOTAL, pct_start=PCT_START)
        ),
        hyperparameters={key: shifted(momentum)},
    )
    seen = shell_run(sche, model, ("lr", entry))
    assert seen == expected  # lr and momentum (beta1, beta2 kept) of every group, exactly
    for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_lambda_lr_with_a_list_of_lambdas() -> None:
    lambdas: list[Callable[[int], float]] = [
        lambda e: 0.95**e,
        lambda e: 1.0 / (1 + e),
        lambda e: 1.0 if e < 5 else 0.1,
    ]
    lrs = (1e-3, 1e-2, 5e-3)
    torch_model, model = EncoderTwoHeads(), EncoderTwoHeads()
    optimizer = three_groups(torch_model, lrs, "AdamW")
    expected = torch_run(optimizer, LambdaLR(optimizer, lambdas), torch_model, ("lr",))

    per_group = [
        shifted(functools.partial(lambda s, base, f: base * f(s), base=base, f=f))
        for base, f in zip(lrs, lambdas, strict=True)
    ]
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (1.0, 1.0, 1.0), "AdamW"), schedule=per_group
    )
    assert shell_run(sche, model, ("lr",)) == expected
    for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_lambda_lr_with_one_lambda_over_groups_of_different_lrs() -> None:
    """One schedule, the reference group's lr (group 1: group 0 is frozen at 0); torch's
    ``base_g · λ`` and our ``(base_g / base_ref) · (base_ref · λ)`` agree to rounding."""

    def decay(e: float) -> float:
        return 0.9**e

    lrs = (0.0, 1e-3, 3e-2)
    torch_model, model = EncoderTwoHeads(), EncoderTwoHeads()
    optimizer = three_groups(torch_model, lrs, "SGD", momentum=0.9)
    expected = torch_run(optimizer, LambdaLR(optimizer, decay), torch_model, ("lr",))

    sche = OptimScheduler(
        model=model,
        optimizer=three_groups(model, lrs, "SGD", momentum=0.9),
        schedule=shifted(lambda s: lrs[1] * decay(s)),
    )
    seen = shell_run(sche, model, ("lr",))
    for ours, theirs in zip(seen, expected, strict=True):
        assert ours[0] == theirs[0] == [0.0]  # the frozen group stays at 0
        assert ours[1] == theirs[1]  # the reference group: the schedule's value exactly
        assert ours[2][0] == pytest.approx(theirs[2][0], rel=4 * 2.0**-52)
    for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------- Megatron's weight decay

START_WD, END_WD, WD_INCR_STEPS = 0.01, 0.1, 12


def megatron_wd(num_steps: int, style: str) -> float:
    """Megatron ``OptimizerParamScheduler.get_wd``: the weight decay after ``num_steps``
    scheduler steps, rising from ``start_wd`` to ``end_wd`` over ``wd_incr_steps``."""
    if num_steps > WD_INCR_STEPS:
        return END_WD
    incr_ratio = num_steps / WD_INCR_STEPS
    linear = style == "linear"  # else "cosine"
    coeff = incr_ratio if linear else 0.5 * (math.cos(math.pi * (1 - incr_ratio)) + 1.0)
    return START_WD + coeff * (END_WD - START_WD)


MEGATRON_STYLES: dict[str, Callable[[Any], Any]] = {
    # linear from start_wd to end_wd, beginning at the first update (step 1)
    "linear": functools.partial(
        schedules.linear, start=START_WD, end=END_WD, steps=WD_INCR_STEPS, begin=1
    ),
    # a rising half cosine is our cosine from "peak" = start_wd to "final" = end_wd
    "cosine": shifted(
        functools.partial(schedules.cosine, peak=START_WD, steps=WD_INCR_STEPS, final=END_WD)
    ),
}


@pytest.mark.parametrize("style", sorted(MEGATRON_STYLES))
def test_megatron_weight_decay_increment(style: str) -> None:
    """Megatron sets ``weight_decay = get_wd() · wd_mult`` in every group before each update
    (its k-th update uses ``get_wd`` after ``k - 1`` steps); a no-decay group has
    ``wd_mult = 0``, here the same as ``weight_decay_scale = 0`` (or a group at 0)."""
    model = EncoderTwoHeads()
    modules = (model.encoder, model.head_a, model.head_b)
    optimizer = torch.optim.AdamW(
        [
            {"params": modules[0].parameters(), "weight_decay": 0.0},  # no decay, first
            {"params": modules[1].parameters(), "weight_decay_scale": 1.0},
            {"params": modules[2].parameters(), "weight_decay_scale": 0.5},
        ],
        lr=1e-3,
        weight_decay=START_WD,
    )
    wd_mult = (0.0, 1.0, 0.5)
    sche = OptimScheduler(
        model=model, optimizer=optimizer, hyperparameters={"weight_decay": MEGATRON_STYLES[style]}
    )
    used = shell_run(sche, model, ("weight_decay",))
    # linear: the same arithmetic, bit for bit; cosine: Megatron writes the half cosine as
    # start + (1 - c)·(end - start), we as end + c·(start - end): within 4 ulps
    tolerance = 0.0 if style == "linear" else 4 * 2.0**-52
    for k in range(1, TOTAL + 1):  # the run goes past wd_incr_steps: end_wd holds
        reference = megatron_wd(k - 1, style)
        for g, mult in enumerate(wd_mult):
            assert used[k - 1][g][0] == pytest.approx(reference * mult, rel=tolerance, abs=0)
