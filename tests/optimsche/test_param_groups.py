"""The lr of every param group: the schedule gives the reference group's lr (the first whose
initial lr is not 0), the others keep their initial ratio to it (torch LambdaLR's rule), an
``lr_scale`` sets a group's factor, a group at 0 stays at 0, and ``schedule=`` may be a list
with one schedule per group."""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Callable

import pytest
import torch
from shell_models import EncoderTwoHeads, batches

import schedules
from optimsche import ExponentDecayLr, NoamLr, OptimScheduler, as_lr_scheduler

COSINE = functools.partial(schedules.cosine, peak=1e-2, steps=8, final=1e-3)


def loss_of(model: EncoderTwoHeads, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a, b = model(x)
    return (a - y).pow(2).mean() + (b - y).pow(2).mean()


def three_groups(
    model: EncoderTwoHeads, lrs: tuple[float, float, float], **extra: dict[str, float]
) -> torch.optim.Optimizer:
    """An AdamW over encoder / head_a / head_b with the given lrs (and extra group entries)."""
    modules = (model.encoder, model.head_a, model.head_b)
    return torch.optim.AdamW(
        [
            {"params": m.parameters(), "lr": lr, **extra.get(str(g), {})}
            for g, (m, lr) in enumerate(zip(modules, lrs, strict=True))
        ],
        lr=1.0,
        weight_decay=0.0,
    )


def lrs_of(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(g["lr"]) for g in optimizer.param_groups]


def run(sche: OptimScheduler, model: EncoderTwoHeads, updates: int) -> list[list[float]]:
    """The param groups' lrs after each of ``updates`` updates."""
    seen = []
    for x, y in batches(updates * sche.accum_grad):
        report = sche.step(loss_of(model, x, y))
        if report.updated:
            seen.append(lrs_of(sche.optimizer))
            assert report.lr == sche.get_lr() == seen[-1][0]  # the first group's lr
    return seen


def test_a_head_at_ten_times_the_backbone_stays_at_ten_times() -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (1e-3, 1e-2, 1e-2)), schedule=COSINE
    )
    for k, lrs in enumerate(run(sche, model, 8), start=1):
        assert lrs[0] == COSINE(k)  # the reference group gets the schedule's value exactly
        assert lrs[1] == pytest.approx(10 * COSINE(k), rel=1e-15)
        assert lrs[2] == lrs[1]


def test_a_frozen_group_at_zero_stays_at_zero_even_first() -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (0.0, 2e-3, 4e-3)), schedule=COSINE
    )
    for k, lrs in enumerate(run(sche, model, 5), start=1):
        assert lrs[0] == 0.0  # the first group is frozen: it stays at 0 ...
        assert lrs[1] == COSINE(k)  # ... and the reference is the first non-zero group
        assert lrs[2] == pytest.approx(2 * COSINE(k), rel=1e-15)
    assert sche.get_lr() == 0.0  # get_lr is what the first group got


def test_when_every_group_starts_at_zero_every_group_follows_the_schedule() -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (0.0, 0.0, 0.0)), schedule=COSINE
    )
    for k, lrs in enumerate(run(sche, model, 4), start=1):
        assert lrs == [COSINE(k)] * 3


def test_lr_scale_sets_a_groups_factor_instead_of_its_ratio() -> None:
    model = EncoderTwoHeads()
    optimizer = three_groups(model, (1e-3, 1e-2, 5e-3), **{"2": {"lr_scale": 0.5}})
    sche = OptimScheduler(model=model, optimizer=optimizer, schedule=COSINE, ft_factor=0.5)
    for k, lrs in enumerate(run(sche, model, 4), start=1):
        base = 0.5 * COSINE(k)
        assert lrs == [base, pytest.approx(10 * base, rel=1e-15), 0.5 * base]


def test_one_schedule_per_group() -> None:
    model = EncoderTwoHeads()
    per_group: list[Callable[[int], float]] = [
        COSINE,
        functools.partial(schedules.constant, value=3e-3),
        lambda s: 1e-3 / s,
    ]
    sche = OptimScheduler(
        model=model,
        optimizer=three_groups(model, (1.0, 1.0, 1.0), **{"2": {"lr_scale": 2.0}}),
        schedule=per_group,
        ft_factor=0.5,
    )
    for k, lrs in enumerate(run(sche, model, 4), start=1):
        assert lrs == [0.5 * COSINE(k), 0.5 * 3e-3, 2.0 * (0.5 * (1e-3 / k))]


