"""as_lr_scheduler: a pure schedule as a torch LRScheduler (the contract Lightning and
transformers rely on)."""

from __future__ import annotations

import functools
import io
import math
import re
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

import schedules
from optimsche.lr_scheduler_adapter import ScheduleLR, as_lr_scheduler


def _optimizer(lr: float | torch.Tensor = 1.0, groups: int = 1) -> torch.optim.SGD:
    params = [{"params": [torch.zeros(2, requires_grad=True)]} for _ in range(groups)]
    return torch.optim.SGD(params, lr=lr)


def _update(optimizer: torch.optim.Optimizer) -> None:
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = torch.ones_like(p)
    optimizer.step()


NOAM = functools.partial(schedules.noam, d_model=64, warmup=5)


def test_is_a_torch_lr_scheduler() -> None:
    scheduler = as_lr_scheduler(_optimizer(), NOAM)
    assert isinstance(scheduler, LRScheduler)
    assert isinstance(scheduler, ScheduleLR)
    assert scheduler.last_epoch == 0


@settings(max_examples=40, deadline=None)
@given(
    accum_grad=st.integers(1, 4),
    ft_factor=st.floats(0.01, 10.0),
    calls=st.integers(0, 30),
)
def test_lr_after_n_calls_is_the_schedule_at_the_next_micro_steps_window(
    accum_grad: int, ft_factor: float, calls: int
) -> None:
    optimizer = _optimizer()
    scheduler = as_lr_scheduler(optimizer, NOAM, accum_grad=accum_grad, ft_factor=ft_factor)
    for _ in range(calls):
        _update(optimizer)
        scheduler.step()
    expected = ft_factor * NOAM((calls // accum_grad) + 1)
    assert scheduler.last_epoch == calls
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12)
    assert scheduler.get_last_lr() == [optimizer.param_groups[0]["lr"]]


def test_kth_update_uses_schedule_of_k_one_based() -> None:
    optimizer = _optimizer()
    scheduler = as_lr_scheduler(optimizer, NOAM)
    used = []
    for _ in range(10):
        used.append(optimizer.param_groups[0]["lr"])
        _update(optimizer)
        scheduler.step()
    assert used == pytest.approx([NOAM(k) for k in range(1, 11)], rel=1e-12)
    assert used[0] > 0.0  # Noam's first update is not wasted on lr 0


def test_every_micro_step_of_a_window_sees_the_same_lr() -> None:
    optimizer = _optimizer()
    scheduler = as_lr_scheduler(optimizer, NOAM, accum_grad=3)
    seen = []
    for _ in range(9):
        seen.append(optimizer.param_groups[0]["lr"])
        _update(optimizer)
        scheduler.step()
    assert seen[0:3] == [NOAM(1)] * 3
    assert seen[3:6] == [NOAM(2)] * 3
    assert seen[6:9] == [NOAM(3)] * 3


def test_shifting_by_one_reproduces_torch_cosine_annealing() -> None:
    """torch's schedulers give their k-th update f(k - 1): the documented wrap matches."""
    steps = 12
    ours_opt, torch_opt = _optimizer(0.1), _optimizer(0.1)
    cosine = functools.partial(schedules.cosine, peak=0.1, steps=steps)
    ours = as_lr_scheduler(ours_opt, lambda s: cosine(s - 1))
    reference = CosineAnnealingLR(torch_opt, T_max=steps)
    for _ in range(steps + 1):
        assert ours.get_last_lr() == pytest.approx(reference.get_last_lr(), rel=1e-12, abs=1e-15)
        for opt, sched in ((ours_opt, ours), (torch_opt, reference)):
            _update(opt)
            sched.step()


def test_lr_scale_multiplies_each_group() -> None:
    optimizer = _optimizer(groups=2)
    optimizer.param_groups[1]["lr_scale"] = 0.25
    scheduler = as_lr_scheduler(optimizer, NOAM, ft_factor=0.5)
    _update(optimizer)
    scheduler.step()
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs == pytest.approx([0.5 * NOAM(2), 0.125 * NOAM(2)], rel=1e-12)
    assert scheduler.get_last_lr() == lrs


def test_tensor_lr_stays_the_same_tensor_filled_in_place() -> None:
    optimizer = _optimizer(lr=torch.tensor(0.5))
    lr_tensor = optimizer.param_groups[0]["lr"]
    scheduler = as_lr_scheduler(optimizer, NOAM)
    for k in range(1, 4):
        assert optimizer.param_groups[0]["lr"] is lr_tensor
        assert lr_tensor.item() == pytest.approx(NOAM(k), rel=1e-6)
        _update(optimizer)
        scheduler.step()
    last = scheduler.get_last_lr()[0]
    assert isinstance(last, torch.Tensor)
    assert last is not lr_tensor  # a copy, as torch promises


def test_no_warning_in_normal_use_and_torchs_order_check_still_works() -> None:
    optimizer = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler = as_lr_scheduler(optimizer, NOAM)
        for _ in range(3):
            _update(optimizer)
            scheduler.step()
            scheduler.get_last_lr()
    wrong_order = as_lr_scheduler(_optimizer(), NOAM)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        wrong_order.step()


def test_state_dict_holds_counters_only_and_loads_weights_only() -> None:
    optimizer = _optimizer()
    scheduler = as_lr_scheduler(optimizer, lambda s: 0.1 / (1 + s), accum_grad=2)
    for _ in range(5):
        _update(optimizer)
        scheduler.step()
    state = scheduler.state_dict()
    assert set(state) == {
        "last_epoch",
        "_step_count",
        "base_lrs",
        "_last_lr",
        "accum_grad",
        "count_from",
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert loaded == state


@settings(max_examples=25, deadline=None)
@given(accum_grad=st.integers(1, 3), stop_at=st.integers(0, 12))
def test_resume_continues_exactly_like_an_uninterrupted_run(accum_grad: int, stop_at: int) -> None:
    schedule = functools.partial(schedules.warmup_cosine, peak=0.3, warmup=3, steps=10)
    total = 15

    def run(resume_at: int | None) -> list[float]:
        optimizer = _optimizer()
        scheduler = as_lr_scheduler(optimizer, schedule, accum_grad=accum_grad)
        lrs = []
        for n in range(total):
            if n == resume_at:
                opt_state, sched_state = optimizer.state_dict(), scheduler.state_dict()
                optimizer = _optimizer(lr=123.0)
                scheduler = as_lr_scheduler(optimizer, schedule, accum_grad=accum_grad)
                scheduler.load_state_dict(sched_state)
                # the scheduler alone restores the lr, before the optimizer is loaded
                assert optimizer.param_groups[0]["lr"] == opt_state["param_groups"][0]["lr"]
                optimizer.load_state_dict(opt_state)
            lrs.append(optimizer.param_groups[0]["lr"])
            _update(optimizer)
            scheduler.step()
        return lrs

    assert run(stop_at) == run(None)


def test_load_refuses_other_accum_grad_and_foreign_state() -> None:
    source = as_lr_scheduler(_optimizer(), NOAM, accum_grad=2)
    target = as_lr_scheduler(_optimizer(), NOAM, accum_grad=4)
    with pytest.raises(ValueError, match=r"accum_grad=2 .* accum_grad=4"):
        target.load_state_dict(source.state_dict())
    with pytest.raises(ValueError, match=r"missing .*accum_grad"):
        target.load_state_dict({"last_epoch": 3})


def test_deprecated_step_with_epoch_uses_the_closed_form() -> None:
    optimizer = _optimizer()
    scheduler = as_lr_scheduler(optimizer, NOAM)
    with pytest.warns(UserWarning):
        scheduler.step(7)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(NOAM(8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accum_grad": 0}, "accum_grad must be a positive integer, got 0"),
        ({"accum_grad": True}, "accum_grad must be a positive integer"),
        ({"ft_factor": 0.0}, "ft_factor must be > 0, got 0.0"),
        ({"ft_factor": math.inf}, "ft_factor must be finite, got inf"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        as_lr_scheduler(_optimizer(), NOAM, **kwargs)  # type: ignore[arg-type]


def test_schedule_must_be_callable_and_finite() -> None:
    with pytest.raises(TypeError, match="schedule must be a callable"):
        as_lr_scheduler(_optimizer(), 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lr: the schedule .*<lambda> gave nan at step 1"):
        as_lr_scheduler(_optimizer(), lambda s: math.nan)
    with pytest.raises(ValueError, match=r"lr: the schedule .*<lambda> gave -0.1 at step 1"):
        as_lr_scheduler(_optimizer(), lambda s: -0.1)
    with pytest.raises(ValueError, match="gave NoneType None at step 1"):
        as_lr_scheduler(_optimizer(), lambda s: None)


def test_a_refused_step_changes_nothing() -> None:
    def spiky(step: float) -> float:
        return math.nan if step == 3 else 0.1 * step

    optimizer = _optimizer()
    scheduler = as_lr_scheduler(optimizer, spiky)
    optimizer.step()
    scheduler.step()  # lr for real step 2
    before = (scheduler.last_epoch, scheduler._step_count, scheduler.get_last_lr())
    lrs = [g["lr"] for g in optimizer.param_groups]
    state = scheduler.state_dict()
    with pytest.raises(ValueError, match="gave nan at step 3"):
        scheduler.step()
    assert (scheduler.last_epoch, scheduler._step_count, scheduler.get_last_lr()) == before
    assert [g["lr"] for g in optimizer.param_groups] == lrs
    assert scheduler.state_dict() == state
