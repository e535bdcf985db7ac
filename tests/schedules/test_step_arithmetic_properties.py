"""Properties of the step clock: ``real_step`` counts windows of ``accum_grad`` micro-steps
(1-based), ``is_update_step`` fires on the last micro-step of every ``step_per_update``-th
window, and ``accumulate`` changes a schedule's value only when a new window starts."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import accumulate, is_update_step, real_step
from schedules.step_arithmetic import takes_part
from schedules.testing import assert_changes_only_at, hyperparameters, steps

ACCUM = st.integers(1, 64)


@settings(max_examples=100)
@given(n=st.integers(0, 3000), accum_grad=ACCUM)
def test_n_micro_steps_span_exactly_ceil_n_over_accum_grad_windows(n: int, accum_grad: int) -> None:
    windows = {real_step(k, accum_grad) for k in range(1, n + 1)}
    assert len(windows) == math.ceil(n / accum_grad)
    assert windows == set(range(1, math.ceil(n / accum_grad) + 1))
    assert real_step(n, accum_grad) == math.ceil(n / accum_grad)


@settings(max_examples=100)
@given(n=steps(1), accum_grad=st.integers(1, 10**6))
def test_real_step_is_ceil_at_any_size_for_ints_and_tensors(n: int, accum_grad: int) -> None:
    expected = -(-n // accum_grad)
    assert real_step(n, accum_grad) == expected
    tensor = real_step(torch.tensor([n, 0, -5]), accum_grad)
    assert tensor.tolist() == [expected, 0, 0]


@settings(max_examples=100)
@given(n=st.integers(0, 2000), accum_grad=ACCUM, step_per_update=st.integers(1, 8))
def test_update_steps_are_the_last_micro_step_of_every_nth_window(
    n: int, accum_grad: int, step_per_update: int
) -> None:
    updates = [k for k in range(1, n + 1) if is_update_step(k, accum_grad, step_per_update)]
    period = accum_grad * step_per_update
    assert updates == list(range(period, n + 1, period))
    assert len(updates) == n // period
    for k in updates:  # an update ends its window, and the optimizer took part in it
        assert k % accum_grad == 0 and takes_part(k, accum_grad, step_per_update)
    assert not is_update_step(0, accum_grad, step_per_update)


@settings(max_examples=100)
@given(n=st.integers(1, 2000), accum_grad=ACCUM, step_per_update=st.integers(1, 8))
def test_takes_part_in_whole_windows(n: int, accum_grad: int, step_per_update: int) -> None:
    window = real_step(n, accum_grad)
    part = takes_part(n, accum_grad, step_per_update)
    assert part == (window % step_per_update == 0)
    first = (window - 1) * accum_grad + 1  # every micro-step of a window agrees
    assert all(takes_part(k, accum_grad, step_per_update) == part for k in range(first, n + 1))


@settings(max_examples=40, deadline=None)
@given(
    family=st.sampled_from(["noam", "warmup_cosine", "one_cycle", "step_decay"]),
    data=st.data(),
    accum_grad=st.integers(2, 16),
)
def test_accumulate_changes_only_when_a_window_starts(
    family: str, data: st.DataObject, accum_grad: int
) -> None:
    kwargs: dict[str, Any] = data.draw(hyperparameters(family, max_steps=100))
    inner = functools.partial(getattr(schedules, family), **kwargs)
    schedule = accumulate(inner, accum_grad)
    stop = 40 * accum_grad
    assert_changes_only_at(schedule, range(1, stop + 1, accum_grad), 0, stop)
    for n in range(1, stop + 1):
        if is_update_step(n, accum_grad):  # the lr of an update is the schedule at its window
            assert schedule(n) == inner(n // accum_grad)
