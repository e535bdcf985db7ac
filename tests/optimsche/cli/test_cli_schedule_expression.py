"""Schedule expressions for `optimsche plot --schedule`: parsed with ast, never evaluated."""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche.config.error import ConfigError
from optimsche.config.schedule_expression import describe_signature, parse_schedule_expression


def test_keyword_arguments() -> None:
    parsed = parse_schedule_expression("warmup_cosine(peak=3e-4, warmup=2000, steps=100000)")
    assert parsed.name == "warmup_cosine"
    assert parsed.hyperparameters == {"peak": 3e-4, "warmup": 2000, "steps": 100000}
    expected = functools.partial(schedules.warmup_cosine, peak=3e-4, warmup=2000, steps=100000)
    for step in (0, 1, 1999, 2000, 50_000, 100_000, 10**7):
        assert parsed.schedule(step) == expected(step)


def test_positional_arguments_follow_the_step_and_literals_nest() -> None:
    parsed = parse_schedule_expression("  multistep(0.1, [30, 60], gamma=0.1)  ")
    assert parsed.hyperparameters == {"start": 0.1, "milestones": [30, 60], "gamma": 0.1}
    points = parse_schedule_expression("piecewise_linear(points=[(0, 0.0), (10, -1e-3)])")
    assert points.hyperparameters == {"points": [(0, 0.0), (10, -1e-3)]}
    assert points.schedule(5) == pytest.approx(-5e-4)
    shaped = parse_schedule_expression("warmup_stable_decay(1.0, 10, 10, 10, shape='1-sqrt')")
    assert shaped.hyperparameters["shape"] == "1-sqrt"


@settings(max_examples=50, deadline=None)
@given(
    peak=st.floats(1e-6, 10.0),
    warmup=st.integers(1, 1000),
    extra=st.integers(1, 10_000),
    step=st.integers(0, 20_000),
)
def test_parsed_schedule_equals_the_function_with_those_arguments(
    peak: float, warmup: int, extra: int, step: int
) -> None:
    text = f"warmup_cosine(peak={peak!r}, warmup={warmup}, steps={warmup + extra})"
    parsed = parse_schedule_expression(text)
    assert parsed.schedule(step) == schedules.warmup_cosine(
        step, peak=peak, warmup=warmup, steps=warmup + extra
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "expected one call of a schedule function by name"),
        ("schedules.cosine(peak=1, steps=2)", "expected one call of a schedule function by name"),
        ("cosine(peak=1, steps=2) + 1", "expected one call of a schedule function by name"),
        ("lambda s: s", "expected one call of a schedule function by name"),
        ("open('x')", "unknown schedule 'open'"),
        ("cosin(peak=1, steps=2)", "unknown schedule 'cosin'; did you mean 'cosine'"),
        ("warmup(peak=1)", "unknown key 'peak' for combinator 'warmup'"),
        ("warmpu(cosine(peak=1, steps=2), 5)", "unknown schedule 'warmpu'; did you mean 'warmup'"),
        ("real_step(3)", "unknown schedule 'real_step'"),
        ("cosine(peak=x, steps=2)", "argument 'x' is not a literal"),
        ("cosine(peak=abs(-1), steps=2)", "unknown schedule 'abs'"),
        ("cosine(peak={'a': 1}, steps=2)", "argument \"{'a': 1}\" is not a literal"),
        ("cosine(peak=1, steps=2*3)", "argument '2*3' is not a literal"),
        ("cosine(*a)", "*arguments are not allowed"),
        ("cosine(**a)", "**arguments are not allowed"),
        (
            "cosine(peak=1)",
            "missing hyperparameter 'steps' of cosine(peak, steps, final=0.0, exponent=1.0, "
            "k_decay=1.0, cycle=False)",
        ),
        ("cosine(1, 2, 3, 4, 5, 6, 7)", "cosine takes at most 6 positional hyperparameters"),
        ("cosine(1, peak=2, steps=3)", "'peak' is given twice"),
        (
            "cosine(peak=1, stepz=2)",
            "unknown key 'stepz' for schedule 'cosine'; did you mean 'steps'?",
        ),
        ("cosine(peak='a', steps=2)", "peak must be a number, got str: 'a'"),
        ("cosine(peak=1, steps=-2)", "steps must be > 0, got -2"),
        ("cosine(", "not a valid call"),
        ("", "expected a call such as"),
    ],
)
def test_refused_expressions(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        parse_schedule_expression(text)
    assert "\n" not in str(error.value)


def test_describe_signature_lists_defaults() -> None:
    assert describe_signature("cosine") == (
        "cosine(peak, steps, final=0.0, exponent=1.0, k_decay=1.0, cycle=False)"
    )
