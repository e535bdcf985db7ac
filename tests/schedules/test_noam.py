"""noam: scale · d_model^-½ · min(s^-½, s · warmup^-1.5), 0 at s = 0."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import noam

# d_model=16, warmup=4, scale=2: the coefficient is 2/4 = ½ and the peak ½ · 4^-½ = ¼.
SMALL = functools.partial(noam, d_model=16, warmup=4, scale=2.0)
HAND_CHECKED = [
    (0, 0.0),
    (1, 0.5 * 1 / 8),  # s · warmup^-1.5 = 1/8
    (2, 0.5 * 2 / 8),
    (3, 0.5 * 3 / 8),
    (4, 0.25),  # the peak, both branches meet
    (16, 0.5 / 4),  # s^-½ = 1/4
    (64, 0.5 / 8),
    (10**6, 0.5 / 1000),
    (10**12, 0.5 / 10**6),
]


@pytest.mark.parametrize(("step", "expected"), HAND_CHECKED)
def test_hand_checked_values(step: int, expected: float) -> None:
    assert SMALL(step) == pytest.approx(expected, rel=1e-12, abs=0.0)


def test_transformer_base_peak_is_at_warmup() -> None:
    base = functools.partial(noam, d_model=512, warmup=4000)
    peak = 1 / math.sqrt(512 * 4000)
    assert base(4000) == pytest.approx(peak, rel=1e-12)
    assert base(3999) < peak and base(4001) < peak


def test_defaults_scale_to_one() -> None:
    assert noam(9, d_model=4, warmup=9) == pytest.approx(0.5 / 3, rel=1e-12)


def test_tensor_steps_agree_with_python_steps() -> None:
    steps = [0, 1, 2, 3, 4, 5, 17, 4000, 123457, 10**9, 10**12]
    expected = torch.tensor([SMALL(s) for s in steps], dtype=torch.float64)
    for dtype in (torch.int64, torch.float64):
        got = SMALL(torch.tensor(steps, dtype=dtype))
        assert got.dtype == torch.float64 and got.shape == (len(steps),)
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=0.0)


def test_huge_steps_are_finite_and_exact() -> None:
    assert SMALL(10**12) == pytest.approx(5e-7, rel=1e-12)
    got = SMALL(torch.tensor([10**12, 10**12 + 1], dtype=torch.int64))
    torch.testing.assert_close(got, torch.full((2,), 5e-7, dtype=torch.float64), rtol=1e-9, atol=0)


def test_negative_steps_behave_as_step_zero() -> None:
    assert SMALL(-1) == SMALL(0) == 0.0
    assert SMALL(-(10**12)) == 0.0
    assert torch.equal(SMALL(torch.tensor([-5, -1, 0])), torch.zeros(3, dtype=torch.float64))


def test_tensor_shape_is_kept() -> None:
    steps = torch.arange(12, dtype=torch.int64).reshape(3, 4)
    got = SMALL(steps)
    assert got.shape == (3, 4)
    assert got[1, 0].item() == SMALL(4)


def test_vmap() -> None:
    steps = torch.arange(0, 50, dtype=torch.int64)
    torch.testing.assert_close(torch.func.vmap(SMALL)(steps), SMALL(steps), rtol=0, atol=0)


def test_compile_fullgraph() -> None:
    steps = torch.tensor([0, 1, 4, 5, 10**12], dtype=torch.int64)

    def schedule(step: torch.Tensor) -> torch.Tensor:
        return SMALL(step)

    # A function of its own (not the partial): dynamo compiles every partial through one
    # shared wrapper, and recompiling it with other float hyperparameters traces them as
    # symbolic floats, which the hyperparameter checks cannot take under fullgraph.
    compiled = torch.compile(schedule, fullgraph=True)
    torch.testing.assert_close(compiled(steps), SMALL(steps), rtol=1e-14, atol=0)


@settings(max_examples=50, deadline=None)
@given(
    d_model=st.integers(1, 4096),
    warmup=st.integers(1, 10**5),
    scale=st.floats(0.01, 100.0),
)
def test_rises_strictly_to_warmup_then_decays(d_model: int, warmup: int, scale: float) -> None:
    schedule = functools.partial(noam, d_model=d_model, warmup=warmup, scale=scale)
    before = sorted({max(0, warmup - 2), warmup - 1, warmup})
    after = sorted({warmup, warmup + 1, 2 * warmup + 1, 10**12})
    assert all(schedule(a) < schedule(b) for a, b in itertools.pairwise(before))
    assert all(schedule(a) > schedule(b) for a, b in itertools.pairwise(after))
    assert schedule(warmup) == pytest.approx(scale / math.sqrt(d_model * warmup), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d_model": 0, "warmup": 4}, r"d_model must be > 0, got 0"),
        ({"d_model": -8, "warmup": 4}, r"d_model must be > 0, got -8"),
        ({"d_model": 16, "warmup": 0}, r"warmup must be > 0, got 0"),
        ({"d_model": 16, "warmup": -3}, r"warmup must be > 0, got -3"),
        ({"d_model": 16, "warmup": math.inf}, r"warmup must be finite, got inf"),
        ({"d_model": 16, "warmup": 4, "scale": "big"}, r"scale must be a number, got str"),
    ],
)
def test_bad_hyperparameters_raise(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        noam(1, **kwargs)
