"""``cyclic(..., scale_fn=f, scale_mode=m)``: torch ``CyclicLR`` with a custom amplitude,
``base + (peak - base) · h · f(c)`` (``m = "cycle"``, ``c`` the 1-based cycle) or ``f(s)``
(``m = "iterations"``); anchored in test_peer_anchors.py."""

from __future__ import annotations

import functools
import math
import pickle
from typing import Any

import pytest
import torch

from schedules import cyclic
from schedules.testing import assert_bounded, assert_scalar_tensor_agree, assert_vmappable

WAVE: dict[str, Any] = {"base": 0.1, "peak": 0.5, "up": 2, "down": 6}
STEPS = [0, 1, 2, 5, 8, 10, 13, 16, 26, 12345, 10**9 + 3]


def halving(cycle: Any) -> Any:
    """triangular2's amplitude: ½^(cycle - 1)."""
    return 0.5 ** (cycle - 1)


def decaying(step: Any) -> Any:
    """exp_range's amplitude for gamma 0.97."""
    return 0.97**step


def test_a_scale_fn_of_the_cycle_reproduces_triangular2() -> None:
    custom = functools.partial(cyclic, **WAVE, scale_fn=halving)
    builtin = functools.partial(cyclic, **WAVE, mode="triangular2")
    assert [custom(s) for s in STEPS] == pytest.approx([builtin(s) for s in STEPS], rel=1e-14)


def test_a_scale_fn_of_the_iterations_reproduces_exp_range() -> None:
    custom = functools.partial(cyclic, **WAVE, scale_fn=decaying, scale_mode="iterations")
    builtin = functools.partial(cyclic, **WAVE, mode="exp_range", gamma=0.97)
    assert [custom(s) for s in STEPS] == pytest.approx(
        [builtin(s) for s in STEPS], rel=1e-12, abs=1e-300
    )


def test_what_the_scale_fn_sees() -> None:
    seen: list[Any] = []

    def probe(x: Any) -> Any:
        seen.append(x)
        return 1.0

    cyclic(9, **WAVE, scale_fn=probe)  # cycle = floor(1 + 9/8) = 2
    cyclic(9, **WAVE, scale_fn=probe, scale_mode="iterations")
    assert seen == [2.0, 9.0]
    seen.clear()
    cyclic(torch.tensor([0, 9]), **WAVE, scale_fn=probe)
    assert len(seen) == 1 and isinstance(seen[0], torch.Tensor)
    assert seen[0].tolist() == [1.0, 2.0]


def test_a_constant_scale_fn_is_triangular_and_results_are_floats() -> None:
    got = cyclic(3, **WAVE, scale_fn=lambda c: 1)
    assert isinstance(got, float) and got == cyclic(3, **WAVE)


def test_scalar_and_tensor_agree_bounded_and_vmap() -> None:
    schedule = functools.partial(cyclic, **WAVE, scale_fn=halving)
    assert_scalar_tensor_agree(schedule, STEPS, rtol=1e-12)
    assert_vmappable(schedule, STEPS)
    assert_bounded(schedule, 0.1, 0.5, range(0, 200))


def test_a_partial_with_a_module_level_scale_fn_pickles() -> None:
    schedule = functools.partial(cyclic, **WAVE, scale_fn=halving)
    copy = pickle.loads(pickle.dumps(schedule))
    assert [copy(s) for s in STEPS] == [schedule(s) for s in STEPS]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"scale_fn": 0.5}, r"scale_fn must be a callable of one number or None, got float: 0.5"),
        ({"scale_fn": halving, "scale_mode": "epoch"},
         r"scale_mode must be one of 'cycle', 'iterations', got 'epoch'"),
        ({"scale_mode": "iterations"}, r"scale_mode applies only with a scale_fn"),
        ({"scale_fn": halving, "mode": "exp_range"},
         r"mode must be 'triangular' \(the default\) when scale_fn is given"),
    ],
)  # fmt: skip
def test_bad_scale_arguments_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cyclic(1, **{**WAVE, **bad})


def test_huge_steps_with_a_scale_fn() -> None:
    schedule = functools.partial(cyclic, **WAVE, scale_fn=lambda c: 1.0 / c)
    step = 10**12 + 2  # at a peak of cycle 1.25e11 + 1
    expected = 0.1 + 0.4 / (10**12 // 8 + 1)
    assert schedule(step) == pytest.approx(expected, rel=1e-9)
    assert schedule(torch.tensor([step])).item() == pytest.approx(expected, rel=1e-9)
    assert math.isfinite(schedule(10**12))
