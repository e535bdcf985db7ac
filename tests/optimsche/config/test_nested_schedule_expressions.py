"""The schedule expression language with combinators: nested calls of leaves and combinators,
literal arguments, parsed with ast and never evaluated; and ``schedule:`` in configs."""

from __future__ import annotations

import functools
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import batches, mse, tiny_mlp

import schedules
from optimsche import build_optim_sches, load_config
from optimsche.cli.schedule_horizon import expression_horizon
from optimsche.config.error import ConfigError
from optimsche.config.schedule_expression import (
    MAX_DEPTH,
    combinators,
    describe_signature,
    parse_schedule_expression,
)

COSINE = schedules.bind(schedules.cosine, peak=1e-3, steps=10000)


def test_warmup_of_cosine_equals_the_python_composition() -> None:
    parsed = parse_schedule_expression("warmup(cosine(peak=1e-3, steps=10000), steps=500)")
    expected = schedules.warmup(COSINE, 500)
    assert parsed.schedule == expected and parsed.kind == "combinator"
    steps = torch.arange(0, 12000, 7)
    assert torch.equal(parsed.schedule(steps), expected(steps))
    assert [parsed.schedule(s) for s in (0, 250, 500, 10500)] == [
        expected(s) for s in (0, 250, 500, 10500)
    ]
    assert parsed.children[0].name == "cosine"
    assert parsed.text == "warmup(cosine(peak=1e-3, steps=10000), steps=500)"


def test_join_takes_a_list_of_calls() -> None:
    text = "join([constant(value=1e-3), cosine(peak=1e-3, steps=9000)], boundaries=[1000])"
    parsed = parse_schedule_expression(text)
    expected = schedules.join(
        [
            schedules.bind(schedules.constant, value=1e-3),
            schedules.bind(schedules.cosine, peak=1e-3, steps=9000),
        ],
        [1000],
    )
    assert parsed.schedule == expected
    for step in (0, 999, 1000, 5500, 10_000, 10**6):
        assert parsed.schedule(step) == expected(step)
    assert [c.name for c in parsed.children] == ["constant", "cosine"]


def test_every_combinator_nests_positionally_and_by_keyword() -> None:
    text = (
        "clamp(stretch(accumulate(scale(warmup(noam(512, 4000), 100, start=0.0), 2.0), "
        "accum_grad=4), ratio=0.5), min=1e-6, max=1e-2)"
    )
    parsed = parse_schedule_expression(text)
    noam = schedules.bind(schedules.noam, d_model=512, warmup=4000)
    expected = schedules.clamp(
        schedules.stretch(
            schedules.accumulate(schedules.scale(schedules.warmup(noam, 100, 0.0), 2.0), 4), 0.5
        ),
        min=1e-6,
        max=1e-2,
    )
    assert parsed.schedule == expected
    assert {"clamp", "stretch", "accumulate", "scale", "warmup", "join"} <= set(combinators())


@settings(max_examples=40, deadline=None)
@given(
    warm=st.integers(1, 1000),
    steps=st.integers(1, 10_000),
    peak=st.floats(1e-6, 1.0),
    step=st.integers(0, 20_000),
)
def test_parsed_nested_schedule_equals_the_objects_built_in_python(
    warm: int, steps: int, peak: float, step: int
) -> None:
    parsed = parse_schedule_expression(
        f"warmup(cosine(peak={peak!r}, steps={steps}), steps={warm})"
    )
    expected = schedules.warmup(functools.partial(schedules.cosine, peak=peak, steps=steps), warm)
    assert parsed.schedule(step) == expected(step)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("warmup(cosine(peak=x, steps=2), steps=5)", "argument 'x' is not a literal"),
        ("warmup(cosine(peak=1, steps=2), steps=5+1)", "argument '5+1' is not a literal"),
        (
            "warmup(cosin(peak=1, steps=2), steps=5)",
            "unknown schedule 'cosin'; did you mean 'cosine'",
        ),
        ("warmup(os.system('x'), steps=5)", "expected one call of a schedule function by name"),
        ("warmup(0.1, steps=5)", "warmup: schedule must be a schedule (a callable step -> lr)"),
        ("warmup('cosine', steps=5)", "warmup: schedule must be a schedule"),
        ("join([0.1, 0.2], boundaries=[10])", "join: schedules[0] must be a schedule"),
        (
            "warmup(cosine(peak=1, steps=2), warmup_steps=5)",
            "unknown key 'warmup_steps' for combinator 'warmup'; did you mean 'steps'?",
        ),
        (
            "warmup(cosine(peak=1, steps=2))",
            "warmup(schedule, steps, start=0.0, prefix=True, shape='linear'): missing a required",
        ),
        ("warmup(cosine(peak=1, steps=2), steps=-5)", "warmup: steps must be > 0, got -5"),
        (
            "cosine(peak=constant(value=1), steps=2)",
            "cosine: peak must be a number, not a schedule",
        ),
        ("scale(warmup(cosine(peak=1, steps=2), 5), factor='2')", "factor must be a number"),
        ("warmup(*a)", "*arguments are not allowed"),
        (
            "join([constant(value=1), constant(value=2)], boundaries=[10, 20])",
            "join needs one boundary fewer than schedules",
        ),
    ],
)
def test_refused_nested_expressions_are_one_line_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        parse_schedule_expression(text)
    assert "\n" not in str(error.value)


