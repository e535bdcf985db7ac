"""schedules.tensor_values.interpolate between two numbers: the lerp done in pieces on the CPU
(to stay on torch's vectorized loop with one buffer) gives torch.lerp's values bit for bit,
in place, on every path (pieces, one piece, non-contiguous, vmap, autograd)."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

import schedules
from schedules.tensor_values import PIECE, interpolate

ENDS = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False).filter(
    lambda v: v != 0.0
)


def _weights(size: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Weights in [0, 1] with both ends and the lerp's switch at ½, plus extrapolation (the
    warmup ramps of warmup_cosine run past 1)."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.rand(size, dtype=dtype, generator=generator)
    weights[:6] = torch.tensor([0.0, 1.0, 0.5, 0.4999999, 1.5, -0.25], dtype=dtype)
    return weights


def _reference(start: float, end: float, weights: torch.Tensor) -> torch.Tensor:
    return torch.lerp(weights.new_full((), start), weights.new_full((), end), weights)


@settings(max_examples=20, deadline=None)
@given(
    start=ENDS,
    end=ENDS,
    size=st.sampled_from([7, PIECE, PIECE + 1, 3 * PIECE + 17]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_numbers_give_torch_lerp_bit_for_bit_in_place(
    start: float, end: float, size: int, dtype: torch.dtype, seed: int
) -> None:
    weights = _weights(size, dtype, seed)
    expected = _reference(start, end, weights)
    owned = weights.clone()
    got = interpolate(start, end, owned)
    assert got.data_ptr() == owned.data_ptr()  # the caller's buffer, no fresh one
    assert got.dtype == dtype and torch.equal(got, expected)


def test_non_contiguous_weights_take_the_plain_lerp() -> None:
    weights = _weights(2 * PIECE + 2, torch.float32, 0).reshape(2, -1).t()
    assert not weights.is_contiguous()
    got = interpolate(1e-3, 1e-5, weights.clone())
    assert torch.equal(got, _reference(1e-3, 1e-5, weights))


def test_autograd_and_vmap_take_the_out_of_place_lerp() -> None:
    weights = _weights(PIECE + 5, torch.float64, 1)
    leaf = weights.clone().requires_grad_(True)
    got = interpolate(2.0, -3.0, leaf * 1.0)
    got.sum().backward()
    assert leaf.grad is not None
    assert torch.allclose(leaf.grad, torch.full_like(weights, -5.0))
    rows = weights.reshape(1, -1).expand(3, -1)
    mapped = torch.func.vmap(lambda w: interpolate(2.0, -3.0, w * 1.0))(rows)
    assert torch.equal(mapped, _reference(2.0, -3.0, rows))


@pytest.mark.parametrize(
    "leaf",
    [
        schedules.bind(schedules.linear, start=1e-3, end=1e-5, steps=300_000, begin=10_000),
        schedules.bind(
            schedules.warmup_cosine, peak=1e-3, warmup=10_000, steps=300_000, start=1e-5, final=1e-5
        ),
        schedules.bind(schedules.polynomial, start=1e-3, end=1e-5, steps=200_000, power=2.0),
        schedules.bind(
            schedules.warmup_cosine, peak=1e-3, warmup=10_000, steps=300_000, start=2e-3, final=3e-3
        ),
        schedules.bind(
            schedules.cosine_restarts, peak=1e-3, period=20_000, mult=2.0, decay=0.5, final=1e-5
        ),
        schedules.bind(
            schedules.cosine_restarts, peak=1e-3, period=20_000, mult=1.5, final=1e-5, warmup=300
        ),
    ],
)
def test_long_curves_agree_with_their_short_pieces(leaf: schedules.BoundSchedule) -> None:
    """A curve longer than one piece (evaluated piece by piece: lerps, ramps, whole
    formulas) equals the same steps evaluated in short calls (in one go), bit for bit."""
    for dtype in (torch.float32, torch.int64):
        steps = torch.arange(0, 320_000, dtype=dtype)
        whole = leaf(steps)
        short = torch.cat([leaf(part) for part in steps.split(PIECE // 2)])
        assert whole.dtype == short.dtype and torch.equal(whole, short)


@pytest.mark.parametrize(
    "leaf",
    [
        schedules.bind(
            schedules.warmup_cosine, peak=1e-3, warmup=3000, steps=300_000, start=2e-3, final=3e-3
        ),
        schedules.bind(schedules.linear, start=1e-3, end=1e-5, steps=300_000, begin=7),
        schedules.bind(schedules.cosine_restarts, peak=1e-3, period=20_000, mult=2.0, final=1e-5),
    ],
    ids=lambda leaf: repr(leaf)[:40],
)
def test_vmap_over_long_steps_gives_each_row(leaf: schedules.BoundSchedule) -> None:
    """Rows longer than a piece, under vmap (which refuses the pieces' out= writes and
    copies): the values of each row evaluated alone by the general formula (a row in
    descending order: sorted rows alone may be written run by run, schedules.step_runs,
    which agree to a few ulps: tests/schedules/test_step_runs.py)."""
    rows = torch.stack([torch.arange(PIECE + 1000.0), torch.arange(PIECE + 1000.0) * 0.5])
    mapped = torch.func.vmap(leaf)(rows)
    alone = torch.stack([leaf(row.flip(0)).flip(0) for row in rows])
    assert torch.equal(mapped, alone)