def test_a_schedule_count_that_differs_from_the_groups_is_refused() -> None:
    model = EncoderTwoHeads()
    optimizer = three_groups(model, (1e-3, 1e-2, 1e-2))
    before = optimizer.state_dict()
    message = r"schedule: 'lr' has 2 schedule\(s\) but the optimizer has 3"
    with pytest.raises(ValueError, match=message):
        OptimScheduler(model=model, optimizer=optimizer, schedule=[COSINE, COSINE])
    assert optimizer.state_dict() == before
    with pytest.raises(ValueError, match="the schedule of param group 1 must be a callable"):
        OptimScheduler(model=model, optimizer=optimizer, schedule=[COSINE, 0.1, COSINE])


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "2", True])
def test_a_bad_lr_scale_is_named_and_changes_nothing(bad: object) -> None:
    model = EncoderTwoHeads()
    optimizer = three_groups(model, (1e-3, 1e-2, 1e-2), **{"1": {"lr_scale": bad}})  # type: ignore[dict-item]
    before = [dict(g, params=None) for g in optimizer.param_groups]
    with pytest.raises(ValueError, match=re.escape("lr: param group 1: lr_scale must be")):
        OptimScheduler(model=model, optimizer=optimizer, schedule=COSINE, ft_factor=2.0)
    assert [dict(g, params=None) for g in optimizer.param_groups] == before


def test_resume_keeps_the_ratios_of_the_saved_run() -> None:
    """Save after 3 updates; resume in a shell built around an optimizer that already loaded
    the saved state (its lrs are the scheduled ones, not the initial ones) and one built fresh:
    both continue exactly like the uninterrupted run."""
    warmup = functools.partial(schedules.linear, start=0.0, end=1e-2, steps=6)  # 0 at step 0
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (1e-3, 1e-2, 0.0)), schedule=warmup
    )
    data = batches(6)
    for x, y in data[:3]:
        sche.step(loss_of(model, x, y))
    saved = copy.deepcopy(sche.state_dict())  # its tensors are live references
    saved_model = {k: v.clone() for k, v in model.state_dict().items()}
    reference = [lrs_of(sche.optimizer)]
    for x, y in data[3:]:
        sche.step(loss_of(model, x, y))
        reference.append(lrs_of(sche.optimizer))

    for preloaded in (False, True):
        resumed = EncoderTwoHeads()
        resumed.load_state_dict(saved_model)
        optimizer = three_groups(resumed, (1e-3, 1e-2, 0.0))
        if preloaded:  # the wrong ratios: all three groups now hold other values
            for group in optimizer.param_groups:
                group["lr"] = 0.0
        shell = OptimScheduler(model=resumed, optimizer=optimizer, schedule=warmup)
        shell.load_state_dict(copy.deepcopy(saved))  # loading shares its tensors
        seen = [lrs_of(shell.optimizer)]
        for x, y in data[3:]:
            shell.step(loss_of(resumed, x, y))
            seen.append(lrs_of(shell.optimizer))
        assert seen == reference
        for p, q in zip(resumed.parameters(), model.parameters(), strict=True):
            assert torch.equal(p, q)


def test_a_checkpoint_without_group_factors_keeps_the_shells_own() -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (1e-3, 1e-2, 1e-2)), schedule=COSINE
    )
    x, y = batches(1)[0]
    sche.step(loss_of(model, x, y))
    saved = sche.state_dict()
    assert saved["group_factors"] == {"lr": [1.0, pytest.approx(10.0), pytest.approx(10.0)]}
    del saved["group_factors"]  # a checkpoint written before group factors existed
    sche.load_state_dict(saved)
    assert run(sche, model, 1)[0][1] == pytest.approx(10 * COSINE(2), rel=1e-15)


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ({"lr": [1.0, 2.0]}, r"group_factors\['lr'\] has 2 factor\(s\), this optimizer has 3"),
        ({"lr": [1.0, -2.0, 1.0]}, r"group_factors\['lr'\]\[1\] must be >= 0, got -2.0"),
        ({"lr": "1"}, r"group_factors\['lr'\] must be a list of factors"),
    ],
)
def test_a_checkpoint_with_bad_group_factors_is_refused_and_changes_nothing(
    factors: dict[str, object], message: str
) -> None:
    model = EncoderTwoHeads()
    sche = OptimScheduler(
        model=model, optimizer=three_groups(model, (1e-3, 1e-2, 1e-2)), schedule=COSINE
    )
    x, y = batches(1)[0]
    sche.step(loss_of(model, x, y))
    saved = sche.state_dict()
    saved["group_factors"] = factors
    before = (sche.optimizer.state_dict(), sche.step_num, lrs_of(sche.optimizer))
    for group in sche.optimizer.param_groups:  # differ from the checkpoint's
        group["lr"] = 5.0
    before = (sche.optimizer.state_dict(), sche.step_num, lrs_of(sche.optimizer))
    with pytest.raises(ValueError, match=message):
        sche.load_state_dict(saved)
    assert (sche.optimizer.state_dict(), sche.step_num, lrs_of(sche.optimizer)) == before


