"""Any tree of combinators over bound leaves (schedules.testing.combined_schedules): Python and
Tensor steps agree, the repr evaluates back to an equal schedule, pickling keeps it, and
binding the whole tree to a clock changes nothing but which clock it reads."""

from __future__ import annotations

import math
import pickle

from hypothesis import HealthCheck, given, settings

import schedules
from schedules import Time, at_time, on
from schedules.combinator_fields import schedule_repr
from schedules.testing import assert_scalar_tensor_agree, combined_schedules, times

STEPS = [0, 1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, 5000, 20_000]


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=combined_schedules(max_steps=1000))
def test_python_and_tensor_steps_agree(tree: object) -> None:
    assert_scalar_tensor_agree(tree, STEPS, rtol=1e-9, atol=1e-12)  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=combined_schedules(max_steps=1000))
def test_repr_evaluates_back_and_pickles(tree: object) -> None:
    rebuilt = eval(schedule_repr(tree), vars(schedules))  # a bare leaf shows as bind(...)
    copy = pickle.loads(pickle.dumps(tree))
    assert rebuilt == tree and copy == tree and hash(rebuilt) == hash(tree)
    for s in STEPS:
        assert _same(rebuilt(s), tree(s)) and _same(copy(s), tree(s))  # type: ignore[operator]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=combined_schedules(max_steps=1000), t=times(max_update=10**4, max_epoch=100))
def test_a_tree_bound_to_a_clock_reads_that_clock(tree: object, t: Time) -> None:
    for clock in schedules.CLOCKS:
        expected = tree(getattr(t, clock))  # type: ignore[operator]
        assert _same(at_time(on(clock, tree), t), expected)
    assert _same(at_time(tree, t), tree(t.of(t.clock)))  # type: ignore[operator]
