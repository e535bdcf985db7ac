"""The clock of the schedules: the real step, the epoch, or the items seen (over all ranks)."""

from __future__ import annotations

import functools
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import batches, mse, tiny_mlp
from shell_snapshot import assert_unchanged, snapshot

import schedules
from optimsche import OptimScheduler


def _record(t: float, seen: list[float], value: float = 0.1) -> float:
    seen.append(t)
    return value


def test_update_clock_is_the_real_step() -> None:
    seen: list[float] = []
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 1.0}, model, accum_grad=2, schedule=functools.partial(_record, seen=seen)
    )
    for x, y in batches(6):
        sche.step(mse(model, x, y), epoch_num=7)
    assert sche.clock == "update" and seen == [1, 2, 3]


@settings(max_examples=20, deadline=None)
@given(
    epochs=st.lists(st.floats(1.0, 50.0, allow_nan=False), min_size=1, max_size=9).map(sorted),
    accum_grad=st.integers(1, 3),
)
def test_epoch_clock_sees_the_epoch_of_the_updating_micro_step(
    epochs: list[float], accum_grad: int
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD",
        {"lr": 1.0},
        model,
        accum_grad=accum_grad,
        clock="epoch",
        schedule=functools.partial(schedules.exponential, start=0.3, rate=0.5, steps=1, begin=1),
    )
    for n, (epoch, (x, y)) in enumerate(zip(epochs, batches(len(epochs)), strict=True), start=1):
        report = sche.step(mse(model, x, y), epoch_num=epoch)
        assert report.updated == (n % accum_grad == 0)
        if report.updated:
            assert report.lr == 0.3 * 0.5 ** (epoch - 1)
            assert sche.optimizer.param_groups[0]["lr"] == report.lr


def test_epoch_clock_takes_int_epochs_as_ints() -> None:
    seen: list[float] = []
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 1.0}, model, clock="epoch", schedule=functools.partial(_record, seen=seen)
    )
    for epoch, (x, y) in zip((1, 1, 2, 5), batches(4), strict=True):
        sche.step(mse(model, x, y), epoch_num=epoch)
    assert seen == [1, 1, 2, 5] and all(type(t) is int for t in seen)


@pytest.mark.parametrize("use_amp", [False, "fp16"])
def test_items_clock_sees_the_items_up_to_and_including_the_window(use_amp: bool | str) -> None:
    seen: list[float] = []
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD",
        {"lr": 1.0},
        model,
        accum_grad=2,
        use_amp=use_amp,
        clock="items",
        schedule=functools.partial(_record, seen=seen),
    )
    items = [3, 5, 1, 4, 2, 7]
    for count, (x, y) in zip(items, batches(6, size=8), strict=True):
        with sche.autocast():
            loss = (model(x[:count]) - y[:count]).float().pow(2).sum()
        sche.step(loss, num_items=torch.tensor(count))
    assert seen == [8, 13, 22] and all(type(t) is int for t in seen)
    assert sche.items_seen == 22


def test_items_clock_counts_skipped_windows_too() -> None:
    seen: list[float] = []
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 1.0}, model, clock="items", schedule=functools.partial(_record, seen=seen)
    )
    data = batches(3)
    sche.step(mse(model, *data[0]) * math.nan, num_items=4)
    sche.step(mse(model, *data[1]), num_items=6)
    assert seen == [4, 10] and sche.items_seen == 10


def test_items_clock_with_float_items_keeps_floats() -> None:
    seen: list[float] = []
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 1.0}, model, clock="items", schedule=functools.partial(_record, seen=seen)
    )
    for x, y in batches(2):
        sche.step(mse(model, x, y) * 2.5, num_items=torch.tensor(2.5))
    assert seen == [2.5, 5.0] and sche.items_seen == 5.0


def test_items_seen_and_epoch_go_into_the_checkpoint() -> None:
    def build(model: torch.nn.Module) -> OptimScheduler:
        return OptimScheduler(
            "SGD",
            {"lr": 1.0},
            model,
            accum_grad=2,
            clock="items",
            schedule=lambda t: 1.0 / (1.0 + t),
        )

    model = tiny_mlp()
    sche = build(model)
    data = batches(8)
    for n, (x, y) in enumerate(data[:4], start=1):
        sche.step(mse(model, x, y), epoch_num=1 + n // 3, num_items=n)
    buffer = io.BytesIO()
    torch.save(sche.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["clock"] == {"items_seen": 10, "epoch_num": 2}
    resumed = build(tiny_mlp())
    resumed.load_state_dict(state)
    assert resumed.items_seen == 10
    with pytest.raises(ValueError, match="epoch_num must not go backwards"):
        resumed.step(mse(model, *data[4]), epoch_num=1, num_items=1)
    report = resumed.step(mse(model, *data[4]), epoch_num=2, num_items=5)
    resumed.step(mse(model, *data[5]), epoch_num=2, num_items=6)
    assert resumed.items_seen == 21 and resumed.get_lr() == 1.0 / 22.0
    assert not report.updated


def test_a_checkpoint_without_the_clock_entry_loads_with_its_defaults() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 1.0}, model, clock="items")
    sche.step(mse(model, *batches(1)[0]), num_items=3, epoch_num=4)
    state = sche.state_dict()
    del state["clock"]
    sche.load_state_dict(state)
    assert sche.items_seen == 0
    sche.step(mse(model, *batches(1)[0]), num_items=3, epoch_num=1)  # no last epoch


# --- refusals: each a ValueError naming the argument, nothing changed --------------------------


def _half_window(**kwargs: object) -> tuple[OptimScheduler, torch.nn.Module]:
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        model,
        accum_grad=2,
        schedule=lambda t: 0.1 / t,
        **kwargs,  # type: ignore[arg-type]
    )
    for x, y in batches(3):
        sche.step(mse(model, x, y), epoch_num=2, num_items=4)
    return sche, model


@pytest.mark.parametrize(
    ("kwargs", "arguments", "message"),
    [
        ({"clock": "epoch"}, {"num_items": 4}, r"epoch_num is required: clock='epoch'"),
        ({"clock": "epoch"}, {"epoch_num": 1, "num_items": 4}, "epoch_num must not go backwards"),
        ({}, {"epoch_num": 1.5, "num_items": 4}, "epoch_num must not go backwards"),
        ({}, {"epoch_num": 0, "num_items": 4}, r"epoch_num must be >= 1 \(epochs are 1-based"),
        ({}, {"epoch_num": math.nan, "num_items": 4}, "epoch_num must be finite"),
        ({}, {"epoch_num": "2", "num_items": 4}, "epoch_num must be a number, got str"),
        ({"clock": "items"}, {"epoch_num": 2}, r"num_items is required: clock='items'"),
        ({}, {"epoch_num": 2, "num_items": 4, "logger": object()}, "logger must be a logging"),
    ],
)
def test_bad_clock_arguments_change_nothing(
    kwargs: dict[str, object], arguments: dict[str, object], message: str
) -> None:
    sche, model = _half_window(**kwargs)
    before = snapshot(sche)
    with pytest.raises(ValueError, match=message):
        sche.step(mse(model, *batches(4)[3]), **arguments)  # type: ignore[arg-type]
    assert_unchanged(sche, before)


def test_an_unknown_clock_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match=r"clock must be one of 'update', 'epoch', 'items', got 'epochs'"
    ):
        OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), clock="epochs")