def test_noam_without_d_model_peaks_at_the_reference_groups_lr() -> None:
    model = EncoderTwoHeads()
    sche = NoamLr(model=model, optimizer=three_groups(model, (0.0, 1e-3, 4e-3)), warmup_steps=3)
    lrs = run(sche, model, 3)[-1]  # the peak, at warmup_steps
    assert lrs == [0.0, pytest.approx(1e-3, rel=1e-12), pytest.approx(4e-3, rel=1e-12)]


def test_exponent_decay_starts_from_the_reference_groups_lr() -> None:
    """ExponentDecayLr decays per epoch (SpeeChain's meaning) from the reference group's lr."""
    model = EncoderTwoHeads()
    sche = ExponentDecayLr(
        model=model, optimizer=three_groups(model, (0.0, 1e-3, 4e-3)), decay_factor=0.5
    )
    seen = []
    for epoch, (x, y) in enumerate(batches(3), start=1):
        sche.step(loss_of(model, x, y), epoch_num=epoch)
        seen.append(lrs_of(sche.optimizer))
    assert seen == [
        [0.0, 1e-3, pytest.approx(4e-3, rel=1e-15)],
        [0.0, 5e-4, pytest.approx(2e-3, rel=1e-15)],
        [0.0, 2.5e-4, pytest.approx(1e-3, rel=1e-15)],
    ]


def test_speechains_single_group_is_unchanged() -> None:
    model = EncoderTwoHeads()
    sche = NoamLr("Adam", {"lr": 1e-3}, model, warmup_steps=4)
    assert [lrs[0] for lrs in run(sche, model, 4)] == [
        pytest.approx(1e-3 * math.sqrt(4) * min(r**-0.5, r * 4**-1.5), rel=1e-15)
        for r in range(1, 5)
    ]


class TestAsLrScheduler:
    """The same rule in the torch LRScheduler adapter."""

    def test_ratios_zero_groups_and_lr_scale(self) -> None:
        model = EncoderTwoHeads()
        optimizer = three_groups(model, (0.0, 1e-3, 1e-2), **{"2": {"lr_scale": 3.0}})
        scheduler = as_lr_scheduler(optimizer, COSINE)
        for k in range(1, 5):
            assert lrs_of(optimizer) == [0.0, COSINE(k), 3.0 * COSINE(k)]
            optimizer.step()
            scheduler.step()

    def test_a_list_of_schedules_and_a_count_mismatch(self) -> None:
        model = EncoderTwoHeads()
        optimizer = three_groups(model, (1.0, 1.0, 1.0))
        per_group = [COSINE, lambda s: 1e-3 * s, functools.partial(schedules.constant, value=0.5)]
        scheduler = as_lr_scheduler(optimizer, per_group)
        for k in range(1, 4):
            assert lrs_of(optimizer) == [COSINE(k), 1e-3 * k, 0.5]
            optimizer.step()
            scheduler.step()
        with pytest.raises(ValueError, match=r"has 1 schedule\(s\) but the optimizer has 3"):
            as_lr_scheduler(three_groups(model, (1.0, 1.0, 1.0)), [COSINE])

    def test_resume_derives_the_ratios_from_the_saved_base_lrs(self) -> None:
        model = EncoderTwoHeads()
        optimizer = three_groups(model, (1e-3, 1e-2, 0.0))
        scheduler = as_lr_scheduler(optimizer, COSINE)
        for _ in range(3):
            optimizer.step()
            scheduler.step()
        saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
        expected = []
        for _ in range(3):
            optimizer.step()
            scheduler.step()
            expected.append(lrs_of(optimizer))
        # resume: a fresh optimizer whose lrs all differ, loaded, then a fresh scheduler
        other = three_groups(EncoderTwoHeads(), (7.0, 7.0, 7.0))
        other.load_state_dict(saved_optimizer)  # brings initial_lr (torch's base_lrs) along
        resumed = as_lr_scheduler(other, COSINE)
        resumed.load_state_dict(saved_scheduler)
        seen = []
        for _ in range(3):
            other.step()
            resumed.step()
            seen.append(lrs_of(other))
        assert seen == expected

    def test_a_bad_value_changes_nothing(self) -> None:
        model = EncoderTwoHeads()
        optimizer = three_groups(model, (1e-3, 1e-2, 0.0))
        scheduler = as_lr_scheduler(optimizer, lambda s: 1e-3 if s < 3 else -1.0)
        optimizer.step()
        scheduler.step()
        before = (scheduler.last_epoch, lrs_of(optimizer), scheduler.get_last_lr())
        with pytest.raises(ValueError, match=r"lr: the schedule .* gave -1 at step 3"):
            scheduler.step()
        assert (scheduler.last_epoch, lrs_of(optimizer), scheduler.get_last_lr()) == before
