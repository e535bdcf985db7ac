"""``hyperparameters:`` in an ``optim_sches`` entry's conf: expression strings, ``{type: ...}``
mappings, lists (one per param group), and every mistake one clear ConfigError."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import schedules
from optimsche import OptimScheduler, build_optim_sches, load_config
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "cosine_weight_decay.yaml"


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Linear(3, 4)
        self.decoder = nn.Linear(4, 1)

    def loss(self) -> torch.Tensor:
        return self.decoder(torch.tanh(self.encoder(torch.ones(2, 3)))).pow(2).mean()


def entry(hyperparameters: Any, **conf: Any) -> dict[str, Any]:
    return {
        "type": "cosine",
        "conf": {
            "optim_type": "AdamW",
            "optim_conf": {"lr": 1e-3, "weight_decay": 0.01},
            "peak": 1e-3,
            "steps": 10,
            "hyperparameters": hyperparameters,
            **conf,
        },
    }


def weight_decays(sche: OptimScheduler, updates: int, model: Net) -> list[float]:
    seen = []
    for _ in range(updates):
        sche.step(model.loss())
        seen.append(sche.optimizer.param_groups[0]["weight_decay"])
    return seen


WD = functools.partial(schedules.cosine, peak=0.01, steps=10, final=0.1)


@pytest.mark.parametrize(
    "written",
    [
        "cosine(peak=0.01, steps=10, final=0.1)",
        {"type": "cosine", "peak": 0.01, "steps": 10, "final": 0.1},
        ["cosine(0.01, 10, 0.1)"],  # a list: one schedule per param group (one group here)
    ],
)
def test_the_three_forms_schedule_the_weight_decay(written: Any) -> None:
    model = Net()
    group = build_optim_sches({"optim_sches": entry({"weight_decay": written})}, model)
    assert weight_decays(group["main"], 4, model) == [WD(k) for k in range(1, 5)]


def test_the_readme_example_config_builds_and_schedules_both() -> None:
    model = Net()
    sche = build_optim_sches(load_config(EXAMPLE), model)["main"]
    for k in range(1, 4):
        sche.step(model.loss())
        group = sche.optimizer.param_groups[0]
        assert group["lr"] == schedules.cosine(k, peak=1e-3, steps=10000, final=1e-5)
        assert group["weight_decay"] == schedules.cosine(k, peak=0.01, steps=10000, final=0.1)


def test_a_shell_class_type_takes_hyperparameters_too() -> None:
    config = {
        "type": "noam.NoamLr",
        "conf": {
            "optim_type": "Adam",
            "optim_conf": {"lr": 1e-3},
            "warmup_steps": 4,
            "hyperparameters": {"betas[0]": "linear(start=0.9, end=0.8, steps=4)"},
        },
    }
    model = Net()
    sche = build_optim_sches(config, model)["main"]
    assert sche.optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    betas = []
    for _ in range(2):
        sche.step(model.loss())
        betas.append(sche.optimizer.param_groups[0]["betas"])
    assert betas == [(schedules.linear(k, 0.9, 0.8, 4), 0.999) for k in (1, 2)]


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {"weight_decy": "constant(value=0.1)"},
            "optim_sches.main.conf.hyperparameters: AdamW has no hyperparameter 'weight_decy'; "
            "did you mean 'weight_decay'? (valid: betas, eps, weight_decay, amsgrad",
        ),
        (
            {"weight_decay": "cosine(peak=0.1, stpes=10)"},
            "optim_sches.main.conf.hyperparameters.weight_decay: schedule 'cosine(peak=0.1, "
            "stpes=10)'",
        ),
        (
            {"weight_decay": "import_os()"},
            "optim_sches.main.conf.hyperparameters.weight_decay: schedule 'import_os()': unknown "
            "schedule 'import_os'",
        ),
        (
            {"weight_decay": {"peak": 0.1}},
            "optim_sches.main.conf.hyperparameters.weight_decay: a mapping needs 'type'",
        ),
        ({"weight_decay": 0.1}, "hyperparameters.weight_decay: must be a schedule expression"),
        ({"weight_decay": []}, "hyperparameters.weight_decay: an empty list"),
        ({"lr": "constant(value=0.1)"}, "hyperparameters.lr: the lr is scheduled by the entry"),
        ({"betas(0)": "constant(value=0.9)"}, "'betas(0)' is not a param-group key"),
        ("weight_decay", "hyperparameters: must map param-group keys"),
    ],
)
def test_parse_errors_name_the_key_and_the_value(hyperparameters: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_optim_sches({"optim_sches": entry(hyperparameters)})
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {"betas[2]": "constant(value=0.9)"},
            "optim_sches.main: hyperparameters: 'betas[2]': index 2 is out of range",
        ),
        (
            {"weight_decay": ["constant(value=0.1)", "constant(value=0.2)"]},
            "optim_sches.main: hyperparameters: 'weight_decay' has 2 schedule(s) but the "
            "optimizer has 1 param group(s)",
        ),
    ],
)
def test_build_errors_name_the_entry_and_the_key(hyperparameters: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_optim_sches({"optim_sches": entry(hyperparameters)}, Net())
    assert message in str(raised.value)


def test_without_hyperparameters_nothing_changes() -> None:
    records = parse_optim_sches({"optim_sches": entry(None)})
    assert records.optimizers[0].hyperparameters == ()
