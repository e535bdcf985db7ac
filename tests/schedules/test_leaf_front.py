"""The front of every leaf (schedules/leaf_front.py): the public function, with the leaf's
signature and docs; a direct call repeated with the very same hyperparameter objects skips
their checks, anything else is checked as before."""

from __future__ import annotations

import inspect
import linecache
import math
import pickle
import traceback

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import FAMILIES, family_of
from schedules.leaf_family import Family


def _memo(family: Family) -> tuple[object, ...]:
    memo: tuple[object, ...] = family._memo[0]
    return memo


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_public_function_is_the_front_with_the_leafs_face(name: str) -> None:
    family = FAMILIES[name]
    front = getattr(schedules, name)
    assert family.function is front and family_of(front) is family
    leaf = front.__wrapped__
    assert inspect.signature(front) == inspect.signature(leaf)
    assert front.__doc__ == leaf.__doc__ and front.__name__ == leaf.__name__ == name
    assert front.__defaults__ == leaf.__defaults__
    pairs = zip(front.__defaults__ or (), leaf.__defaults__ or (), strict=True)
    assert all(a is b for a, b in pairs)
    assert pickle.loads(pickle.dumps(front)) is front


def test_a_repeated_call_uses_the_memo_and_gives_the_checked_value() -> None:
    family = FAMILIES["warmup_cosine"]
    peak, warmup, steps = 1e-3, 500, 10_000
    first = schedules.warmup_cosine(1234, peak=peak, warmup=warmup, steps=steps)
    memo = _memo(family)
    assert memo[:3] == (peak, warmup, steps) and memo[0] is peak
    assert schedules.warmup_cosine(1234, peak=peak, warmup=warmup, steps=steps) == first
    assert first == schedules.bind(schedules.warmup_cosine, peak=1e-3, warmup=500, steps=10_000)(
        1234
    )


def test_equal_objects_of_another_class_are_checked_again() -> None:
    schedules.cosine(3, peak=1.0, steps=10)
    assert _memo(FAMILIES["cosine"])[0] == 1.0
    with pytest.raises(ValueError, match="peak must be a number"):
        schedules.cosine(3, peak=True, steps=10)  # True == 1 == 1.0, but a bool
    steps = 10
    schedules.linear(3, 0.0, 1.0, steps)
    with pytest.raises(ValueError, match="steps"):
        schedules.linear(3, 0.0, 1.0, -steps)


def test_a_refused_call_leaves_the_memo_as_it_was() -> None:
    family = FAMILIES["cosine"]
    peak = 0.5
    good = schedules.cosine(4, peak, 8)
    before = family._memo[0]
    with pytest.raises(ValueError, match="steps must be > 0"):
        schedules.cosine(4, peak, -8)
    assert family._memo[0] is before
    assert schedules.cosine(4, peak, 8) == good


def test_tensor_hyperparameters_are_never_remembered() -> None:
    peak = torch.tensor(2.0)
    assert float(schedules.cosine(0, peak, 10)) == 2.0
    assert all(v is not peak for v in _memo(FAMILIES["cosine"]))
    peak.fill_(3.0)  # changed in place: the next call sees it
    assert float(schedules.cosine(0, peak, 10)) == 3.0


def test_a_nan_step_and_tensor_steps_go_through_the_checked_call() -> None:
    schedules.noam(10, 512, 4000)
    with pytest.raises(ValueError, match="NaN"):
        schedules.noam(math.nan, 512, 4000)
    steps = torch.arange(5)
    assert torch.equal(schedules.noam(steps, 512, 4000), schedules.noam(steps, 512.0, 4000.0))


@settings(max_examples=60, deadline=None)
@given(
    peak=st.floats(-10, 10),
    steps=st.integers(1, 10_000),
    step=st.integers(-5, 12_000),
    exponent=st.sampled_from([1.0, 2.0, 0.5]),
)
def test_the_shortcut_for_final_zero_is_interpolate_exactly(
    peak: float, steps: int, step: int, exponent: float
) -> None:
    """cosine and warmup_cosine write ``peak · factor`` for ``final = 0``: the same number as
    the general interpolation (which a non-zero but tiny ``final`` goes through)."""
    from schedules import scalar_math

    value = schedules.cosine(step, peak, steps, exponent=exponent)
    t = min(max(step, 0), steps)
    factor = (0.5 * (1.0 + math.cos(math.pi / steps * t))) ** exponent
    assert value == scalar_math.interpolate(0.0, peak, factor)
    warm = schedules.warmup_cosine(step + 3, peak, 3, steps + 3, exponent=exponent)
    assert warm == (value if step >= 0 else scalar_math.interpolate(0.0, peak, (step + 3) / 3))


def test_the_front_shows_in_tracebacks() -> None:
    with pytest.raises(ValueError) as error:
        schedules.cosine(3, 1.0, 0)
    frames = traceback.extract_tb(error.value.__traceback__)
    front = [f for f in frames if f.filename.startswith("<front of schedules.cosine")]
    assert front and front[0].line  # its source is in linecache
    assert linecache.getline(front[0].filename, 1).startswith("def cosine(step, peak, steps")


def test_a_family_takes_one_leaf_and_the_front_keeps_its_own_names() -> None:
    family = FAMILIES["constant"]
    with pytest.raises(ValueError, match="has its leaf already"):
        family.leaf(lambda step, value: value)
    fresh = Family(family.prepare, family.scalar, family.tensor)
    with pytest.raises(ValueError, match="are the front's own"):
        fresh.leaf(lambda step, _memo_: _memo_)
