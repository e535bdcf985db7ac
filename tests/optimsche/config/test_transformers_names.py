"""transformers' scheduler names as config ``type:``s and in expressions
(:mod:`optimsche.config.language_names`): the rule (``transformers.<name>`` always, the bare
name where :mod:`schedules` has none), the same lr as transformers 5.25.0 on every update
(tests/optimsche/get_scheduler_vectors), and every refusal naming the valid choices."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche import build_optim_sches
from optimsche.config.error import ConfigError
from optimsche.config.language_names import (
    CLASHING,
    TRANSFORMERS_PREFIX,
    builders,
    known_names,
    transformers_names,
)
from optimsche.config.schedule_expression import (
    describe_signature,
    parse_schedule_call,
    parse_schedule_expression,
)
from optimsche.config.type_resolution import (
    ExpressionCallType,
    ScheduleFunctionType,
    known_type_names,
    resolve_type,
)
from schedules.transformers_shapes import METRIC_TYPES, SCHEDULER_TYPES, STEP_TYPES

VECTORS = json.loads(
    (
        Path(__file__).resolve().parents[1] / "get_scheduler_vectors" / "get_scheduler.json"
    ).read_text()
)
STEP_CASES: list[dict[str, Any]] = [c for c in VECTORS["cases"] if c["metrics"] is None]


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [
        f"{c['name']}-{c['num_warmup_steps']}-{c['num_training_steps']}-{c['kwargs']}"
        for c in cases
    ]


def _keys(case: dict[str, Any]) -> dict[str, Any]:
    """The conf keys of ``case`` for group 0 (its initial lr the peak, the optimizer's
    default lr the ``lr`` that polynomial and min_lr read)."""
    keys: dict[str, Any] = {"peak": case["group_lrs"][0], "lr": case["defaults_lr"]}
    for key in ("num_warmup_steps", "num_training_steps"):
        if case[key] is not None:
            keys[key] = case[key]
    return {**keys, **case["kwargs"]}


def _config(type_name: str, keys: dict[str, Any], **general: Any) -> dict[str, Any]:
    conf = {"optim_type": "SGD", "optim_conf": {"lr": 0.5}, **general, **keys}
    return {"optim_sches": {"main": {"type": type_name, "conf": conf}}}


def _lrs(config: dict[str, Any], updates: int) -> list[float]:
    model = torch.nn.Linear(2, 1)
    main = build_optim_sches(config, model)["main"]
    return [float(main.step(model(torch.ones(1, 2)).sum()).lr) for _ in range(updates)]


def test_the_clashing_names_are_those_schedules_also_has() -> None:
    ours = {*schedules.FAMILIES, *schedules.__all__}
    assert set(CLASHING) == {name for name in SCHEDULER_TYPES if name in ours}
    assert set(CLASHING) >= {"linear", "cosine", "polynomial", "constant", "inverse_sqrt"}


def test_every_name_has_its_prefixed_form_and_the_bare_form_where_it_does_not_clash() -> None:
    names = transformers_names()
    for name in SCHEDULER_TYPES:
        assert names[TRANSFORMERS_PREFIX + name] == name
        assert (name in names) == (name not in CLASHING)
    for name in STEP_TYPES:
        assert TRANSFORMERS_PREFIX + name in known_names()
        assert TRANSFORMERS_PREFIX + name in known_type_names()
        assert isinstance(resolve_type(TRANSFORMERS_PREFIX + name), ExpressionCallType)


@pytest.mark.parametrize("name", CLASHING)
def test_a_clashing_bare_name_is_schedules_own(name: str) -> None:
    if name in schedules.FAMILIES:
        resolved = resolve_type(name)
        assert resolved == ScheduleFunctionType(name=name, function=getattr(schedules, name))
    else:  # greedy: schedules' rule, which is no type
        with pytest.raises(ConfigError, match=f"unknown type '{name}'"):
            resolve_type(name)


@pytest.mark.parametrize("case", STEP_CASES, ids=_ids(STEP_CASES))
def test_a_config_type_gives_transformers_lr_on_every_update(case: dict[str, Any]) -> None:
    updates = int(case["steps"])
    expected = [lrs[0] for lrs in case["lrs"][:updates]]  # the k-th update: after k - 1 steps
    for count_from in (1, 0):  # the schedule counts as the entry's shell does
        config = _config(f"transformers.{case['name']}", _keys(case), count_from=count_from)
        try:
            schedules.transformers_schedule(case["name"], count_from=count_from, **_keys(case))
        except ValueError:  # counted from 1 by nature (inverse_sqrt without warmup, ...)
            assert count_from == 0
            _refused(config, "use count_from=1")
            continue
        assert _lrs(config, updates) == pytest.approx(expected, rel=1e-12, abs=1e-18)


@pytest.mark.parametrize("case", STEP_CASES, ids=_ids(STEP_CASES))
def test_every_spelling_is_the_same_schedule(case: dict[str, Any]) -> None:
    name, keys = case["name"], _keys(case)
    expected = schedules.transformers_schedule(name, **keys)
    arguments = ", ".join(f"{k}={v!r}" for k, v in keys.items())
    spellings = [
        f"transformers.{name}({arguments})",
        f"transformers_schedule(name={name!r}, {arguments})",
    ]
    if name not in CLASHING:
        spellings.append(f"{name}({arguments})")
    for text in spellings:
        assert parse_schedule_expression(text).schedule == expected, text
    assert parse_schedule_call(f"transformers.{name}", keys, "here").schedule == expected
    try:
        zero_based = parse_schedule_expression(spellings[0], count_from=0).schedule
    except ConfigError as error:  # counted from 1 by nature
        assert "use count_from=1" in str(error)
        return
    for k in range(1, int(case["steps"]) + 1):
        assert zero_based(k - 1) == pytest.approx(expected(k), rel=1e-12, abs=1e-18)


def test_positional_arguments_follow_peak_warmup_training() -> None:
    parsed = parse_schedule_expression("transformers.cosine(0.1, 10, 100, num_cycles=1.5)")
    assert parsed.schedule == schedules.transformers_schedule(
        "cosine", 0.1, 10, 100, num_cycles=1.5
    )
    assert describe_signature("transformers.cosine") == (
        "transformers.cosine(peak, num_warmup_steps=None, num_training_steps=None, lr=None, "
        "count_from=1, num_cycles=0.5)"
    )


def test_transformers_names_nest_in_combinators() -> None:
    text = "scale(transformers.linear(peak=1.0, num_warmup_steps=2, num_training_steps=10), 0.5)"
    parsed = parse_schedule_expression(text)
    inner = schedules.transformers_schedule("linear", 1.0, 2, 10)
    assert parsed.schedule == schedules.scale(inner, 0.5)


def test_lengths_take_units_on_the_clock_in_force() -> None:
    from optimsche.config.durations import RunLengths, run_lengths

    with run_lengths(RunLengths(horizon=2000, updates_per_epoch=100)):
        parsed = parse_schedule_expression(
            "transformers.warmup_stable_decay(peak=1.0, num_warmup_steps='5%', "
            "num_training_steps='10ep', num_decay_steps='200ba')"
        )
        by_epoch = parse_schedule_expression(
            "on('epoch', transformers.linear(peak=1.0, num_warmup_steps='100ba', "
            "num_training_steps='10ep'))"
        )
    assert parsed.schedule == schedules.transformers_schedule(
        "warmup_stable_decay", 1.0, 100, 1000, num_decay_steps=200
    )
    assert by_epoch.schedule == schedules.on(
        "epoch", schedules.transformers_schedule("linear", 1.0, 1, 10)
    )


def test_peak_defaults_to_the_optimizers_lr_in_a_config() -> None:
    keys = {"num_warmup_steps": 2, "num_training_steps": 10}
    config = _config("transformers.linear", keys)  # optim_conf lr 0.5, no peak
    assert _lrs(config, 4) == pytest.approx([0.0, 0.25, 0.5, 0.4375], rel=1e-12, abs=1e-15)
    given = _config("cosine_with_restarts", {**keys, "peak": 0.1})
    assert build_optim_sches(given, torch.nn.Linear(2, 1))["main"].schedule == (
        schedules.transformers_schedule("cosine_with_restarts", 0.1, 2, 10)
    )


def test_a_hyperparameter_may_be_a_transformers_schedule() -> None:
    keys = {"peak": 0.5, "num_warmup_steps": 2, "num_training_steps": 10}
    config = _config("constant", {"value": 0.1})
    conf = config["optim_sches"]["main"]["conf"]
    conf["optim_type"] = "AdamW"
    conf["hyperparameters"] = {
        "weight_decay": {"type": "transformers.linear", **keys},
        "betas[0]": "transformers.constant(peak=0.9)",
    }
    conf["count_from"] = 0
    main = build_optim_sches(config, torch.nn.Linear(2, 1))["main"]
    schedule = main.machine.values.hyperparameters[0].schedules[0]
    assert schedule == schedules.transformers_schedule("linear", count_from=0, **keys)


def _refused(config: dict[str, Any], match: str) -> None:
    before = copy.deepcopy(config)
    model = torch.nn.Linear(2, 1)
    weights = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ConfigError, match=match):
        build_optim_sches(config, model)
    assert config == before  # nothing changed
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))


@pytest.mark.parametrize(
    ("type_name", "keys", "match"),
    [
        (
            "transformers.cosin",
            {},
            r"unknown transformers scheduler 'transformers.cosin'; did "
            r"you mean 'transformers.cosine'",
        ),
        ("transformers.Cosine", {}, r"did you mean 'transformers.cosine'"),
        (
            "cosine_with_restart",
            {},
            r"unknown type 'cosine_with_restart'; did you mean "
            r"'cosine_with_restarts'",
        ),
        ("transformers.greedy", {}, r"'greedy' is a metric rule.*plateau: \{type: greedy"),
        ("transformers.reduce_lr_on_plateau", {}, r"plateau: \{type: reduce_on_plateau"),
        ("reduce_lr_on_plateau", {}, "is a metric rule, not a schedule"),
        (
            "transformers.cosine",
            {"num_warmup_steps": 1, "num_training_steps": 9, "num_cycle": 2},
            r"unknown key 'num_cycle' for schedule 'transformers.cosine'; did you mean "
            r"'num_cycles'\? \(valid keys: 'peak', 'num_warmup_steps'",
        ),
        (
            "transformers.cosine",
            {"num_warmup_steps": 1, "num_training_steps": 9, "power": 2},
            r"unknown key 'power'",
        ),
        (
            "cosine",
            {"peak": 0.1, "num_warmup_steps": 1, "num_training_steps": 9},
            r"for schedule 'cosine'.*transformers' cosine is 'transformers.cosine'",
        ),
        (
            "linear",
            {"num_warmup_steps": 1, "start": 0.0, "end": 1.0, "steps": 4},
            r"transformers' linear is 'transformers.linear'",
        ),
        (
            "transformers.polynomial",
            {"num_warmup_steps": 3, "num_training_steps": 3},
            r"optim_sches.main.conf: transformers.polynomial: num_training_steps \(3.0\) must "
            r"exceed",
        ),
        (
            "transformers.linear",
            {"num_warmup_steps": -1, "num_training_steps": 3},
            "num_warmup_steps",
        ),
        (
            "transformers.linear",
            {"num_warmup_steps": 1, "num_training_steps": "3ep"},
            r"num_training_steps: '3ep' on the 'update' clock needs the updates per epoch",
        ),
        (
            "transformers.linear",
            {"num_warmup_steps": 1, "num_training_steps": {"a": 1}},
            r"num_training_steps: \{'a': 1\} \(a mapping\) is not a literal",
        ),
        (
            "transformers.linear",
            {"num_warmup_steps": 1, "num_training_steps": 9, "accum_grad": 2},
            "accum_grad is a run-level setting",
        ),
        ("transformers.inverse_sqrt", {"num_warmup_steps": 0, "count_from": 0}, "use count_from=1"),
    ],
)
def test_refusals_name_the_value_and_the_valid_choices(
    type_name: str, keys: dict[str, Any], match: str
) -> None:
    _refused(_config(type_name, keys), match)


def test_a_type_and_a_schedule_together_are_refused() -> None:
    config = _config("transformers.constant", {"schedule": "constant(value=1.0)"})
    _refused(config, r"type 'transformers.constant' is a schedule itself")


def test_expression_refusals() -> None:
    for text, match in [
        ("transformers.cosin(peak=0.1)", "did you mean 'transformers.cosine'"),
        ("transformers.greedy(peak=0.1)", "is a metric rule"),
        ("torch.cosine(peak=0.1)", "expected one call of a schedule function by name"),
        ("transformers.x.cosine(peak=0.1)", "expected one call of a schedule function by name"),
        (
            "linear(peak=0.1, num_warmup_steps=1, num_training_steps=9)",
            "transformers' linear is 'transformers.linear'",
        ),
        ("transformers.linear(0.1, 1, 9, 0.1, 1, 2)", "too many positional arguments"),
    ]:
        with pytest.raises(ConfigError, match=match):
            parse_schedule_expression(text)


def test_builders_are_the_functions_of_plain_values_and_no_combinator() -> None:
    found = builders()
    assert {"eden", "eden2", "transformers_schedule"} <= set(found)
    assert not {"warmup", "join", "scale", "at_time", "clocks_of", "reduce_on_plateau"} & set(found)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(STEP_TYPES),
    peak=st.floats(1e-6, 1.0),
    warmup=st.integers(0, 50),
    extra=st.integers(1, 200),
    count_from=st.sampled_from([0, 1]),
)
def test_prefixed_and_function_forms_agree(
    name: str, peak: float, warmup: int, extra: int, count_from: int
) -> None:
    """For any arguments: ``transformers.<name>(...)`` is ``transformers_schedule(name, ...)``,
    both refusing alike."""
    keys: dict[str, Any] = {"peak": peak, "num_warmup_steps": warmup}
    keys["num_training_steps"] = warmup + extra
    if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        keys["min_lr_rate"] = 0.1
    if name == "warmup_stable_decay":
        keys["num_decay_steps"] = extra // 2
    try:
        expected = schedules.transformers_schedule(name, count_from=count_from, **keys)
    except ValueError as error:
        with pytest.raises(ConfigError, match=str(error).split("(")[0][:30].replace("`", ".")):
            parse_schedule_call(f"transformers.{name}", keys, "here", count_from=count_from)
        return
    got = parse_schedule_call(f"transformers.{name}", keys, "here", count_from=count_from)
    assert got.schedule == expected


def test_metric_names_are_not_names_of_the_language() -> None:
    for name in METRIC_TYPES:
        assert TRANSFORMERS_PREFIX + name not in known_names()
        assert TRANSFORMERS_PREFIX + name not in builders()


@pytest.mark.parametrize(
    ("text", "horizon"),
    [
        ("transformers.cosine(peak=1.0, num_warmup_steps=10, num_training_steps=5000)", 5000),
        ("cosine_with_restarts(1.0, 10, 700, num_cycles=2)", 700),
        (
            "transformers.warmup_stable_decay(peak=1.0, num_warmup_steps=100, "
            "num_stable_steps=800, num_decay_steps=300)",
            1200,
        ),
        ("transformers.inverse_sqrt(peak=1.0, num_warmup_steps=40)", 400),
        (
            "transformers_schedule(name='linear', peak=1.0, num_warmup_steps=0, "
            "num_training_steps=90)",
            90,
        ),
    ],
)
def test_show_spans_the_training_length(text: str, horizon: int) -> None:
    from optimsche.cli.schedule_horizon import expression_horizon

    assert expression_horizon(parse_schedule_expression(text)) == horizon
