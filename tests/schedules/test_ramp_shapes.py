"""The ramp shapes (``schedules.ramp_shapes``) and the hyperparameters that choose them:
``warmup(shape=...)``, ``warmup_stable_decay(shape=..., warmup_shape=...)``, and the cycling
``cosine``/``polynomial``."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import constant, cosine, polynomial, ramp_shapes, warmup, warmup_stable_decay
from schedules.testing import assert_monotone, assert_scalar_tensor_agree, assert_vmappable


@pytest.mark.parametrize("shape", ramp_shapes.SHAPES)
def test_each_shape_is_exact_at_its_ends_and_agrees_on_tensors(shape: str) -> None:
    assert ramp_shapes.decay(shape, 0.0) == 1.0 and ramp_shapes.decay(shape, 1.0) == 0.0
    assert ramp_shapes.warmup(shape, 0.0) == 0.0 and ramp_shapes.warmup(shape, 1.0) == 1.0
    p = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
    down = ramp_shapes.decay_tensor(shape, p.clone())
    up = ramp_shapes.warmup_tensor(shape, p.clone())
    assert down[0] == 1.0 and down[-1] == 0.0 and up[0] == 0.0 and up[-1] == 1.0
    assert bool((down.diff() <= 0).all()) and bool((up.diff() >= 0).all())
    for i, x in enumerate(p.tolist()):
        assert down[i].item() == pytest.approx(ramp_shapes.decay(shape, x), abs=1e-15)
        assert up[i].item() == pytest.approx(ramp_shapes.warmup(shape, x), abs=1e-15)
        # a warmup is its decay run backwards
        assert ramp_shapes.warmup(shape, x) == pytest.approx(
            ramp_shapes.decay(shape, 1.0 - x), abs=1e-15
        )


def test_megatron_exponential_is_two_halves_to_the_q_minus_one() -> None:
    for q in [0.0, 0.25, 0.5, 1.0]:
        assert ramp_shapes.decay("exponential", q) == pytest.approx(2 * 0.5**q - 1, rel=1e-15)


@pytest.mark.parametrize("shape", ramp_shapes.SHAPES)
def test_warmup_combinator_shape_rises_from_start_to_the_schedule(shape: str) -> None:
    schedule = warmup(functools.partial(constant, value=2.0), 8, start=0.5, shape=shape)
    assert schedule(0) == 0.5 and schedule(8) == 2.0 and schedule(100) == 2.0
    assert_monotone(schedule, 0, 12, increasing=True, strict=False)
    assert_scalar_tensor_agree(schedule, [0, 1, 3, 7, 8, 9, 50])
    assert schedule(4) == pytest.approx(0.5 + 1.5 * ramp_shapes.warmup(shape, 0.5))


def test_bad_shapes_are_refused_naming_the_key_and_the_choices() -> None:
    hint = r"shape must be one of 'linear', 'cosine'.*got 'cos'; did you mean 'cosine'\?"
    with pytest.raises(ValueError, match=hint):
        warmup(functools.partial(constant, value=1.0), 5, shape="cos")
    with pytest.raises(ValueError, match=r"warmup_shape must be one of .*'exponential', got 1"):
        warmup_stable_decay(1, 1.0, 2, 2, 2, warmup_shape=1)  # type: ignore[arg-type]
    for leaf in (cosine, polynomial):
        kwargs = {"peak": 1.0} if leaf is cosine else {"start": 1.0, "end": 0.0}
        with pytest.raises(ValueError, match=r"cycle must be a bool, got"):
            leaf(1, steps=5, cycle=1, **kwargs)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 1000), step=st.integers(-(10**6), 10**6), exponent=st.floats(0.5, 3))
def test_cycling_cosine_is_even_and_periodic(steps: int, step: int, exponent: float) -> None:
    schedule = functools.partial(
        cosine, peak=1.0, steps=steps, final=0.1, exponent=exponent, cycle=True
    )
    assert schedule(step) == pytest.approx(schedule(-step), abs=1e-12)
    assert schedule(step) == pytest.approx(schedule(step + 2 * steps), abs=1e-12)
    assert schedule(2 * steps * 7) == 1.0 and schedule(steps * 3) == pytest.approx(0.1)
    assert_scalar_tensor_agree(schedule, [step, -step, steps, 3 * steps + 1, 10**12])
    assert_vmappable(schedule, [0, step, 10**9])


def test_cycling_polynomial_reaches_end_at_each_multiple_and_jumps_back() -> None:
    schedule = functools.partial(polynomial, start=1.0, end=0.0, steps=4, power=1.0, cycle=True)
    assert [schedule(s) for s in (0, 4, 5, 8, 9, 12)] == [1.0, 0.0, 0.375, 0.0, 0.25, 0.0]
    assert_scalar_tensor_agree(schedule, [0, 3, 4, 5, 17, 10**12])
    assert_vmappable(schedule, [0, 3, 4, 5, 17])
    compiled = torch.compile(
        lambda t: polynomial(t, 1.0, 0.0, 4, 2.0, 3, cycle=True), fullgraph=True, backend="eager"
    )
    t = torch.arange(40)
    torch.testing.assert_close(compiled(t), polynomial(t, 1.0, 0.0, 4, 2.0, 3, cycle=True))
    assert not math.isnan(schedule(10**300))
