"""Validation of optim_sches configs into records: every mistake is one clear ConfigError."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche import ExponentDecayLr, NoamLr, OptimScheduler
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.records import ExperimentSettings, OptimSchedulerSpec, OptimSchesConfig
from optimsche.config.type_resolution import ScheduleFunctionType, ShellClassType, resolve_type


def _entry(**conf: Any) -> dict[str, Any]:
    entry_type = conf.pop("type", "noam.NoamLr")
    return {"type": entry_type, "conf": {"optim_type": "Adam", **conf}}


def _error(config: Any) -> str:
    with pytest.raises(ConfigError) as error:
        parse_optim_sches(config)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_type_and_conf_only_is_one_optimizer_named_main() -> None:
    records = parse_optim_sches(
        {"type": "cosine", "conf": {"optim_type": "SGD", "peak": 0.1, "steps": 100}}
    )
    (spec,) = records.optimizers
    assert spec.name == "main"
    assert spec.target == ScheduleFunctionType(name="cosine", function=schedules.cosine)
    assert spec.sche_conf == {"peak": 0.1, "steps": 100}
    assert spec.updated_modules is None and spec.step_per_update == 1 and spec.optim_loss is None


def test_speechain_two_optimizer_example_with_the_optim_sches_wrapper() -> None:
    document = {
        "optim_sches": {
            "encoder_optim": _entry(
                optim_losses="encoder_loss",
                updated_modules="encoder",
                step_per_update=2,
                d_model=256,
                warmup_steps=4000,
            ),
            "decoder_optim": _entry(
                optim_losses="decoder_loss", updated_modules=["decoder"], d_model=256
            ),
        },
        "other_train_cfg_key": 1,
    }
    records = parse_optim_sches(document)
    assert records.names == ("encoder_optim", "decoder_optim")
    encoder, decoder = records.optimizers
    assert encoder.target == ShellClassType(name="noam.NoamLr", cls=NoamLr)
    assert (encoder.optim_loss, encoder.updated_modules, encoder.step_per_update) == (
        "encoder_loss",
        ("encoder",),
        2,
    )
    assert encoder.sche_conf == {"d_model": 256, "warmup_steps": 4000}
    assert decoder.updated_modules == ("decoder",) and decoder.optim_loss == "decoder_loss"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("noam.NoamLr", NoamLr),
        ("noam.Noamlr", NoamLr),
        ("exp.ExponentDecayLr", ExponentDecayLr),
        ("OptimScheduler", OptimScheduler),
        ("optimsche.speechain.NoamLr", NoamLr),
    ],
)
def test_shell_class_names(name: str, expected: type) -> None:
    resolved = resolve_type(name)
    assert isinstance(resolved, ShellClassType) and resolved.cls is expected


def test_every_leaf_schedule_resolves_by_name() -> None:
    for name in (
        "constant",
        "cosine",
        "warmup_cosine",
        "noam",
        "one_cycle",
        "tri_stage",
        "warmup_stable_decay",
        "piecewise_linear",
        "cyclic",
    ):
        resolved = resolve_type(name)
        assert isinstance(resolved, ScheduleFunctionType)
        assert resolved.function is getattr(schedules, name)


def test_a_dotted_path_to_a_schedule_function_is_that_schedule() -> None:
    resolved = resolve_type("schedules.cosine")
    assert resolved == ScheduleFunctionType(name="cosine", function=schedules.cosine)


def test_combinators_and_step_helpers_are_not_types() -> None:
    for name in ("warmup", "join", "scale", "real_step", "is_update_step"):
        with pytest.raises(ConfigError, match=f"unknown type '{name}'"):
            resolve_type(name)


def test_a_users_own_subclass_by_dotted_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_optim_sches.py").write_text(
        "from optimsche import OptimScheduler\n"
        "class HalfLr(OptimScheduler):\n"
        "    def sche_init(self, base: float, every: int = 10) -> None:\n"
        "        self.base, self.every = base, every\n"
        "    def update_lr(self, real_step: int) -> float:\n"
        "        return self.base * 0.5 ** (real_step // self.every)\n"
        "class NotAnOptimScheduler:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        records = parse_optim_sches(_entry(type="my_optim_sches.HalfLr", base=0.1))
        target = records.optimizers[0].target
        assert isinstance(target, ShellClassType) and target.cls.__name__ == "HalfLr"
        message = _error(_entry(type="my_optim_sches.HalfLr", bsae=0.1))
        assert (
            "unknown key 'bsae' for type 'my_optim_sches.HalfLr'; did you mean 'base'?" in message
        )
        assert "missing key 'base'" in _error(_entry(type="my_optim_sches.HalfLr"))
        assert "base: must be a number, got 'x' (a string)" in _error(
            _entry(type="my_optim_sches.HalfLr", base="x")
        )
        assert "is not an OptimScheduler subclass" in _error(
            _entry(type="my_optim_sches.NotAnOptimScheduler")
        )
        assert "module 'my_optim_sches' has no 'Missing'" in _error(
            _entry(type="my_optim_sches.Missing")
        )
    finally:
        sys.modules.pop("my_optim_sches", None)


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        (
            "noam.NoamLR",
            r"unknown type 'noam\.NoamLR': cannot import module 'noam' "
            r".*did you mean 'noam\.NoamLr'",
        ),
        ("cosin", r"unknown type 'cosin'; did you mean 'cosine'\?"),
        ("NoamLr", r"unknown type 'NoamLr'; did you mean 'noam\.NoamLr'"),
        ("warmup_cosin", r"did you mean 'warmup_cosine'\?"),
        ("nothing_like_it", r"unknown type 'nothing_like_it' \(valid: noam\.NoamLr, "),
        (3, r"optim_sches\.main\.type: must be a non-empty string"),
    ],
)
def test_unknown_types_list_close_matches(type_name: Any, expected: str) -> None:
    message = _error({"type": type_name, "conf": {"optim_type": "Adam"}})
    assert message.startswith("optim_sches.main.type: ")
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "optim_sches: no optimizer is configured"),
        ({"optim_sches": [1]}, "optim_sches: must be a mapping of optimizer names"),
        ({"a": 3}, "optim_sches.a: must be a mapping with keys 'type' and 'conf', got 3"),
        (
            {"a": {"type": "cosine", "cnof": {}}},
            "optim_sches.a: unknown key 'cnof'; did you mean 'conf'?",
        ),
        ({"a": {"conf": {}}}, "optim_sches.a: missing key 'type'"),
        ({"a": {"type": "noam.NoamLr"}}, "optim_sches.a: missing key 'conf'"),
        (
            {"a": {"type": "noam.NoamLr", "conf": [1]}},
            "optim_sches.a.conf: must be a mapping, got [1]",
        ),
        (
            {"a": {"type": "noam.NoamLr", "conf": {}}},
            "optim_sches.a.conf: missing key 'optim_type'",
        ),
    ],
)
def test_entry_shape_mistakes(config: dict[str, Any], expected: str) -> None:
    assert expected in _error(config)


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        (
            {"optim_type": "adam"},
            "conf.optim_type: optim_type 'adam' is not an optimizer of torch.optim; "
            "did you mean 'Adam'",
        ),
        ({"optim_type": 5}, "conf.optim_type: optim_type must be the name of a torch.optim"),
        (
            {"optim_conf": {"beta": [0.9, 0.98]}},
            "conf.optim_conf: Adam takes no argument 'beta'; did you mean 'betas'?",
        ),
        ({"optim_conf": {"params": []}}, "conf.optim_conf: 'params' cannot be configured"),
        (
            {"optim_conf": [1]},
            "conf.optim_conf: must be a mapping of Adam arguments, got [1] (a list)",
        ),
        (
            {"optim_loss": "a", "optim_losses": "b"},
            "give either 'optim_loss' or its alias 'optim_losses', not both",
        ),
        (
            {"optim_losses": ["a", "b"]},
            "conf.optim_losses: must be the name of one loss (a string), got ['a', 'b'] (a list)",
        ),
        (
            {"updated_modules": []},
            "conf.updated_modules: must be a module name or a non-empty list",
        ),
        (
            {"updated_modules": 3},
            "conf.updated_modules: must be a module name or a non-empty list of module "
            "names, got 3 (an integer)",
        ),
        ({"updated_modules": ["a", "a"]}, "conf.updated_modules: 'a' is listed twice"),
        (
            {"step_per_update": 0},
            "conf.step_per_update: must be a positive integer, got 0",
        ),
        (
            {"step_per_update": "2"},
            "conf.step_per_update: must be a positive integer, got '2'",
        ),
        (
            {"step_per_update": True},
            "conf.step_per_update: must be a positive integer, got True",
        ),
        (
            {"step_per_update": 1.5},
            "conf.step_per_update: must be a positive integer, got 1.5",
        ),
        (
            {"warmup": 4000},
            "conf: unknown key 'warmup' for type 'noam.NoamLr'; did you mean 'warmup_steps'?",
        ),
        ({"d_model": "256"}, "conf.d_model: must be an integer or null, got '256' (a string)"),
        (
            {"accum_grad": 2},
            "conf.accum_grad: accum_grad is a run-level setting, not an optimizer key: "
            "pass it to build_optim_sches(..., accum_grad=...)",
        ),
        ({"ft_factor": 0.1}, "ft_factor is a run-level setting"),
    ],
)
def test_conf_mistakes_name_the_key_the_value_and_the_choices(
    conf: dict[str, Any], expected: str
) -> None:
    message = _error({"enc": _entry(**conf)})
    assert message.startswith("optim_sches.enc")
    assert expected in message, message


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        (
            {"peak": 0.1},
            "optim_sches.main.conf: missing key 'steps' required by schedule 'cosine' "
            "(required: peak, steps)",
        ),
        (
            {"peak": 0.1, "steps": 100, "stesp": 3},
            "unknown key 'stesp' for schedule 'cosine'; did you mean 'steps'?",
        ),
        (
            {"peak": 0.1, "steps": -5},
            "optim_sches.main.conf: schedule 'cosine': steps must be > 0, got -5",
        ),
        (
            {"peak": "0.1", "steps": 100},
            "optim_sches.main.conf: schedule 'cosine': peak must be a number, got str: '0.1'",
        ),
    ],
)
def test_schedule_function_hyperparameters_are_checked(conf: dict[str, Any], expected: str) -> None:
    message = _error({"type": "cosine", "conf": {"optim_type": "SGD", **conf}})
    assert expected in message, message


def test_sequence_hyperparameters_are_checked_elementwise() -> None:
    good = {
        "type": "multistep",
        "conf": {"optim_type": "SGD", "start": 0.1, "milestones": [10, 20], "gamma": 0.5},
    }
    assert parse_optim_sches(good).optimizers[0].sche_conf["milestones"] == [10, 20]
    bad = {
        "type": "multistep",
        "conf": {"optim_type": "SGD", "start": 0.1, "milestones": [10, "x"], "gamma": 0.5},
    }
    assert "conf.milestones: must be a list of numbers, got [10, 'x'] (a list)" in _error(bad)


def test_plain_optim_scheduler_takes_no_scheduling_key() -> None:
    message = _error(_entry(type="OptimScheduler", warmup_steps=3))
    assert "unknown key 'warmup_steps' for type 'OptimScheduler'" in message


@pytest.mark.parametrize(
    ("modules", "expected"),
    [
        (("encoder", "encoder"), "optimizers 'a' and 'b' overlap: they update module 'encoder'"),
        (("encoder", ["decoder", "encoder"]), "update module 'encoder'"),
        (
            ("encoder", "encoder.layers"),
            "modules 'encoder' and 'encoder.layers', one inside the other",
        ),
        ((None, "decoder"), "'a' has no updated_modules, so it updates the whole model"),
        (("decoder", None), "'b' has no updated_modules, so it updates the whole model"),
    ],
)
def test_overlapping_updated_modules(modules: tuple[Any, Any], expected: str) -> None:
    config = {"a": _entry(updated_modules=modules[0]), "b": _entry(updated_modules=modules[1])}
    message = _error(config)
    assert message.startswith("optim_sches: optimizers ")
    assert expected in message


def test_prefix_names_are_not_nested_modules() -> None:
    config = {"a": _entry(updated_modules="enc"), "b": _entry(updated_modules="encoder")}
    assert parse_optim_sches(config).names == ("a", "b")


def test_records_validate_when_built_by_hand() -> None:
    target = resolve_type("cosine")
    spec = OptimSchedulerSpec(name="x", target=target, optim_type="SGD")
    with pytest.raises(ConfigError, match="optimizer name 'x' is used twice"):
        OptimSchesConfig(optimizers=(spec, spec))
    with pytest.raises(ConfigError, match="no optimizer is configured"):
        OptimSchesConfig(optimizers=())
    with pytest.raises(
        ConfigError, match=r"optim_sches\.x\.conf\.step_per_update: must be a positive"
    ):
        OptimSchedulerSpec(name="x", target=target, optim_type="SGD", step_per_update=0)
    with pytest.raises(ConfigError, match="an optimizer name must be a non-empty string"):
        OptimSchedulerSpec(name="", target=target, optim_type="SGD")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"accum_grad": 0}, "accum_grad: must be a positive integer, got 0"),
        ({"accum_grad": 2.0}, "accum_grad: must be a positive integer, got 2.0"),
        ({"ft_factor": 0}, "ft_factor: must be > 0, got 0"),
        ({"ft_factor": float("nan")}, "ft_factor: must be finite, got nan"),
        (
            {"use_amp": "fp8"},
            "use_amp must be False, True (= 'fp16'), 'fp16'/'float16' or "
            "'bf16'/'bfloat16', got 'fp8'",
        ),
        ({"grad_clip": -1.0}, "grad_clip: must be > 0, got -1.0"),
        (
            {"grad_norm_type": 0.0},
            "grad_norm_type: must be > 0 (2.0 = L2, inf = max), got 0.0",
        ),
        ({"distributed": "yes"}, "distributed: must be true, false or null (detect), got 'yes'"),
    ],
)
def test_experiment_settings_are_validated(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        ExperimentSettings(**kwargs)
    assert str(error.value) == expected


def test_experiment_settings_accept_the_shells_values() -> None:
    for use_amp in (False, True, "fp16", "bf16", "bfloat16"):
        ExperimentSettings(
            use_amp=use_amp, grad_norm_type=float("inf"), grad_clip=1, distributed=None
        )


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in ("type", "conf")
)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(NAMES, min_size=1, max_size=4, unique=True),
    step_per_update=st.lists(st.integers(1, 5), min_size=4, max_size=4),
    warmups=st.lists(st.integers(1, 10_000), min_size=4, max_size=4),
    alias=st.booleans(),
)
def test_valid_configs_round_trip_into_records(
    names: list[str], step_per_update: list[int], warmups: list[int], alias: bool
) -> None:
    loss_key = "optim_losses" if alias else "optim_loss"
    config = {
        name: _entry(
            **{loss_key: f"{name}_loss"},
            updated_modules=f"module_{name}",
            step_per_update=step_per_update[i],
            warmup_steps=warmups[i],
        )
        for i, name in enumerate(names)
    }
    records = parse_optim_sches({"optim_sches": config})
    assert records.names == tuple(names)
    for i, spec in enumerate(records.optimizers):
        assert spec.optim_loss == f"{names[i]}_loss"
        assert spec.updated_modules == (f"module_{names[i]}",)
        assert spec.step_per_update == step_per_update[i]
        assert spec.sche_conf == {"warmup_steps": warmups[i]}


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from(
        [
            "type",
            "optim_type",
            "optim_conf",
            "optim_loss",
            "updated_modules",
            "step_per_update",
            "d_model",
            "warmup_steps",
            "extra",
        ]
    ),
    junk=JUNK,
)
def test_any_junk_value_is_accepted_or_refused_with_a_config_error(key: str, junk: Any) -> None:
    entry = _entry(updated_modules="encoder", d_model=256, warmup_steps=10)
    if key == "type":
        entry["type"] = junk
    else:
        entry["conf"][key] = junk
    try:
        parse_optim_sches({"optim_sches": {"enc": entry}})
    except ConfigError as error:
        assert str(error).startswith("optim_sches")
        assert "\n" not in str(error)
