"""``count_from=0`` (0-based ports) and schedules bound to clocks (``schedules.on``)."""

from __future__ import annotations

import math
import pickle
from typing import Any

import attrs
import pytest
import torch
from shell_models import batches, mse, same_params, tiny_mlp
from shell_state import assert_same_state, shell_state

from optimsche import OptimScheduler
from schedules import Time, on
from schedules.time_record import clocks_of


def decay(t: float) -> float:
    """A 0-based formula: 0.1 at t = 0."""
    return 0.1 / (1.0 + t)


def test_the_kth_update_evaluates_at_k_minus_1_as_torch_lambda_lr() -> None:
    model, reference = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=decay, count_from=0, accum_grad=2)
    optimizer = torch.optim.SGD(reference.parameters(), lr=1.0)
    lambda_lr = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: decay(k))
    for n, (x, y) in enumerate(batches(8), start=1):
        report = sche.step(mse(model, x, y))
        (mse(reference, x, y) / 2).backward()
        if n % 2 == 0:
            assert report.lr == optimizer.param_groups[0]["lr"] == decay(n // 2 - 1)
            optimizer.step()
            optimizer.zero_grad()
            lambda_lr.step()
    assert same_params(model, reference)


def test_count_from_1_stays_the_default_and_other_values_are_refused() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=decay)
    x, y = batches(1)[0]
    assert sche.count_from == 1 and sche.step(mse(model, x, y)).lr == decay(1)
    for bad in (2, -1, True, 0.0, "0"):
        with pytest.raises(ValueError, match=r"count_from must be 0 .* or 1"):
            OptimScheduler("SGD", {"lr": 1.0}, model, count_from=bad)  # type: ignore[arg-type]


def test_epoch_clock_from_0_takes_epoch_0_as_given() -> None:
    model = tiny_mlp()
    x, y = batches(1)[0]
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=decay, clock="epoch", count_from=0)
    assert sche.step(mse(model, x, y), epoch_num=0).lr == decay(0)
    assert sche.step(mse(model, x, y), epoch_num=1).lr == decay(1)
    one_based = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=decay, clock="epoch")
    before = shell_state(one_based)
    with pytest.raises(ValueError, match="epoch_num must be >= 1"):
        one_based.step(mse(model, x, y), epoch_num=0)
    assert_same_state(before, shell_state(one_based))


def test_items_clock_from_0_sees_the_items_before_the_window() -> None:
    model = tiny_mlp()
    seen: list[float] = []

    def record(t: float) -> float:
        seen.append(t)
        return 0.1

    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=record, clock="items", count_from=0)
    one = OptimScheduler(
        "SGD", {"lr": 1.0}, tiny_mlp(), schedule=record, clock="items", count_from=1
    )
    for n, (x, y) in enumerate(batches(3), start=1):
        sche.step((model(x) - y).pow(2).sum(), num_items=n)
    for n, (x, y) in enumerate(batches(3), start=1):
        one.step((one.optimizer.param_groups[0]["params"][0].sum() * 0 + (x.sum() - y.sum())) ** 2,
                 num_items=n)  # fmt: skip
    assert seen == [0, 1, 3, 1, 3, 6]


def test_count_from_pickles_and_resumes() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=decay, count_from=0)
    data = batches(4)
    for x, y in data[:2]:
        sche.step(mse(model, x, y))
    copy = pickle.loads(pickle.dumps(sche))
    assert copy.count_from == 0 and copy.step_num == 2
    other = tiny_mlp()
    other.load_state_dict(model.state_dict())
    resumed = OptimScheduler("SGD", {"lr": 1.0}, other, schedule=decay, count_from=0)
    resumed.load_state_dict(sche.state_dict())
    for x, y in data[2:]:
        assert resumed.step(mse(other, x, y)).lr == sche.step(mse(model, x, y)).lr
    assert same_params(model, other)
    assert sche.get_lr() == decay(3)


def epoch_factor(epoch: float) -> float:
    return 0.5 ** (epoch - 1)


def update_factor(step: float) -> float:
    return 1.0 / math.sqrt(step)


@attrs.frozen
class _UpdateTimesEpoch:
    """A clock-aware schedule of two clocks (icefall's Eden's shape): reads a whole Time."""

    clocks: frozenset[str] = frozenset({"update", "epoch"})

    def __call__(self, time: Any) -> float:
        assert isinstance(time, Time)
        return update_factor(time.update) * epoch_factor(time.epoch)


def test_a_schedule_of_two_clocks_sees_the_update_and_the_epoch() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=_UpdateTimesEpoch(), accum_grad=2)
    assert sche.requires_epoch_num
    for n, (x, y) in enumerate(batches(8), start=1):
        epoch = (n - 1) // 4 + 1
        report = sche.step(mse(model, x, y), epoch_num=epoch)
        if report.updated:
            assert report.lr == update_factor(n // 2) * epoch_factor(epoch)


def test_multiply_of_on_update_and_on_epoch_is_driven_by_the_shell() -> None:
    from schedules import multiply

    eden = multiply(on("update", update_factor), on("epoch", epoch_factor))
    if not clocks_of(eden):
        pytest.skip("clock-aware combinators land with the schedule algebra (issue 18)")
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=eden)
    for n, (x, y) in enumerate(batches(4), start=1):
        epoch = (n - 1) // 2 + 1
        assert sche.step(mse(model, x, y), epoch_num=epoch).lr == pytest.approx(
            update_factor(n) * epoch_factor(epoch), rel=1e-15
        )


@pytest.mark.parametrize(("clock", "argument"), [("epoch", "epoch_num"), ("items", "num_items")])
def test_a_schedule_bound_to_an_untracked_clock_is_refused_naming_it(
    clock: str, argument: str
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, schedule=on(clock, decay))
    assert getattr(sche, f"requires_{argument}")
    before = shell_state(sche)
    with pytest.raises(ValueError, match=rf"{argument} is required: .* reads the '{clock}' clock"):
        sche.step(mse(model, *batches(1)[0]))
    assert_same_state(before, shell_state(sche))


def test_a_bound_hyperparameter_schedule_reads_its_clock() -> None:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 0.1, "momentum": 0.5}, model,
        hyperparameters={"momentum": on("epoch", lambda e: 0.9 - 0.1 * e)},
    )  # fmt: skip
    sche.step(mse(model, *batches(1)[0]), epoch_num=2)
    assert sche.optimizer.param_groups[0]["momentum"] == pytest.approx(0.7)
