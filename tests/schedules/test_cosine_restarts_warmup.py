"""``cosine_restarts(..., warmup=w)``: ESPnet's per-cycle warmup (espnet2
``CosineAnnealingWarmupRestarts``): cycle ``i`` lasts ``w + (period - w) · mult**i`` steps, ramps
linearly from ``final`` to ``peak · decay**i`` over its first ``w`` steps, then anneals to
``final`` (anchored in test_peer_anchors.py)."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import cosine_restarts
from schedules.testing import (
    assert_bounded,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
)


def _starts(period: float, mult: float, warmup: float, count: int) -> list[float]:
    starts, start = [], 0.0
    for i in range(count):
        starts.append(start)
        start += warmup + (period - warmup) * mult**i
    return starts


def _reference(s: int, peak: float, period: float, mult: float, final: float, decay: float,
               warmup: float) -> float:  # fmt: skip
    """The value by walking the cycles one by one (ESPnet's step() loop, exact lengths)."""
    i, start, length = 0, 0.0, float(period)
    while s >= start + length:
        start += length
        i += 1
        length = warmup + (period - warmup) * mult**i
    position, top = s - start, peak * decay**i
    if position < warmup:
        return final + (top - final) * position / warmup
    return final + (top - final) * 0.5 * (
        1 + math.cos(math.pi * (position - warmup) / (length - warmup))
    )


def test_hand_checked_cycle_lengths() -> None:
    # period 10, warmup 3, mult 2: cycles of 10, 3 + 14 = 17, 3 + 28 = 31 steps (ESPnet's)
    schedule = functools.partial(
        cosine_restarts, peak=1.0, period=10, mult=2.0, final=0.1, decay=0.5, warmup=3
    )
    assert [schedule(s) for s in (0, 10, 27, 58)] == [0.1, 0.1, 0.1, 0.1]  # each cycle's floor
    assert schedule(3) == 1.0 and schedule(13) == 0.5 and schedule(30) == 0.25
    assert schedule(1) == pytest.approx(0.4, rel=1e-15)  # 0.1 + 0.9 · 1/3
    assert schedule(20) == pytest.approx(0.1 + 0.4 * 0.5 * (1 + math.cos(math.pi * 7 / 14)))


def test_warmup_zero_is_the_default_bit_for_bit() -> None:
    kwargs: dict[str, Any] = {"peak": 0.3, "period": 7, "mult": 3.0, "final": 0.01, "decay": 0.9}
    steps = [0, 1, 6, 7, 8, 27, 28, 10**6, 10**12]
    assert [cosine_restarts(s, **kwargs, warmup=0) for s in steps] == [
        cosine_restarts(s, **kwargs) for s in steps
    ]
    t = torch.tensor(steps)
    assert torch.equal(cosine_restarts(t, **kwargs, warmup=0), cosine_restarts(t, **kwargs))


@settings(max_examples=50, deadline=None)
@given(
    period=st.integers(2, 60),
    warmup_fraction=st.floats(0.0, 0.95),
    mult=st.sampled_from([1.0, 1.5, 2.0, 3.0]),
    decay=st.floats(0.3, 1.0),
    final_fraction=st.floats(0.0, 0.2),
)
def test_each_cycle_rises_over_its_warmup_then_anneals(
    period: int, warmup_fraction: float, mult: float, decay: float, final_fraction: float
) -> None:
    warmup = max(1, min(period - 1, int(period * warmup_fraction)))
    peak, final = 1.0, final_fraction * decay**4
    schedule = functools.partial(
        cosine_restarts, peak=peak, period=period, mult=mult, final=final, decay=decay,
        warmup=warmup,
    )  # fmt: skip
    starts = _starts(period, mult, warmup, 5)
    for i, (a, b) in enumerate(itertools.pairwise(starts)):
        top = peak * decay**i
        assert schedule(a) == pytest.approx(final, abs=1e-15)
        assert schedule(a + warmup) == pytest.approx(top, rel=1e-12)
        assert_monotone(schedule, a, a + warmup, increasing=True, strict=True)
        assert_monotone(schedule, a + warmup, b - 1e-9, increasing=False, atol=1e-15)
        assert_bounded(schedule, final, top, [a, a + warmup / 2, (a + b) / 2, b - 0.5])
    for s in [*range(0, int(starts[-1]) + 3), 10**6]:
        expected = _reference(s, peak, period, mult, final, decay, warmup)
        assert schedule(s) == pytest.approx(expected, rel=1e-9, abs=1e-15), s


def test_cycle_starts_are_exact_at_huge_steps() -> None:
    # mult 2, period 5, warmup 1: start(i) = i + 4 · (2**i - 1)
    schedule = functools.partial(cosine_restarts, peak=1.0, period=5, mult=2.0, warmup=1)
    for i in (10, 30, 37):
        start = i + 4 * (2**i - 1)
        assert schedule(start) == 0.0
        assert schedule(start + 1) == 1.0
        assert schedule(start - 1) == pytest.approx(
            0.5 * (1 + math.cos(math.pi * (4 * 2 ** (i - 1) - 1) / (4 * 2 ** (i - 1)))), abs=1e-15
        )
        got = schedule(torch.tensor([start - 1, start, start + 1]))
        assert got.tolist() == [schedule(start - 1), 0.0, 1.0]


def test_a_warmup_close_to_the_period_with_a_small_mult() -> None:
    # many cycles lie between the estimates from period and from period - warmup
    schedule = functools.partial(cosine_restarts, peak=1.0, period=100, mult=1.01, warmup=99)
    for s in (0, 99, 100, 5_000, 123_456, 10**7):
        assert schedule(s) == pytest.approx(_reference(s, 1.0, 100, 1.01, 0.0, 1.0, 99), abs=1e-9)


def test_scalar_and_tensor_agree_vmap_and_compile() -> None:
    schedule = functools.partial(
        cosine_restarts, peak=0.6, period=10, mult=1.5, final=0.01, decay=0.9, warmup=2
    )
    steps = [0, 1, 2, 9, 10, 11, 23, 24, 44, 73, 10**6, 10**12]
    assert_scalar_tensor_agree(schedule, steps, rtol=1e-12)
    assert_vmappable(schedule, steps)

    def compiled_schedule(step: torch.Tensor) -> torch.Tensor:
        return cosine_restarts(step, 0.6, 10, mult=1.5, final=0.01, decay=0.9, warmup=2)

    t = torch.tensor(steps)
    compiled = torch.compile(compiled_schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(t), compiled_schedule(t), rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"warmup": -1}, r"warmup must be >= 0, got -1"),
        ({"warmup": math.nan}, r"warmup must be finite, got nan"),
        ({"warmup": 10}, r"warmup must be < period \(10\)"),
        ({"warmup": 12.5}, r"warmup must be < period \(10\)"),
    ],
)
def test_bad_warmup_raises(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cosine_restarts(1, peak=1.0, period=10, **bad)
