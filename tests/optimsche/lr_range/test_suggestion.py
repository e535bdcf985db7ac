"""The suggestion: the steepest descent of the smoothed loss, against numpy's gradient and a
curve whose steepest point is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimsche.lr_range.suggestion import steepest_descent


@given(
    ys=st.lists(st.floats(-100, 100), min_size=2, max_size=50),
    low=st.floats(-12, -2),
    log_axis=st.booleans(),
)
def test_argmin_of_numpy_gradient(ys: list[float], low: float, log_axis: bool) -> None:
    lrs = [10 ** (low + 0.1 * i) for i in range(len(ys))]
    xs = np.log(lrs) if log_axis else np.array(lrs)
    slopes = np.gradient(np.array(ys), xs)
    index = steepest_descent(lrs, ys, log_axis=log_axis, skip_begin=0, skip_end=0)
    assert index is not None
    assert slopes[index] == pytest.approx(slopes.min(), rel=1e-9, abs=1e-9)


def test_steepest_point_of_a_known_curve() -> None:
    # smoothed = -tanh(log(lr) - log(1e-3)): falls fastest at lr = 1e-3 on the log axis
    lrs = [10 ** (-7 + 0.05 * i) for i in range(161)]
    ys = [-math.tanh(math.log(lr) - math.log(1e-3)) for lr in lrs]
    index = steepest_descent(lrs, ys, log_axis=True, skip_begin=0, skip_end=0)
    assert index is not None and lrs[index] == pytest.approx(1e-3, rel=0.06)


def test_skips_and_nonfinite_points() -> None:
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    ys = [1.0, -50.0, 0.9, 0.5, float("nan"), 0.0]
    # the steep drop at index 1 is skipped; NaN is left out; 0.9 -> 0.5 is the steepest left
    assert steepest_descent(lrs, ys, log_axis=True, skip_begin=2, skip_end=0) == 2
    assert steepest_descent(lrs, ys, log_axis=True, skip_begin=4, skip_end=1) is None
    assert (
        steepest_descent(lrs, ys[:1] + [math.inf] * 5, log_axis=True, skip_begin=0, skip_end=0)
        is None
    )


@pytest.mark.parametrize(("key", "value"), [("skip_begin", -1), ("skip_end", 1.5)])
def test_bad_skips_are_refused(key: str, value: object) -> None:
    arguments = {"skip_begin": 0, "skip_end": 0, key: value}
    with pytest.raises(ValueError, match=key):
        steepest_descent([1e-3, 1e-2], [1.0, 0.5], log_axis=True, **arguments)  # type: ignore[arg-type]
