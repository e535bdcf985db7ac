"""one_cycle: torch OneCycleLR at 0-based steps, holding its minimum past the horizon."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import one_cycle

# initial = 1/10 = 0.1, minimum = 0.1/100 = 0.001; phase 1 ends at 0.5·10 - 1 = 4, phase 2
# at 9 (length 5).
TWO: dict[str, Any] = {"peak": 1.0, "steps": 10, "pct_start": 0.5, "div": 10.0, "final_div": 100.0}
COS_QUARTER = (1 + math.sqrt(0.5)) / 2  # (cos(π/4) + 1) / 2
COS_TWO_FIFTHS = (1 + (math.sqrt(5) - 1) / 4) / 2  # (cos(2π/5) + 1) / 2
HAND_CHECKED = {
    "linear": [
        (0, 0.1),
        (1, 0.325),
        (2, 0.55),
        (4, 1.0),
        (5, 1 - 0.999 * 0.2),
        (7, 1 - 0.999 * 0.6),
        (9, 0.001),
    ],
    "cos": [
        (0, 0.1),
        (1, 1 - 0.9 * COS_QUARTER),
        (2, 0.55),
        (4, 1.0),
        (6, 0.001 + 0.999 * COS_TWO_FIFTHS),
        (9, 0.001),
    ],
}
# three phases: initial → peak until 0.25·20 - 1 = 4, peak → initial until 8, then
# initial → minimum until 19 (length 11).
THREE: dict[str, Any] = {
    **TWO,
    "steps": 20,
    "pct_start": 0.25,
    "anneal": "linear",
    "three_phase": True,
}
THREE_HAND_CHECKED = [
    (0, 0.1),
    (2, 0.55),
    (4, 1.0),
    (6, 0.55),
    (8, 0.1),
    (14, 0.1 - 0.099 * 6 / 11),
    (19, 0.001),
]


@pytest.mark.parametrize("anneal", ["linear", "cos"])
def test_hand_checked_two_phases(anneal: str) -> None:
    for step, expected in HAND_CHECKED[anneal]:
        got = one_cycle(step, **TWO, anneal=anneal)
        assert got == pytest.approx(expected, rel=1e-12, abs=0.0), (anneal, step)


def test_hand_checked_three_phases() -> None:
    for step, expected in THREE_HAND_CHECKED:
        assert one_cycle(step, **THREE) == pytest.approx(expected, rel=1e-12), step


def test_defaults_match_torch_defaults() -> None:
    # pct_start=0.3, div=25, final_div=1e4, cos: starts at peak/25, peaks at 0.3·100 - 1.
    schedule = functools.partial(one_cycle, peak=2.5, steps=100)
    assert schedule(0) == pytest.approx(0.1, rel=1e-12)
    assert schedule(29) == pytest.approx(2.5, rel=1e-12)
    assert schedule(99) == pytest.approx(1e-5, rel=1e-9)


@pytest.mark.parametrize("config", [TWO, THREE])
def test_holds_minimum_past_the_horizon(config: dict[str, Any]) -> None:
    # torch raises past total_steps and extrapolates the last phase at total_steps itself;
    # here the value at steps - 1 is held.
    steps = int(config["steps"])
    last = one_cycle(steps - 1, **config)
    assert last == pytest.approx(0.001, rel=1e-12)
    for step in (steps, steps + 1, 10**12):
        assert one_cycle(step, **config) == last
    got = one_cycle(torch.tensor([steps, 10**12, 2**62]), **config)
    torch.testing.assert_close(got, torch.full((3,), last, dtype=torch.float64), rtol=0, atol=0)


def test_single_step_is_the_minimum() -> None:
    assert one_cycle(0, peak=1.0, steps=1) == pytest.approx(1 / 25 / 1e4, rel=1e-12)


@pytest.mark.parametrize("config", [TWO, {**TWO, "anneal": "linear"}, THREE])
def test_tensor_steps_agree_with_python_steps(config: dict[str, Any]) -> None:
    schedule: Any = functools.partial(one_cycle, **config)
    steps = [*range(22), 10**9, 10**12]
    expected = torch.tensor([schedule(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = schedule(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=0.0)


def test_negative_steps_behave_as_step_zero() -> None:
    assert one_cycle(-1, **TWO) == one_cycle(0, **TWO) == pytest.approx(0.1)
    got = one_cycle(torch.tensor([-(10**12), -3]), **THREE)
    torch.testing.assert_close(got, torch.full((2,), 0.1, dtype=torch.float64), rtol=1e-14, atol=0)


def test_vmap() -> None:
    schedule: Any = functools.partial(one_cycle, **THREE)
    steps = torch.arange(0, 25, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(schedule)(steps), schedule(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return one_cycle(step, **{**THREE, "anneal": "cos"})

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph.
    steps = torch.tensor([0, 3, 6, 8, 15, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-14, atol=0)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(2, 300),
    pct_start=st.floats(0.05, 0.95),
    div=st.floats(1.5, 100.0),
    final_div=st.floats(1.5, 1e4),
    anneal=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
)
def test_stays_within_minimum_and_peak(
    steps: int, pct_start: float, div: float, final_div: float, anneal: str, three_phase: bool
) -> None:
    if pct_start * steps - 1 == 0:
        return
    schedule = functools.partial(
        one_cycle,
        peak=1.0,
        steps=steps,
        pct_start=pct_start,
        div=div,
        final_div=final_div,
        anneal=anneal,
        three_phase=three_phase,
    )
    minimum = 1.0 / div / final_div
    values = [schedule(s) for s in range(steps + 2)]
    # torch's linear anneal, (end - start)·pct + start, rounds at the scale of the peak.
    assert all(minimum - 1e-14 <= v <= 1.0 + 1e-14 for v in values)
    if not three_phase or pct_start <= 0.5:
        assert values[steps - 1] == pytest.approx(minimum, rel=1e-9, abs=1e-14)
    # the first phase ends at pct_start·steps - 1, which may fall between two steps
    first_end = pct_start * steps - 1
    rising = values[: max(0, math.floor(first_end)) + 1]
    falling = values[max(0, math.ceil(first_end)) : steps]
    assert all(a <= b for a, b in itertools.pairwise(rising))
    if not three_phase:
        assert all(a >= b for a, b in itertools.pairwise(falling))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, r"steps must be > 0, got 0"),
        ({"steps": -10}, r"steps must be > 0, got -10"),
        ({"pct_start": 0.0}, r"pct_start must lie in the open interval \(0, 1\), got 0.0"),
        ({"pct_start": 1.0}, r"pct_start must lie in the open interval \(0, 1\), got 1.0"),
        ({"pct_start": 1.5}, r"pct_start must lie in the open interval \(0, 1\), got 1.5"),
        ({"div": 0.0}, r"div must be > 0, got 0.0"),
        ({"final_div": -1.0}, r"final_div must be > 0, got -1.0"),
        ({"anneal": "cosine"}, r"anneal must be one of 'cos', 'linear', got 'cosine'"),
        ({"three_phase": 1}, r"three_phase must be a bool, got int: 1"),
        (
            {"steps": 10, "pct_start": 0.1},
            r"pct_start · steps must not be 1 \(got pct_start=0.1, steps=10\)",
        ),
    ],
)
def test_bad_hyperparameters_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        one_cycle(1, **{**TWO, **kwargs})