def test_too_deep_a_nesting_is_refused() -> None:
    ok = "constant(value=1)"
    for _ in range(MAX_DEPTH - 1):
        ok = f"scale({ok}, 1.0)"
    assert parse_schedule_expression(ok).schedule(3) == 1.0
    deep = f"scale({ok}, 1.0)"
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_schedule_expression(deep)
    very_deep = "scale(" * 500 + "constant(value=1)" + ", 1.0)" * 500
    with pytest.raises(ConfigError) as error:
        parse_schedule_expression(very_deep)
    assert "\n" not in str(error.value)


def test_describe_signature_of_a_combinator() -> None:
    assert describe_signature("warmup") == (
        "warmup(schedule, steps, start=0.0, prefix=True, shape='linear')"
    )


@pytest.mark.parametrize(
    ("text", "horizon"),
    [
        ("cosine(peak=1, steps=9000)", 9000),
        ("warmup(cosine(peak=1, steps=9000), steps=500)", 9500),
        ("join([constant(value=1), cosine(peak=1, steps=9000)], boundaries=[1000])", 10_000),
        ("stretch(cosine(peak=1, steps=100), ratio=3)", 300),
        ("accumulate(cosine(peak=1, steps=100), 4)", 400),
        ("clamp(scale(cosine(peak=1, steps=100), 2.0), max=1.0)", 100),
        ("cosine(peak=1, steps=1e300)", 10**15),
    ],
)
def test_horizons_compose(text: str, horizon: int) -> None:
    assert expression_horizon(parse_schedule_expression(text)) == horizon


def _config(conf: str, type_line: str = "") -> str:
    return f"optim_sches:\n  main:\n{type_line}    conf:\n      optim_type: SGD\n{conf}"


def test_a_config_schedule_expression_drives_the_shell() -> None:
    text = _config('      schedule: "warmup(cosine(peak=1e-3, steps=100), steps=10)"\n')
    model = tiny_mlp()
    group = build_optim_sches(load_config(text), model)
    expected = schedules.warmup(schedules.bind(schedules.cosine, peak=1e-3, steps=100), 10)
    assert group["main"].schedule == expected
    for x, y in batches(3):
        reports = group.step(mse(model, x, y))
    assert reports["main"].lr == expected(3)
    typed = _config(
        '      schedule: "cosine(peak=1e-3, steps=100)"\n', "    type: OptimScheduler\n"
    )
    assert build_optim_sches(load_config(typed), tiny_mlp())["main"].get_lr() == 1e-3


@pytest.mark.parametrize(
    ("conf", "type_line", "message"),
    [
        (
            '      schedule: "warmup(cosine(peak=-1e-3, steps=100), steps=10)"\n',
            "",
            "optim_sches.main.conf.schedule: lr: the schedule warmup(",
        ),
        (
            "      schedule: 3\n",
            "",
            "optim_sches.main.conf.schedule: must be a schedule expression",
        ),
        (
            '      schedule: "cosine(peak=1e-3, steps=100)"\n',
            "    type: noam.NoamLr\n",
            "type 'noam.NoamLr' computes the lr itself",
        ),
        (
            '      schedule: "cosine(peak=1e-3, steps=100)"\n',
            "    type: cosine\n",
            "type 'cosine' computes the lr itself",
        ),
        (
            '      schedule: "warmup(cosine(peak=1e-3, steps=100), stepz=10)"\n',
            "",
            "optim_sches.main.conf.schedule 'warmup(cosine(peak=1e-3, steps=100), stepz=10)': "
            "unknown key 'stepz' for combinator 'warmup'; did you mean 'steps'?",
        ),
        ("      peak: 1\n", "", "optim_sches.main: missing key 'type'"),
    ],
)
def test_config_schedule_mistakes(conf: str, type_line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_optim_sches(load_config(_config(conf, type_line)), tiny_mlp())


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ("peak: -1.0, steps: 100", r"gave -1\.0 at step 0"),
        ("peak: 1.0, steps: 100, final: -0.1", r"gave -0\.\d+ at step \d+"),
    ],
)
def test_a_negative_lr_in_a_leaf_config_is_refused(hyper: str, message: str) -> None:
    text = f"type: cosine\nconf: {{optim_type: SGD, {hyper}}}"
    with pytest.raises(
        ConfigError, match=r"optim_sches\.main\.conf: lr: the schedule .*" + message
    ):
        build_optim_sches(load_config(text), tiny_mlp())


@pytest.mark.parametrize("key", ["optim_sche", "optim_schess", "optimsches", "Optim_sches"])
def test_a_misspelled_optim_sches_key_is_an_error_with_the_suggestion(key: str) -> None:
    text = f"{key}:\n  main:\n    type: cosine\n    conf: {{optim_type: SGD, peak: 1, steps: 9}}"
    with pytest.raises(
        ConfigError, match=re.escape(f"{key}: unknown key; did you mean 'optim_sches'?")
    ):
        build_optim_sches(load_config(text), tiny_mlp())
