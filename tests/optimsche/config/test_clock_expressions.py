"""on, shift, add, offset, the global join and eden by name in schedule expressions."""

from __future__ import annotations

import pytest

import schedules
from optimsche.config.error import ConfigError
from optimsche.config.schedule_expression import known_names, parse_schedule_expression
from optimsche.config.schedule_values import check_schedule_values
from schedules import Time, at_time, bind, constant, cosine, exponential


@pytest.mark.parametrize(
    ("text", "built"),
    [
        (
            "multiply(on('update', cosine(peak=1.0, steps=100)), "
            "on('epoch', exponential(start=1.0, rate=0.5, steps=1)))",
            schedules.multiply(
                schedules.on("update", bind(cosine, peak=1.0, steps=100)),
                schedules.on("epoch", bind(exponential, start=1.0, rate=0.5, steps=1)),
            ),
        ),
        (
            "shift(cosine(peak=1.0, steps=100), -50)",
            schedules.shift(bind(cosine, peak=1.0, steps=100), -50),
        ),
        (
            "add(constant(value=0.5), offset(cosine(peak=1.0, steps=10), -0.25))",
            schedules.add(
                bind(constant, value=0.5),
                schedules.offset(bind(cosine, peak=1.0, steps=10), -0.25),
            ),
        ),
        (
            "join([constant(value=0.5), cosine(peak=1.0, steps=50)], [10], relative=False)",
            schedules.join(
                [bind(constant, value=0.5), bind(cosine, peak=1.0, steps=50)], [10], relative=False
            ),
        ),
        ("eden(lr_batches=5000, lr_epochs=3.5)", schedules.eden(5000, 3.5)),
        ("eden2(5000, warmup_batches=100)", schedules.eden2(5000, warmup_batches=100)),
    ],
)
def test_new_names_build_what_python_builds(text: str, built: object) -> None:
    parsed = parse_schedule_expression(text)
    assert parsed.kind == "combinator" and parsed.schedule == built
    for time in (Time(update=1, epoch=1), Time(update=77, epoch=3)):
        assert at_time(parsed.schedule, time) == at_time(built, time)
    check_schedule_values(parsed.schedule, "test")  # a two-clock schedule is sampled too


def test_the_names_are_in_the_language() -> None:
    assert {"on", "shift", "add", "offset", "eden", "eden2"} <= set(known_names())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("on('epoc', cosine(peak=1.0, steps=10))", "did you mean 'epoch'"),
        (
            "shift(on('epoch', cosine(peak=1.0, steps=10)), 3)",
            r"shift: schedule reads the 'epoch' clock.*on\('epoch', shift\(f, \.\.\.\)\)",
        ),
        ("shift(cosine(peak=1.0, steps=10), 1e300)", r"steps must be within ±2\^53"),
        ("eden(lr_batches=-1)", "lr_batches must be > 0"),
        ("offset(cosine(peak=1.0, steps=10))", "missing a required argument: 'amount'"),
        (
            "join([constant(value=1.0), constant(value=2.0)], [5], relative=1)",
            "relative must be a bool",
        ),
    ],
)
def test_bad_expressions_are_one_line_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_schedule_expression(text)
