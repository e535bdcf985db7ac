"""icefall's Eden and Eden2 (schedules.eden): exact to the lr of every update of icefall's
training loop (vectors/eden/eden_icefall.json, see vectors/README.md), and checked on bad input."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import Time, at_time, eden, eden2, multiply, on, scale

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors" / "eden" / "eden_icefall.json").read_text()
)


def _schedule(case: dict[str, Any]) -> eden:
    kwargs = case["kwargs"]
    if case["name"] == "Eden2":
        return eden2(**kwargs)
    return eden(**kwargs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['kwargs']}")
def test_every_update_matches_icefall(case: dict[str, Any]) -> None:
    lr = scale(_schedule(case), case["base_lr"])
    for update, epoch, expected in case["updates"]:
        got = at_time(lr, Time(update=update, epoch=epoch))
        assert got == pytest.approx(expected, rel=1e-13), (update, epoch)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['kwargs']}")
def test_tensor_clocks_give_the_same_numbers(case: dict[str, Any]) -> None:
    rows = torch.tensor(case["updates"], dtype=torch.float64)
    time = Time(update=rows[:, 0].to(torch.int64), epoch=rows[:, 1].to(torch.int64))
    got = scale(_schedule(case), case["base_lr"])(time)
    torch.testing.assert_close(got, rows[:, 2], rtol=1e-12, atol=0.0)


def test_eden_is_a_schedule_of_two_clocks() -> None:
    two = eden(5000, 3.5)
    assert two.clocks == {"update", "epoch"} and eden2(5000).clocks == frozenset()
    with pytest.raises(ValueError, match="reads the 'update' and 'epoch' clocks"):
        two(10)
    with pytest.raises(ValueError, match="'epoch' clock, which is not tracked"):
        two(Time(update=10))
    assert eden2(100)(50) == pytest.approx((1 + 0.25) ** -0.5 * (0.5 + 0.5 * 50 / 500))


def test_first_epoch_sets_which_epoch_number_counts_as_none_completed() -> None:
    one_based, zero_based = eden(100, 2.0), eden(100, 2.0, first_epoch=0)
    for update, epoch in ((1, 1), (300, 2), (900, 5)):
        assert one_based(Time(update=update, epoch=epoch)) == zero_based(
            Time(update=update, epoch=epoch - 1)
        )


def test_it_composes_with_the_other_combinators() -> None:
    two = eden(5000, 3.5)
    product = multiply(two, on("update", schedules.bind(schedules.constant, value=2.0)))
    assert product.clocks == {"update", "epoch"}
    time = Time(update=123, epoch=2)
    assert product(time) == two(time) * 2.0


def test_repr_pickle_equality() -> None:
    two = eden(5000, 3.5, warmup_batches=0, first_epoch=0)
    assert repr(two) == "eden(lr_batches=5000, lr_epochs=3.5, warmup_batches=0, first_epoch=0)"
    assert eval(repr(two), vars(schedules)) == two
    assert pickle.loads(pickle.dumps(two)) == two and hash(two) == hash(
        eval(repr(two), vars(schedules))
    )
    assert repr(eden2(5000)) == "eden(lr_batches=5000, batch_exponent=0.5)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr_batches": 0}, "lr_batches must be > 0"),
        ({"lr_batches": 1e-200}, "lr_batches must be between 1e-150 and 1e150"),
        ({"lr_batches": 100, "lr_epochs": -1}, "lr_epochs must be > 0"),
        ({"lr_batches": 100, "lr_epochs": math.inf}, "lr_epochs must be finite"),
        ({"lr_batches": 100, "warmup_batches": -1}, "warmup_batches must be >= 0"),
        (
            {"lr_batches": 100, "warmup_start": 1.5},
            r"warmup_start must lie in the closed interval \[0, 1\]",
        ),
        ({"lr_batches": 100, "batch_exponent": -0.25}, "batch_exponent must be >= 0"),
        ({"lr_batches": 100, "first_epoch": "1"}, "first_epoch must be a number"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        eden(**kwargs)


@settings(max_examples=100, deadline=None)
@given(
    lr_batches=st.floats(1.0, 1e5),
    lr_epochs=st.floats(0.1, 100.0),
    warmup_batches=st.floats(0.0, 5000.0),
    warmup_start=st.floats(0.0, 1.0),
    exponents=st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 2.0)),
    b=st.integers(0, 10**9),
    e=st.integers(1, 1000),
)
def test_eden_is_a_factor_in_0_1_decaying_after_its_warmup(
    lr_batches: float,
    lr_epochs: float,
    warmup_batches: float,
    warmup_start: float,
    exponents: tuple[float, float],
    b: int,
    e: int,
) -> None:
    lr = eden(
        lr_batches,
        lr_epochs,
        warmup_batches=warmup_batches,
        warmup_start=warmup_start,
        batch_exponent=exponents[0],
        epoch_exponent=exponents[1],
    )
    value = lr(Time(update=b, epoch=e))
    assert 0.0 <= value <= 1.0
    assert lr(Time(update=b, epoch=e + 1)) <= value  # never rises with the epoch
    if b >= warmup_batches:
        assert lr(Time(update=b + 1, epoch=e)) <= value  # nor with the update, after warmup
