"""warmup_stable_decay: linear 0 → peak, hold peak, decay to final with shape linear, cosine
or 1-sqrt (transformers get_wsd_schedule)."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import warmup_stable_decay

# warm-up on [0, 4), peak on [4, 7], decay over (7, 11], then final = 0.4.
KWARGS: dict[str, Any] = {"peak": 2.0, "warmup": 4, "stable": 3, "decay": 4, "final": 0.4}
SHAPES = ("linear", "cosine", "1-sqrt")
SHARED = [
    (0, 0.0),
    (1, 0.5),
    (2, 1.0),
    (3, 1.5),
    (4, 2.0),
    (5, 2.0),
    (7, 2.0),
    (11, 0.4),
    (12, 0.4),
    (10**12, 0.4),
]
# the decay at p = ¼, ½, ¾: final + (peak - final) · f(p), peak - final = 1.6
DECAY = {
    "linear": [(8, 0.4 + 1.6 * 0.75), (9, 0.4 + 1.6 * 0.5), (10, 0.4 + 1.6 * 0.25)],
    "cosine": [
        (8, 0.4 + 0.8 * (1 + math.sqrt(0.5))),
        (9, 0.4 + 0.8),
        (10, 0.4 + 0.8 * (1 - math.sqrt(0.5))),
    ],
    "1-sqrt": [
        (8, 0.4 + 1.6 * 0.5),
        (9, 0.4 + 1.6 * (1 - math.sqrt(0.5))),
        (10, 0.4 + 1.6 * (1 - math.sqrt(0.75))),
    ],
}


@pytest.mark.parametrize("shape", SHAPES)
def test_hand_checked_values(shape: str) -> None:
    for step, expected in SHARED + DECAY[shape]:
        got = warmup_stable_decay(step, **KWARGS, shape=shape)
        assert got == pytest.approx(expected, rel=1e-12, abs=0.0), (shape, step)


def test_defaults_are_linear_decay_to_zero() -> None:
    schedule = functools.partial(warmup_stable_decay, peak=1.0, warmup=2, stable=2, decay=4)
    assert [schedule(s) for s in range(10)] == pytest.approx(
        [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    )


def test_zero_stable_decays_right_after_warmup() -> None:
    schedule = functools.partial(
        warmup_stable_decay, peak=1.0, warmup=2, stable=0, decay=2, shape="linear"
    )
    assert [schedule(s) for s in range(6)] == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("shape", SHAPES)
def test_tensor_steps_agree_with_python_steps(shape: str) -> None:
    schedule: Any = functools.partial(warmup_stable_decay, **KWARGS, shape=shape)
    steps = [*range(14), 10**9, 10**12]
    expected = torch.tensor([schedule(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = schedule(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=0.0)


@pytest.mark.parametrize("shape", SHAPES)
def test_holds_final_at_huge_int64_tensor_steps(shape: str) -> None:
    got = warmup_stable_decay(torch.tensor([11, 10**12, 2**62]), **KWARGS, shape=shape)
    torch.testing.assert_close(got, torch.full((3,), 0.4, dtype=torch.float64), rtol=1e-14, atol=0)


def test_negative_steps_behave_as_step_zero() -> None:
    assert warmup_stable_decay(-5, **KWARGS) == 0.0
    got = warmup_stable_decay(torch.tensor([-(10**12), -1]), **KWARGS)
    assert torch.equal(got, torch.zeros(2, dtype=torch.float64))


def test_vmap() -> None:
    schedule: Any = functools.partial(warmup_stable_decay, **KWARGS, shape="1-sqrt")
    steps = torch.arange(0, 20, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(schedule)(steps), schedule(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return warmup_stable_decay(step, **KWARGS, shape="cosine")

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph.
    steps = torch.tensor([0, 3, 5, 8, 9, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=1e-14, atol=0)


@settings(max_examples=50, deadline=None)
@given(
    warmup=st.integers(1, 40),
    stable=st.integers(0, 40),
    decay=st.integers(1, 40),
    final=st.floats(0.0, 0.9),
    shape=st.sampled_from(SHAPES),
)
def test_rises_holds_then_never_increases(
    warmup: int, stable: int, decay: int, final: float, shape: str
) -> None:
    schedule = functools.partial(
        warmup_stable_decay,
        peak=1.0,
        warmup=warmup,
        stable=stable,
        decay=decay,
        final=final,
        shape=shape,
    )
    values = [schedule(s) for s in range(warmup + stable + decay + 3)]
    assert all(a < b for a, b in itertools.pairwise(values[: warmup + 1]))
    assert values[warmup : warmup + stable + 1] == [1.0] * (stable + 1)
    tail = values[warmup + stable :]
    assert all(a >= b for a, b in itertools.pairwise(tail))
    assert all(v >= final for v in tail)
    assert tail[-1] == final


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"warmup": 0}, r"warmup must be > 0, got 0"),
        ({"stable": -1}, r"stable must be >= 0, got -1"),
        ({"decay": 0}, r"decay must be > 0, got 0"),
        ({"decay": -2.5}, r"decay must be > 0, got -2.5"),
        ({"final": math.nan}, r"final must be finite, got nan"),
        (
            {"shape": "sqrt"},
            r"shape must be one of 'linear', 'cosine', '1-sqrt', 'exponential', got 'sqrt'",
        ),
    ],
)
def test_bad_hyperparameters_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        warmup_stable_decay(1, **{**KWARGS, **kwargs})
