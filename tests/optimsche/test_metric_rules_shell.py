"""Every metric rule in the shell: ``plateau=`` (a rule or a dict naming it), ``observe``,
``group.observe``, a config's ``plateau: {type: ...}``, and the state in checkpoints."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from shell_models import batches, mse, tiny_mlp
from shell_snapshot import assert_unchanged, snapshot
from torch import nn

import schedules
from optimsche import OptimScheduler, OptimSchedulerGroup, build_optim_sches, load_config
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches
from optimsche.update.plateau import resolve_plateau

RULES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "newbob", "factor": 0.5, "threshold": 0.01}, schedules.newbob(0.5, 0.01)),
    (
        {"type": "greedy", "min_scale": 0.1, "max_scale": 4.0, "patience": 0},
        schedules.greedy(0.1, 4.0, patience=0),
    ),
    (
        {
            "type": "plateau_warmup",
            "warmup": 2,
            "ignore": "metrics",
            "rule": {"threshold": 0.0, "strict": False, "patience": 0},
        },
        schedules.plateau_warmup(
            schedules.reduce_on_plateau(threshold=0.0, strict=False, patience=0),
            warmup=2,
            ignore="metrics",
        ),
    ),
]
METRICS = [1.0, 0.9, 0.95, 0.95, 0.5, 0.4, 0.3, 0.2, 0.9]


def _train(sche: OptimScheduler, updates: int) -> list[float]:
    model = sche.model
    assert model is not None
    lrs = []
    for x, y in batches(updates):
        if sche.step(mse(model, x, y)).updated:
            lrs.append(float(sche.optimizer.param_groups[0]["lr"]))
    return lrs


@pytest.mark.parametrize(("conf", "rule"), RULES, ids=lambda v: str(v)[:30])
def test_a_dict_names_the_rule_and_the_lr_is_the_base_times_its_scale(
    conf: dict[str, Any], rule: Any
) -> None:
    assert resolve_plateau(conf) == rule
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau=conf)
    state = rule.init()
    for metric in METRICS:
        sche.observe(torch.tensor(metric, dtype=torch.float64))
        state = rule.update(state, metric)
        assert sche.plateau_state == state
        assert _train(sche, 1) == [pytest.approx(0.1 * state.scale, rel=1e-12)]


@pytest.mark.parametrize(("conf", "rule"), RULES, ids=lambda v: str(v)[:30])
def test_every_rule_state_is_checkpointed_and_resumes(conf: dict[str, Any], rule: Any) -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau=rule)
    for metric in METRICS[:5]:
        _train(sche, 1)
        sche.observe(metric)
    buffer = io.BytesIO()
    torch.save(sche.state_dict(), buffer)
    buffer.seek(0)
    resumed = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau=conf)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.plateau_state == sche.plateau_state
    for metric in METRICS[5:]:
        resumed.observe(metric)
        sche.observe(metric)
    assert resumed.plateau_state == sche.plateau_state


def test_a_state_of_another_rule_is_refused_and_changes_nothing() -> None:
    newbob_shell = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={"type": "newbob"})
    plateau_shell = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={})
    plateau_shell.observe(1.0)
    before = snapshot(newbob_shell)
    state_before = newbob_shell.plateau_state
    with pytest.raises(ValueError, match="holds a 'reduce_on_plateau' state, but this shell's"):
        newbob_shell.load_state_dict(plateau_shell.state_dict())
    assert_unchanged(newbob_shell, before)
    assert newbob_shell.plateau_state == state_before


def test_group_observe_feeds_every_kind_of_rule() -> None:
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={"type": "newbob"}),
            "b": OptimScheduler(
                "SGD", {"lr": 0.1}, tiny_mlp(), plateau=schedules.greedy(0.0, 2.0, patience=0)
            ),
        }
    )
    group.observe({"a": 1.0, "b": 1.0})
    group.observe(0.5)
    assert group["a"].plateau_state == schedules.newbob().update(
        schedules.newbob().update(schedules.newbob().init(), 1.0), 0.5
    )
    assert group["b"].plateau_state.scale == pytest.approx(1 / 0.95 / 0.95)  # type: ignore[union-attr]


def test_a_config_names_a_rule_with_type() -> None:
    text = """
    optim_sches:
      type: constant
      conf:
        optim_type: SGD
        value: 0.1
        plateau: {type: plateau_warmup, warmup: 3, rule: {type: newbob, factor: 0.25}}
    """
    main = build_optim_sches(load_config(text), nn.Linear(3, 1))["main"]
    assert main.plateau == schedules.plateau_warmup(schedules.newbob(factor=0.25), warmup=3)


@pytest.mark.parametrize(
    ("plateau", "message"),
    [
        ({"type": "newbbob"}, "plateau: unknown type 'newbbob'; did you mean 'newbob'"),
        ({"type": "newbob", "patient": 1}, "unknown key 'patient'; did you mean 'patience'"),
        ({"type": "greedy", "min_scale": 0.1}, "plateau: greedy: .*max_scale"),
        (
            {"type": "plateau_warmup", "warmup": 1, "rule": {"type": "x"}},
            "plateau.rule: unknown type",
        ),
        ({"type": "plateau_warmup", "warmup": 1, "rule": 3}, "plateau.rule must be a metric rule"),
    ],
)
def test_bad_rule_dicts_are_refused_naming_the_key(plateau: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau=plateau)
    with pytest.raises(ConfigError, match=message):
        parse_optim_sches(
            {"type": "constant", "conf": {"optim_type": "SGD", "value": 0.1, "plateau": plateau}}
        )
