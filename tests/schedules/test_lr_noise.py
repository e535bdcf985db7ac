"""lr_noise: timm's lr noise as a pure, seeded combinator, ``v + v · noise(seed + n)`` inside
``[start, end)``, the schedule's own value outside (anchored in test_peer_anchors.py)."""

from __future__ import annotations

import functools
import math
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import constant, cosine, lr_noise

BASE = functools.partial(cosine, peak=0.4, steps=30, final=0.01)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


def _relative_noise(schedule: lr_noise, step: int) -> float:
    return schedule(step) / schedule.schedule(step) - 1.0


def test_the_schedule_itself_outside_the_noise_range() -> None:
    schedule = lr_noise(BASE, start=5, end=25)
    for step in (-3, 0, 1, 4, 25, 26, 29, 30, 10**12):
        assert schedule(step) == BASE(step)
    for step in range(5, 25):
        assert schedule(step) != BASE(step)


def test_no_end_means_noise_from_start_on() -> None:
    schedule = lr_noise(functools.partial(constant, value=2.0), start=3)
    assert [schedule(s) for s in range(3)] == [2.0, 2.0, 2.0]
    assert all(schedule(s) != 2.0 for s in (3, 4, 100, 10**12))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(-(2**40), 2**40),
    pct=st.floats(0.05, 2.0),
    std=st.floats(0.0, 3.0),
    kind=st.sampled_from(["normal", "uniform"]),
    step=st.integers(0, 10**12),
)
def test_noise_is_bounded_by_pct_and_pure(
    seed: int, pct: float, std: float, kind: str, step: int
) -> None:
    schedule = lr_noise(
        functools.partial(constant, value=1.0), start=0, pct=pct, std=std, seed=seed, kind=kind
    )
    noise = schedule(step) - 1.0
    if kind == "normal":
        assert abs(noise) < pct  # timm resamples until |z · std| < pct
        if std == 0.0:
            assert noise == 0.0
    else:
        assert abs(noise) <= pct  # uniform on [-pct, pct): std is not used
    again = lr_noise(
        functools.partial(constant, value=1.0), start=0, pct=pct, std=std, seed=seed, kind=kind
    )
    assert again(step) == schedule(step)


def test_same_step_same_value_whatever_was_called_before_and_no_global_rng() -> None:
    schedule = lr_noise(BASE, start=0)
    forward = [schedule(s) for s in range(20)]
    backward = [schedule(s) for s in reversed(range(20))][::-1]
    assert forward == backward
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    first = schedule(7)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(12345)
    assert schedule(7) == first


def test_seed_and_kind_change_the_noise() -> None:
    a = lr_noise(BASE, start=0, seed=42)
    b = lr_noise(BASE, start=0, seed=43)
    c = lr_noise(BASE, start=0, seed=42, kind="uniform")
    assert a(5) != b(5) and a(5) != c(5)
    # seed + step is what is seeded: seed 43 at step 4 is seed 42 at step 5
    assert _relative_noise(b, 4) == pytest.approx(_relative_noise(a, 5), rel=1e-12)


def test_float_steps_use_the_noise_of_their_whole_step() -> None:
    schedule = lr_noise(BASE, start=2)
    assert _relative_noise(schedule, 3) == pytest.approx(
        schedule(3.75) / BASE(3.75) - 1.0, rel=1e-12
    )
    assert schedule(1.5) == BASE(1.5)  # floor(1.5) = 1 < start


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64])
def test_tensor_steps_equal_the_scalar_path_elementwise(dtype: torch.dtype) -> None:
    schedule = lr_noise(BASE, start=5, end=25, pct=0.3, std=0.5, seed=7)
    values = [-2, 0, 4, 5, 6, 6, 17, 24, 25, 29, 10**12]
    steps = torch.tensor(values, dtype=dtype)
    got = schedule(steps)
    assert got.dtype == torch.float64 and got.shape == steps.shape
    assert got.tolist() == [schedule(v) for v in values]
    grid = schedule(steps.reshape(1, -1).expand(2, -1))
    assert grid.shape == (2, len(values)) and torch.equal(grid[0], grid[1])


def test_float32_steps_give_float32_values() -> None:
    schedule = lr_noise(BASE, start=0)
    got = schedule(torch.arange(6, dtype=torch.float32))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, torch.tensor([schedule(s) for s in range(6)]).float())


def test_repr_equality_hash_and_pickle() -> None:
    schedule = lr_noise(BASE, start=5, end=25, pct=0.3, std=0.5, seed=7, kind="uniform")
    text = repr(schedule)
    assert text == (
        "lr_noise(schedule=bind(cosine, peak=0.4, steps=30, final=0.01), start=5, end=25, "
        "pct=0.3, std=0.5, seed=7, kind='uniform')"
    )
    assert eval(text, NAMESPACE) == schedule
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and hash(copy) == hash(schedule)
    assert [copy(s) for s in range(30)] == [schedule(s) for s in range(30)]
    assert lr_noise(BASE, start=5, end=25, pct=0.3, std=0.5, seed=8, kind="uniform") != schedule
    assert lr_noise(BASE, start=5, end=None, pct=0.3, std=0.5, seed=7, kind="uniform") != schedule
    assert repr(lr_noise(BASE, 3)).endswith(
        "start=3, end=None, pct=0.67, std=1.0, seed=42, kind='normal')"
    )


def test_is_frozen() -> None:
    schedule = lr_noise(BASE, start=0)
    with pytest.raises(AttributeError):
        schedule.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"schedule": 0.1}, r"schedule must be a schedule \(a callable step -> lr\), got float"),
        ({"start": -1}, r"start must be >= 0, got -1"),
        ({"start": math.nan}, r"start must be finite, got nan"),
        ({"end": 5}, r"end must be > start \(5\) or None, got 5"),
        ({"end": 2}, r"end must be > start \(5\) or None, got 2"),
        ({"end": "9"}, r"end must be a number, got str: '9'"),
        ({"pct": 0.0}, r"pct must be > 0, got 0.0"),
        ({"std": -0.5}, r"std must be >= 0, got -0.5"),
        ({"seed": 1.5}, r"seed must be an int, got 1.5"),
        ({"seed": True}, r"seed must be an int, got True"),
        ({"kind": "gaussian"}, r"kind must be one of 'normal', 'uniform', got 'gaussian'"),
    ],
)
def test_bad_arguments_raise(bad: dict[str, Any], match: str) -> None:
    kwargs: dict[str, Any] = {"schedule": BASE, "start": 5, **bad}
    with pytest.raises(ValueError, match=match):
        lr_noise(**kwargs)


def test_tensor_value_hyperparameters_and_numpy_steps() -> None:
    peaks = torch.tensor([0.1, 0.2], dtype=torch.float64)
    schedule = lr_noise(functools.partial(cosine, peak=peaks, steps=30), start=0, seed=3)
    got = schedule(5)  # a Python step, Tensor values: a Tensor of the values' shape
    assert isinstance(got, torch.Tensor) and got.shape == (2,)
    factor = lr_noise(BASE, start=0, seed=3)(5) / BASE(5)
    torch.testing.assert_close(got, cosine(5, peak=peaks, steps=30) * factor, rtol=1e-12, atol=0)
    grid = schedule(torch.tensor([[5], [6]]))
    assert grid.shape == (2, 2) and torch.equal(grid[0], got)
    plain = lr_noise(BASE, start=0)
    assert plain(np.int64(7)) == plain(7) and isinstance(plain(np.int64(7)), float)
    with pytest.raises(ValueError, match="step must be finite to seed lr_noise, got inf"):
        plain(math.inf)
