"""Pointwise combinators pass a Time through to their children; step-arithmetic combinators
refuse clock-bound children, naming the clock."""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import given, settings

import schedules
from schedules import (
    Time,
    accumulate,
    add,
    at_time,
    bind,
    clamp,
    clocks_of,
    cosine,
    exponential,
    join,
    linear,
    multiply,
    offset,
    on,
    scale,
    shift,
    stretch,
)
from schedules.testing import clock_bound_schedules, combined_schedules, times

COS = bind(cosine, peak=1.0, steps=100)
HALVING = bind(exponential, start=1.0, rate=0.5, steps=1)
TWO_CLOCKS = multiply(on("update", COS), on("epoch", HALVING))


def test_two_clock_product_reads_each_clock() -> None:
    time = Time(update=50, epoch=3)
    assert TWO_CLOCKS.clocks == {"update", "epoch"}
    assert TWO_CLOCKS(time) == COS(50) * HALVING(3)
    assert at_time(TWO_CLOCKS, time) == COS(50) * HALVING(3)
    # the shell's own clock does not matter to bound factors
    assert at_time(TWO_CLOCKS, Time(update=50, epoch=3, clock="epoch")) == COS(50) * HALVING(3)


def test_two_clock_product_is_printable_picklable_comparable() -> None:
    text = repr(TWO_CLOCKS)
    assert text == (
        "multiply(on('update', bind(cosine, peak=1.0, steps=100)), "
        "on('epoch', bind(exponential, start=1.0, rate=0.5, steps=1)))"
    )
    rebuilt = eval(text, vars(schedules))
    assert rebuilt == TWO_CLOCKS and hash(rebuilt) == hash(TWO_CLOCKS)
    copy = pickle.loads(pickle.dumps(TWO_CLOCKS))
    assert copy == TWO_CLOCKS and copy.clocks == TWO_CLOCKS.clocks
    assert copy(Time(update=7, epoch=2)) == TWO_CLOCKS(Time(update=7, epoch=2))
    assert multiply(on("update", COS), on("epoch", COS)) != TWO_CLOCKS


def test_plain_children_read_the_time_clock() -> None:
    mixed = add(on("epoch", HALVING), COS)
    assert mixed.clocks == {"epoch"}
    assert mixed(Time(update=20, epoch=2)) == HALVING(2) + COS(20)
    assert mixed(Time(update=20, epoch=2, items=80, clock="items")) == HALVING(2) + COS(80)


@pytest.mark.parametrize(
    "build",
    [
        lambda f: scale(f, 2.0),
        lambda f: clamp(f, min=0.1, max=0.4),
        lambda f: offset(f, -0.25),
        lambda f: add(f),
        lambda f: multiply(f),
    ],
)
def test_one_child_pointwise_combinators_pass_the_time(build: object) -> None:
    bound, plain = build(on("epoch", HALVING)), build(HALVING)  # type: ignore[operator]
    assert bound.clocks == {"epoch"} and plain.clocks == frozenset()
    assert clocks_of(plain) == frozenset()
    for epoch in (0, 1, 2, 5):
        assert bound(Time(update=999, epoch=epoch)) == plain(epoch)
    # a direct call with a number gives the bound child that number
    assert bound(3) == plain(3)


def test_tensor_times_give_tensors() -> None:
    time = Time(update=torch.arange(0, 200, 10), epoch=torch.arange(0, 20))
    got = TWO_CLOCKS(time)
    want = torch.tensor(
        [COS(u) * HALVING(e) for u, e in zip(range(0, 200, 10), range(20), strict=True)]
    )
    torch.testing.assert_close(got, want.to(got.dtype))


