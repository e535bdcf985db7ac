"""schedules.straight_segment: a straight segment without a division is exact at both ends,
monotone, bounded and within a few ulps of the line, in float32 and float64, on short
Tensors (torch's scalar loops) and long ones (its vector loops, fused multiply-adds), fresh
or in place, under vmap; each form is taken where the module says."""

from __future__ import annotations

import math
import struct

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import assume, given, settings

from schedules.straight_segment import (
    along,
    along_steps,
    has_form,
    segment,
    to_float32,
)

DTYPES = st.sampled_from([torch.float32, torch.float64])
VALUES = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).filter(
    lambda v: abs(v) > 1e-30  # (slopes of values near the dtype's smallest are subnormal)
)


def _in(dtype: torch.dtype, x: float) -> float:
    return float(torch.tensor(x, dtype=dtype))


def _steps(x0: float, x1: float, size: int, dtype: torch.dtype) -> torch.Tensor:
    """Sorted steps before, across and after the segment, its ends among them."""
    length = x1 - x0
    grid = torch.linspace(x0 - length / 4, x1 + length / 4, size, dtype=torch.float64)
    ends = torch.tensor([x0, x1, -math.inf, math.inf], dtype=torch.float64)
    return torch.cat([grid, ends]).sort().values.to(dtype)


@settings(max_examples=150, deadline=None)
@given(
    x0=st.integers(0, 10**6) | st.floats(0.0, 1e6, allow_subnormal=False),
    length=st.integers(1, 10**6) | st.floats(1e-3, 1e6, allow_subnormal=False),
    v0=VALUES | st.just(0.0),
    v1=VALUES | st.just(0.0),
    dtype=DTYPES,
    size=st.sampled_from([5, 3000]),
)
def test_exact_at_both_ends_monotone_bounded_and_close_to_the_line(
    x0: float, length: float, v0: float, v1: float, dtype: torch.dtype, size: int
) -> None:
    x1 = x0 + length
    assume(x1 > x0)
    line = segment(x0, v0, x1, v1)
    assert line is not None
    steps = _steps(x0, x1, size, dtype)
    values = along_steps(line, steps)
    if values is None:  # only where the ends are one number in this dtype
        assert not has_form(line, dtype)
        assert _in(dtype, x0) == _in(dtype, x1) or dtype == torch.float32
        return
    assert values.dtype == dtype and values.shape == steps.shape
    a, b = _in(dtype, v0), _in(dtype, v1)
    low, high = _in(dtype, x0), _in(dtype, x1)
    got = values.double()
    s = steps.double()
    assert bool((got[s <= low] == a).all()) and bool((got[s >= high] == b).all())
    assert bool((got >= min(a, b)).all()) and bool((got <= max(a, b)).all())
    change = got.diff()
    assert bool((change >= 0).all()) if b >= a else bool((change <= 0).all())
    clipped = s.clamp(low, high)
    exact = a + (b - a) * (clipped - low) / (high - low)
    eps = torch.finfo(dtype).eps
    tolerance = 16 * eps * max(abs(a), abs(b), 1e-300)
    assert float((got - exact).abs().max()) <= tolerance


@settings(max_examples=60, deadline=None)
@given(
    x0=st.integers(0, 10**4),
    length=st.integers(1, 10**5),
    v0=VALUES,
    v1=VALUES,
    dtype=DTYPES,
)
def test_in_place_into_out_and_under_vmap_give_the_same_values(
    x0: int, length: int, v0: float, v1: float, dtype: torch.dtype
) -> None:
    line = segment(x0, v0, x0 + length, v1)
    assert line is not None and has_form(line, dtype)
    inside = torch.linspace(x0, x0 + length, 257, dtype=dtype)
    fresh = along(line, inside.clone())
    out = torch.empty_like(inside)
    into = along(line, inside, out)
    assert fresh is not None and into is not None
    assert into.data_ptr() == out.data_ptr() and torch.equal(into, fresh)
    rows = torch.stack([inside, inside.flip(0)])
    mapped = torch.func.vmap(lambda row: along_steps(line, row))(rows)
    expected = torch.stack([along_steps(line, row) for row in rows])  # type: ignore[misc]
    assert torch.equal(mapped, expected)


def test_each_form_where_the_module_says() -> None:
    # a decay to 0 is measured from its end (relative precision to the last step)
    decay = segment(0, 1e-3, 10**6, 0.0)
    assert decay is not None and not decay.anchored_low
    assert decay.float32.affine is None and decay.float64.anchored is not None
    # ends away from 0, terms of the values' size: the affine form (no clip)
    rising = segment(10**5, 1e-5, 6 * 10**5, 1e-3)
    assert rising is not None and rising.float32.affine is not None
    # a segment far from step 0 would cancel: the affine form is refused
    far = segment(10**9, 1.0, 10**9 + 10, 2.0)
    assert far is not None and far.float64.affine is None and far.float64.anchored is not None
    # one number in float32 (2**25 + 1 rounds to 2**25): no float32 form; float64 has both
    narrow = segment(2**25, 1.0, 2**25 + 1, 2.0)
    assert narrow is not None and not has_form(narrow, torch.float32)
    assert has_form(narrow, torch.float64)


def test_decay_to_zero_keeps_its_relative_precision_at_the_tail() -> None:
    line = segment(0, 1e-3, 10**6, 0.0)
    assert line is not None
    steps = torch.arange(10**6 - 1000, 10**6, dtype=torch.float32)
    got = along_steps(line, steps)
    assert got is not None
    exact = 1e-3 * (10**6 - steps.double()) / 10**6
    assert float(((got.double() - exact) / exact).abs().max()) < 1e-6


def test_other_dtypes_and_tensors_take_the_general_formula() -> None:
    line = segment(0, 1.0, 10, 2.0)
    assert line is not None
    assert along_steps(line, torch.arange(5, dtype=torch.float16)) is None
    assert along(line, torch.zeros(3, dtype=torch.bfloat16)) is None
    assert segment(0, torch.tensor(1.0), 10, 2.0) is None  # type: ignore[arg-type]


def test_integer_steps_are_computed_in_float64() -> None:
    line = segment(7, 1e-3, 300_007, 1e-5)
    assert line is not None
    steps = torch.arange(0, 400_000, 997)
    got = along_steps(line, steps)
    assert got is not None and got.dtype == torch.float64
    assert torch.equal(got, along_steps(line, steps.double()))  # type: ignore[arg-type]


def test_nan_steps_give_nan() -> None:
    for line in (segment(0, 0.0, 10, 1.0), segment(3, 1.0, 10, 2.0), segment(0, 2.0, 10, 0.0)):
        assert line is not None
        got = along_steps(line, torch.tensor([math.nan, 4.0, math.nan]))
        assert got is not None and bool(got[0].isnan()) and bool(got[2].isnan())


@pytest.mark.parametrize("seed", range(5))
def test_to_float32_rounds_as_the_hardware_does(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    exponents = torch.randint(-150, 128, (2000,), generator=generator)
    mantissas = torch.rand(2000, dtype=torch.float64, generator=generator) * 2 - 1
    for x in (mantissas * torch.pow(2.0, exponents.double())).tolist():
        try:
            expected: float | None = struct.unpack("f", struct.pack("f", x))[0]
        except OverflowError:
            expected = None
        try:
            got: float | None = to_float32(x)
        except OverflowError:
            got = None
        assert got == expected, x
