"""Messages write integral numbers as integers (schedules.number_text), everything else as
its repr; the checks' messages quote checked numbers through it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import schedules
from optimsche.optimizer.checked_value import check_value
from schedules.number_text import number_text


@given(st.integers())
def test_an_int_is_written_as_itself(value: int) -> None:
    assert number_text(value) == str(value)


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_an_integral_float_is_written_as_its_integer(value: int) -> None:
    assert number_text(float(value)) == str(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_reads_back_as_itself(value: float) -> None:
    text = number_text(value)
    if math.isnan(value):
        assert text == "nan"
    else:
        assert float(text) == value
        assert ("." in text or "e" in text or "inf" in text) != (
            value.is_integer() and abs(value) < 2**53
        )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (200000.0, "200000"),
        (-3.0, "-3"),
        (-0.0, "0"),
        (0.001, "0.001"),
        (2.5, "2.5"),
        (1e20, "1e+20"),
        (float("inf"), "inf"),
        (np.float64(4.0), "4"),
        (np.int64(7), "7"),
        (Fraction(3, 2), "1.5"),
        (True, "True"),
        (None, "None"),
        ("10", "'10'"),
    ],
)
def test_examples(value: object, text: str) -> None:
    assert number_text(value) == text


BAD_CALLS: list[tuple[Callable[[], object], str]] = [
    (
        lambda: schedules.warmup_cosine(5, peak=1e-3, warmup=200000, steps=1000),
        "steps must be > warmup (200000): steps is the total length, warmup included, got 1000",
    ),
    (
        lambda: schedules.cosine_restarts(5, peak=1.0, period=10, warmup=20),
        "warmup must be < period (10): each cycle warms up then anneals, got 20",
    ),
    (
        lambda: schedules.exponential(5, start=1, rate=0.5, steps=10, end=2),
        "end must be <= start (1) when rate < 1, got 2",
    ),
    (
        lambda: schedules.tanh_decay(5, peak=1.0, steps=10, lower=3, upper=3),
        "upper must be > lower (3), got 3",
    ),
    (
        lambda: schedules.one_cycle(5, peak=1.0, steps=10, pct_start=0.1),
        "pct_start · steps must not be 1 (got pct_start=0.1, steps=10): the warm-up phase "
        "would have zero length",
    ),
    (
        lambda: schedules.piecewise_linear(5, points=[(0, 1.0), (5, 0.5), (3, 0.1)]),
        "points must be sorted by step, but points[2] step 3 < points[1] step 5: "
        "[(0, 1.0), (5, 0.5), (3, 0.1)]",
    ),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_hyperparameter_messages_write_integers_as_integers(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


@pytest.mark.parametrize(("value", "t"), [(-1, 3), (torch.tensor(-2.0), 4.0)])
def test_the_scheduled_value_check_writes_integers_as_integers(value: object, t: object) -> None:
    with pytest.raises(ValueError) as error:
        check_value("lr", value, schedule="f", t=t)
    assert re.search(r"gave -\d at step \d;", str(error.value)), str(error.value)
