"""``as_lr_scheduler(..., count_from=0)``: a torch-style (0-based) formula ported in one word,
checked against torch's own ``LambdaLR`` on the same function."""

from __future__ import annotations

import functools
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche import as_lr_scheduler


def _optimizer(lrs: list[float]) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


SHAPES = [
    functools.partial(schedules.warmup_cosine, peak=1.0, warmup=3, steps=12),
    functools.partial(schedules.linear, start=1.0, end=0.1, steps=7),
    schedules.bind(schedules.exponential, start=1.0, rate=0.8, steps=1),
]


@pytest.mark.parametrize("shape", SHAPES, ids=repr)
def test_count_from_zero_is_torch_lambda_lr_in_every_group(shape: object) -> None:
    lrs = [0.1, 0.02, 0.0]
    ours_optimizer, torch_optimizer = _optimizer(lrs), _optimizer(lrs)
    scheduled = schedules.scale(shape, 0.1)  # type: ignore[arg-type]
    ours = as_lr_scheduler(ours_optimizer, scheduled, count_from=0)
    theirs = torch.optim.lr_scheduler.LambdaLR(torch_optimizer, shape)  # type: ignore[arg-type]
    for _ in range(20):
        for a, b in zip(ours_optimizer.param_groups, torch_optimizer.param_groups, strict=True):
            assert a["lr"] == pytest.approx(b["lr"], rel=1e-12, abs=0.0)
        ours_optimizer.step()
        torch_optimizer.step()
        ours.step()
        theirs.step()
    assert ours.last_epoch == theirs.last_epoch
    assert pickle.loads(pickle.dumps(scheduled)) == scheduled


@settings(max_examples=30, deadline=None)
@given(count_from=st.integers(0, 5), accum_grad=st.integers(1, 3), calls=st.integers(0, 12))
def test_the_first_update_sees_count_from(count_from: int, accum_grad: int, calls: int) -> None:
    seen: list[float] = []
    optimizer = _optimizer([1.0])
    scheduler = as_lr_scheduler(
        optimizer,
        schedules.bind(schedules.linear, start=0.0, end=100.0, steps=100),
        accum_grad=accum_grad,
        count_from=count_from,
    )
    seen.append(optimizer.param_groups[0]["lr"])
    for _ in range(calls):
        optimizer.step()
        scheduler.step()
    assert seen[0] == count_from
    assert optimizer.param_groups[0]["lr"] == pytest.approx(count_from + calls // accum_grad)


def test_resume_keeps_count_from_and_refuses_another() -> None:
    shape = schedules.bind(schedules.linear, start=1.0, end=0.0, steps=10)
    first = as_lr_scheduler(_optimizer([1.0]), shape, count_from=0)
    for _ in range(4):
        first.optimizer.step()
        first.step()
    state = first.state_dict()
    assert state["count_from"] == 0
    resumed_optimizer = _optimizer([1.0])
    resumed = as_lr_scheduler(resumed_optimizer, shape, count_from=0)
    resumed.load_state_dict(state)
    assert resumed_optimizer.param_groups[0]["lr"] == pytest.approx(shape(4))
    other_optimizer = _optimizer([1.0])
    other = as_lr_scheduler(other_optimizer, shape)
    with pytest.raises(
        ValueError, match="saved with count_from=0 but this scheduler has count_from=1"
    ):
        other.load_state_dict(state)
    assert other.last_epoch == 0 and other_optimizer.param_groups[0]["lr"] == shape(1)
    old = {key: value for key, value in state.items() if key != "count_from"}
    with pytest.raises(ValueError, match="saved with count_from=1"):  # older dicts meant 1
        resumed.load_state_dict(old)


@pytest.mark.parametrize("count_from", [-1, 0.5, True, "0"])
def test_a_bad_count_from_is_refused(count_from: object) -> None:
    optimizer = _optimizer([0.3])
    with pytest.raises(ValueError, match="count_from must be an int >= 0"):
        as_lr_scheduler(
            optimizer, schedules.bind(schedules.constant, value=1.0), count_from=count_from
        )  # type: ignore[arg-type]
    assert optimizer.param_groups[0]["lr"] == 0.3
