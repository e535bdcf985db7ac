"""add(f1, ..., fn)(s) = f1(s) + ... + fn(s); offset(f, c)(s) = f(s) + c."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import add, bind, constant, cosine, exponential, join, linear, offset, scale
from schedules.testing import assert_scalar_tensor_agree, combined_schedules

COS = bind(cosine, peak=1.0, steps=100)
LIN = bind(linear, start=0.0, end=1.0, steps=50)


@settings(max_examples=60, deadline=None)
@given(
    fs=st.lists(combined_schedules(max_steps=300, max_leaves=3), min_size=1, max_size=4),
    c=st.floats(-2.0, 2.0),
)
def test_sum_and_offset_are_pointwise(fs: list[object], c: float) -> None:
    total, moved = add(*fs), offset(fs[0], c)  # type: ignore[arg-type]
    for s in (0, 1, 37, 299, 300, 5000):
        values = [f(s) for f in fs]  # type: ignore[operator]
        expected = values[0]
        for v in values[1:]:
            expected = expected + v
        assert total(s) == expected or math.isnan(expected)
        assert moved(s) == values[0] + c or math.isnan(values[0])
    assert_scalar_tensor_agree(total, [0, 1, 37, 299, 300, 5000], rtol=1e-9, atol=1e-12)


def test_megatron_exponential_wsd_decay_is_an_offset() -> None:
    """Megatron's "exponential" WSD decay ``2 · 0.5^q - 1`` over q in [0, 1]: from 1 to 0."""
    halving = bind(exponential, start=1.0, rate=0.5, steps=100)
    decay = offset(scale(halving, 2.0), -1.0)
    for s in (0, 25, 50, 100):
        assert decay(s) == pytest.approx(2 * 0.5 ** (s / 100) - 1, rel=1e-12, abs=1e-15)
    assert decay(100) == pytest.approx(0.0, abs=1e-15)


def test_tensor_amount_broadcasts_and_sweeps() -> None:
    amounts = torch.tensor([0.0, 0.5, -0.25], dtype=torch.float64)
    got = offset(COS, amounts)(torch.tensor([10.0], dtype=torch.float64))
    torch.testing.assert_close(got, COS(10) + amounts)
    steps = torch.tensor([0.0, 10.0, 100.0], dtype=torch.float64)
    swept = torch.func.vmap(lambda a: offset(COS, a)(steps))(amounts)
    torch.testing.assert_close(swept, COS(steps)[None, :] + amounts[:, None])


def test_compile() -> None:
    both = add(COS, offset(LIN, -0.5))
    steps = torch.arange(0, 200, dtype=torch.int64)
    torch.testing.assert_close(torch.compile(both, fullgraph=True)(steps), both(steps))


def test_repr_pickle_equality() -> None:
    both = add(COS, offset(LIN, -0.5))
    assert repr(both) == (
        "add(bind(cosine, peak=1.0, steps=100), offset(schedule=bind(linear, start=0.0, "
        "end=1.0, steps=50), amount=-0.5))"
    )
    assert eval(repr(both), vars(schedules)) == both
    assert pickle.loads(pickle.dumps(both)) == both
    assert hash(add(COS)) == hash(add(COS)) and add(COS) != add(LIN)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: add(), "add needs at least one schedule"),
        (lambda: add([COS, LIN]), r"pass the schedules as separate arguments, add\(\*schedules\)"),
        (lambda: add(COS, 0.5), r"schedules\[1\] must be a schedule"),
        (lambda: offset(COS, math.inf), "amount must be finite"),
        (lambda: offset(COS, "1"), "amount must be a number"),
        (lambda: offset(COS, torch.tensor([1])), "floating-point Tensor"),
        (lambda: offset(constant, 1.0), None),  # a bare leaf function is callable: accepted
    ],
)
def test_bad_input_is_refused(build: object, message: str | None) -> None:
    if message is None:
        build()  # type: ignore[operator]
        return
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def _megatron_wsd_exponential(
    num_steps: int, *, init: float, peak: float, low: float, warmup: int, total: int, decay: int
) -> float:
    """Megatron-LM ``OptimizerParamScheduler.get_lr`` with ``lr_decay_style="WSD"`` and
    ``lr_wsd_decay_style="exponential"``, reimplemented from its source
    (megatron/core/optimizer_param_scheduler.py): linear warmup from ``init_lr`` while
    ``num_steps <= warmup``; ``min_lr`` past ``lr_decay_steps``; else ``min_lr + coeff ·
    (max_lr - min_lr)`` with ``coeff = 1`` until ``lr_decay_steps - wsd_decay_steps`` and
    ``2 · 0.5^ratio - 1`` after it."""
    if warmup > 0 and num_steps <= warmup:
        return init + (peak - init) * float(num_steps) / float(warmup)
    if num_steps > total:
        return low
    anneal_start = total - decay
    if num_steps <= anneal_start:
        coeff = 1.0
    else:
        ratio = float(num_steps - anneal_start) / float(decay)
        coeff = (2.0 * math.pow(0.5, ratio)) - 1.0
    return low + coeff * (peak - low)


@pytest.mark.parametrize(
    ("init", "peak", "low", "warmup", "total", "decay"),
    [(0.0, 3e-4, 3e-5, 100, 1000, 200), (1e-5, 1.0, 0.0, 10, 500, 480), (0.0, 0.1, 0.01, 0, 60, 7)],
)
def test_megatron_wsd_exponential_is_a_join_of_an_offset(
    init: float, peak: float, low: float, warmup: int, total: int, decay: int
) -> None:
    span = peak - low
    halving = bind(exponential, start=1.0, rate=0.5, steps=decay)
    decayed = offset(scale(halving, 2.0 * span), low - span)  # low + span·(2·0.5^q − 1)
    parts = [bind(constant, value=peak), decayed, bind(constant, value=low)]
    boundaries = [total - decay, total]
    if warmup:
        parts.insert(0, bind(linear, start=init, end=peak, steps=warmup))
        boundaries.insert(0, warmup)
    wsd = join(parts, boundaries)
    for s in range(0, total + 50):
        expected = _megatron_wsd_exponential(
            s, init=init, peak=peak, low=low, warmup=warmup, total=total, decay=decay
        )
        assert wsd(s) == pytest.approx(expected, rel=1e-12, abs=1e-15), s
