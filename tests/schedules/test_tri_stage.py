"""tri_stage: linear warm-up from peak·init_scale, hold, exponential decay to
peak·final_scale, then constant (fairseq tri_stage)."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import tri_stage

# warm-up on [0, 4), hold on [4, 6], decay over (6, 9], then 1/8 forever.
SMALL = functools.partial(
    tri_stage, peak=1.0, warmup=4, hold=2, decay=3, init_scale=0.2, final_scale=0.125
)
HAND_CHECKED = [
    (0, 0.2),
    (1, 0.4),
    (2, 0.6),
    (3, 0.8),
    (4, 1.0),
    (5, 1.0),
    (6, 1.0),
    (7, 0.5),  # 0.125 ** (1/3)
    (8, 0.25),
    (9, 0.125),
    (10, 0.125),
    (10**12, 0.125),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert SMALL(step) == pytest.approx(expected, rel=1e-12, abs=0.0)


def test_defaults_are_one_percent_of_peak() -> None:
    schedule = functools.partial(tri_stage, peak=4.0, warmup=10, hold=5, decay=20)
    assert schedule(0) == pytest.approx(0.04, rel=1e-12)
    assert schedule(35) == pytest.approx(0.04, rel=1e-12)
    assert schedule(25) == pytest.approx(4.0 * 0.01**0.5, rel=1e-12)


def test_zero_hold_decays_right_after_warmup() -> None:
    schedule = functools.partial(
        tri_stage, peak=2.0, warmup=2, hold=0, decay=2, init_scale=0.0, final_scale=0.25
    )
    assert [schedule(s) for s in range(6)] == pytest.approx([0.0, 1.0, 2.0, 1.0, 0.5, 0.5])


def test_tensor_steps_agree_with_python_steps() -> None:
    steps = [*range(12), 1000, 10**9, 10**12]
    expected = torch.tensor([SMALL(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = SMALL(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=0.0)


def test_holds_final_value_at_huge_int64_tensor_steps() -> None:
    got = SMALL(torch.tensor([10, 10**12, 2**62], dtype=torch.int64))
    torch.testing.assert_close(
        got, torch.full((3,), 0.125, dtype=torch.float64), rtol=1e-14, atol=0
    )


def test_negative_steps_behave_as_step_zero() -> None:
    assert SMALL(-3) == SMALL(0) == pytest.approx(0.2)
    got = SMALL(torch.tensor([-(10**12), -1, 0]))
    torch.testing.assert_close(got, torch.full((3,), SMALL(0), dtype=torch.float64))


def test_vmap() -> None:
    steps = torch.arange(0, 20, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(SMALL)(steps), SMALL(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    steps = torch.tensor([0, 3, 5, 7, 9, 10**12], dtype=torch.int64)

    def schedule(step: torch.Tensor) -> torch.Tensor:
        return SMALL(step)

    # A function of its own (not the partial): dynamo compiles every partial through one
    # shared wrapper, and recompiling it with other float hyperparameters traces them as
    # symbolic floats, which the hyperparameter checks cannot take under fullgraph.
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), SMALL(steps), rtol=1e-14, atol=0)


@settings(max_examples=50, deadline=None)
@given(
    warmup=st.integers(1, 50),
    hold=st.integers(0, 50),
    decay=st.integers(1, 50),
    init_scale=st.floats(0.0, 0.9),
    final_scale=st.floats(1e-4, 0.9),
)
def test_rises_holds_then_never_increases(
    warmup: int, hold: int, decay: int, init_scale: float, final_scale: float
) -> None:
    schedule = functools.partial(
        tri_stage,
        peak=1.0,
        warmup=warmup,
        hold=hold,
        decay=decay,
        init_scale=init_scale,
        final_scale=final_scale,
    )
    values = [schedule(s) for s in range(warmup + hold + decay + 3)]
    assert values[0] == pytest.approx(init_scale, rel=1e-12, abs=1e-15)
    assert all(a < b for a, b in itertools.pairwise(values[: warmup + 1]))
    assert values[warmup : warmup + hold + 1] == [1.0] * (hold + 1)
    tail = values[warmup + hold :]
    assert all(a >= b for a, b in itertools.pairwise(tail))
    assert tail[-1] == pytest.approx(final_scale, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"warmup": 0}, r"warmup must be > 0, got 0"),
        ({"warmup": -1}, r"warmup must be > 0, got -1"),
        ({"hold": -1}, r"hold must be >= 0, got -1"),
        ({"decay": 0}, r"decay must be > 0, got 0"),
        ({"init_scale": -0.5}, r"init_scale must be >= 0, got -0.5"),
        ({"final_scale": 0.0}, r"final_scale must be > 0, got 0.0"),
        ({"peak": math.inf}, r"peak must be finite, got inf"),
    ],
)
def test_bad_hyperparameters_raise(kwargs: dict[str, Any], match: str) -> None:
    good: dict[str, Any] = {"peak": 1.0, "warmup": 4, "hold": 2, "decay": 3}
    with pytest.raises(ValueError, match=match):
        tri_stage(1, **{**good, **kwargs})