def test_two_clock_product_compiles_and_vmaps() -> None:
    updates = torch.arange(0, 300, dtype=torch.float64)
    epochs = torch.floor(updates / 30)

    def lr(time: Time) -> torch.Tensor:
        return TWO_CLOCKS(time)  # type: ignore[no-any-return]

    time = Time(update=updates, epoch=epochs)
    eager = lr(time)
    torch.testing.assert_close(torch.compile(lr, fullgraph=True)(time), eager)

    def by_columns(update: torch.Tensor, epoch: torch.Tensor) -> torch.Tensor:
        return lr(Time(update=update, epoch=epoch))

    torch.testing.assert_close(torch.func.vmap(by_columns)(updates, epochs), eager)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda f: shift(f, 3), "shift"),
        (lambda f: stretch(f, 2.0), "stretch"),
        (lambda f: accumulate(f, 2), "accumulate"),
        (lambda f: schedules.lr_noise(f, start=10), "lr_noise"),
        (lambda f: join([f, COS], [10]), "join"),
        (lambda f: join([COS, f], [10], relative=False), "join"),
    ],
)
def test_step_arithmetic_refuses_clock_bound_children(build: object, name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: .*'epoch' clock.*on\('epoch', {name}\("):
        build(on("epoch", HALVING))  # type: ignore[operator]
    with pytest.raises(ValueError, match="'epoch' and 'update' clocks"):
        build(TWO_CLOCKS)  # type: ignore[operator]


def test_step_arithmetic_bound_as_a_whole_works() -> None:
    delayed = on("epoch", shift(HALVING, 2))
    assert delayed(Time(update=1, epoch=5)) == HALVING(3)
    product = multiply(COS, delayed)
    assert product(Time(update=4, epoch=2)) == COS(4) * HALVING(0)


def test_on_refuses_a_schedule_of_another_clock() -> None:
    with pytest.raises(ValueError, match="already reads the clocks"):
        on("update", TWO_CLOCKS)
    with pytest.raises(ValueError, match="did you mean 'epoch'"):
        on("epoc", COS)


def test_eden_compiles_and_vmaps() -> None:
    eden = schedules.eden(100, 2.0, warmup_batches=20)
    updates = torch.arange(0, 400, dtype=torch.float64)
    time = Time(update=updates, epoch=torch.floor(updates / 50) + 1)
    eager = eden(time)
    compiled = torch.compile(lambda t: eden(t), fullgraph=True)(time)
    torch.testing.assert_close(compiled, eager)
    vmapped = torch.func.vmap(lambda u, e: eden(Time(update=u, epoch=e)))(time.update, time.epoch)
    torch.testing.assert_close(vmapped, eager)


def test_untracked_clock_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'epoch' clock, which is not tracked"):
        TWO_CLOCKS(Time(update=5))


@settings(max_examples=60, deadline=None)
@given(f=clock_bound_schedules(), g=clock_bound_schedules(), h=combined_schedules(), t=times())
def test_pointwise_combinators_evaluate_each_child_at_the_time(
    f: object, g: object, h: object, t: Time
) -> None:
    parts = [at_time(f, t), at_time(g, t), at_time(h, t)]
    assert multiply(f, g, h).clocks == clocks_of(f) | clocks_of(g)  # type: ignore[arg-type]
    assert multiply(f, g, h)(t) == pytest.approx(parts[0] * parts[1] * parts[2], rel=1e-12)  # type: ignore[arg-type]
    assert add(f, g, h)(t) == pytest.approx(sum(parts), rel=1e-12, abs=1e-300)  # type: ignore[arg-type]
    assert offset(f, 0.5)(t) == pytest.approx(parts[0] + 0.5, rel=1e-12)  # type: ignore[arg-type]
    assert scale(g, 3.0)(t) == pytest.approx(3.0 * parts[1], rel=1e-12)  # type: ignore[arg-type]


def test_a_plain_product_is_unchanged_by_clocks() -> None:
    f = bind(linear, start=1.0, end=0.0, steps=10)
    plain = multiply(f, COS)
    assert plain.clocks == frozenset()
    assert at_time(plain, Time(update=4)) == plain(4) == f(4) * COS(4)
