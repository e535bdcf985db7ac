"""``k_decay`` of cosine and polynomial: timm's k-decay (CosineLRScheduler / PolyLRScheduler),
the fraction ``(t / steps) ** k`` in place of ``t / steps`` (anchored in
test_peer_anchors.py)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import cosine, polynomial
from schedules.testing import (
    assert_bounded,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

ROOT_HALF = math.sqrt(0.5)


@pytest.mark.parametrize(
    ("step", "k", "expected"),
    [
        (0, 2.0, 2.0),
        (2, 2.0, 1.0 + ROOT_HALF),  # (2/4)² = ¼: 1 + cos(π/4)
        (2, 0.5, 1.0 + math.cos(math.pi * ROOT_HALF)),  # (2/4)^½ = √½
        (4, 2.0, 0.0),
        (9, 0.5, 0.0),
    ],
)
def test_cosine_hand_checked(step: int, k: float, expected: float) -> None:
    got = cosine(step, peak=2.0, steps=4, k_decay=k)
    assert got == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize(
    ("step", "k", "power", "expected"),
    [
        (0, 0.5, 1.0, 1.0),
        (1, 0.5, 1.0, 0.5),  # 1 - (1/4)^½
        (2, 2.0, 1.0, 0.75),  # 1 - (2/4)²
        (2, 2.0, 2.0, 0.5625),  # (1 - ¼)²
        (4, 3.0, 2.0, 0.0),
        (10**12, 3.0, 2.0, 0.0),
    ],
)
def test_polynomial_hand_checked(step: int, k: float, power: float, expected: float) -> None:
    got = polynomial(step, start=1.0, end=0.0, steps=4, power=power, k_decay=k)
    assert got == pytest.approx(expected, rel=1e-14, abs=1e-15)


def test_k_decay_applies_after_begin() -> None:
    # t = clip(step - begin, 0, steps): begin 3, so step 4 is t = 1.
    got = polynomial(4, start=1.0, end=0.0, steps=4, begin=3, k_decay=0.5)
    assert got == pytest.approx(0.5, rel=1e-15)
    assert polynomial(2, start=1.0, end=0.0, steps=4, begin=3, k_decay=0.5) == 1.0


STEPS = [0, 1, 2, 5, 9, 10, 11, 10**12]


@pytest.mark.parametrize("fn", ["cosine", "polynomial"])
def test_k_decay_one_is_the_default_bit_for_bit(fn: str) -> None:
    if fn == "cosine":
        plain: Any = functools.partial(cosine, peak=0.3, steps=10, final=0.01, exponent=1.5)
    else:
        plain = functools.partial(polynomial, start=0.3, end=0.01, steps=10, power=2.0)
    with_k = functools.partial(plain, k_decay=1.0)
    assert [with_k(s) for s in STEPS] == [plain(s) for s in STEPS]
    t = torch.tensor(STEPS)
    assert torch.equal(with_k(t), plain(t))


@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(1e-6, 10.0),
    fraction=st.floats(0.0, 1.0),
    steps=st.integers(1, 400),
    k=st.floats(0.1, 8.0),
    shape=st.floats(0.25, 4.0),
)
def test_decays_within_bounds_and_holds(
    peak: float, fraction: float, steps: int, k: float, shape: float
) -> None:
    final = peak * fraction
    for schedule in (
        functools.partial(cosine, peak=peak, steps=steps, final=final, exponent=shape, k_decay=k),
        functools.partial(polynomial, start=peak, end=final, steps=steps, power=shape, k_decay=k),
    ):
        assert_monotone(schedule, 0, steps + 10, increasing=False)
        assert_bounded(schedule, final, peak, range(0, steps + 10))
        assert_holds_after(schedule, steps)
        assert schedule(0) == peak


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(2, 300), k=st.floats(1.0, 8.0), step=st.integers(0, 300))
def test_a_larger_k_decays_later(steps: int, k: float, step: int) -> None:
    # (t/T)^k <= t/T for k >= 1 and t <= T: the curve lies above the k = 1 curve.
    for fn, kwargs in (
        (cosine, {"peak": 1.0, "steps": steps}),
        (polynomial, {"start": 1.0, "end": 0.0, "steps": steps, "power": 2.0}),
    ):
        assert fn(step, **kwargs, k_decay=k) >= fn(step, **kwargs) - 1e-15


def test_scalar_and_tensor_agree_vmap_and_compile() -> None:
    for schedule in (
        functools.partial(cosine, peak=4.0, steps=7, final=0.4, k_decay=0.5),
        functools.partial(polynomial, start=4.0, end=0.4, steps=7, power=2.0, k_decay=3.0),
    ):
        assert_scalar_tensor_agree(schedule, [0, 1, 2, 3, 6, 7, 8, 10**12], rtol=1e-13)
        assert_vmappable(schedule, [0, 1, 2, 3, 6, 7, 8])

    def compiled_cosine(step: torch.Tensor) -> torch.Tensor:
        return cosine(step, 4.0, 7, final=0.4, k_decay=0.5)

    steps = torch.tensor([0, 1, 3, 7, 10**12])
    compiled = torch.compile(compiled_cosine, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), compiled_cosine(steps), rtol=1e-15, atol=0)


@pytest.mark.parametrize("fn", ["cosine", "polynomial"])
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (0, r"k_decay must be > 0, got 0"),
        (-1.0, r"k_decay must be > 0, got -1.0"),
        (math.nan, r"k_decay must be finite, got nan"),
        ("2", r"k_decay must be a number, got str: '2'"),
    ],
)
def test_bad_k_decay_raises(fn: str, bad: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        if fn == "cosine":
            cosine(1, peak=1.0, steps=10, k_decay=bad)
        else:
            polynomial(1, start=1.0, end=0.0, steps=10, k_decay=bad)


def test_a_cached_k_decay_of_one_does_not_let_true_through() -> None:
    assert cosine(3, peak=1.0, steps=10, k_decay=1) == cosine(3, peak=1.0, steps=10)
    with pytest.raises(ValueError, match=r"k_decay must be a number, got bool: True"):
        cosine(3, peak=1.0, steps=10, k_decay=True)
    polynomial(3, start=1.0, end=0.0, steps=10, k_decay=1)
    with pytest.raises(ValueError, match=r"k_decay must be a number, got bool: True"):
        polynomial(3, start=1.0, end=0.0, steps=10, k_decay=True)
