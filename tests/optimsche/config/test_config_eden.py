"""``type: eden`` and ``type: eden2`` in configs: icefall's Eden on the shell, exact to the lr
icefall's loop sets at every update (tests/schedules/vectors/eden), its lengths with units
each on its own clock, and its refusals leaving nothing changed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

import schedules
from optimsche import build_optim_sches
from optimsche.config.error import ConfigError

CASES: list[dict[str, Any]] = json.loads(
    (
        Path(__file__).resolve().parents[2] / "schedules" / "vectors" / "eden" / "eden_icefall.json"
    ).read_text()
)


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [f"{c['name']}-{c['kwargs']}" for c in cases]


def _config(type_name: str, lr: float, **keys: Any) -> dict[str, Any]:
    conf = {"optim_type": "SGD", "optim_conf": {"lr": lr}, **keys}
    return {"optim_sches": {"main": {"type": type_name, "conf": conf}}}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_a_config_type_sets_icefalls_lr_at_every_update(case: dict[str, Any]) -> None:
    """The optimizer's lr is icefall's base_lr (no ``peak`` key); each listed update runs at
    its epoch (``step_num`` jumps to it: the shell's real step is icefall's batch count)."""
    config = _config(case["name"].lower(), case["base_lr"], **case["kwargs"])
    model = torch.nn.Linear(2, 1)
    main = build_optim_sches(config, model)["main"]
    for update, epoch, expected in case["updates"]:
        report = main.step(model(torch.ones(1, 2)).sum(), step_num=update, epoch_num=epoch)
        assert float(report.lr) == pytest.approx(expected, rel=1e-13), (update, epoch)


def test_the_config_is_the_schedule_with_peak() -> None:
    keys = {"lr_batches": 7500, "lr_epochs": 3.5, "warmup_batches": 100}
    main = build_optim_sches(_config("eden", 0.5, peak=0.045, **keys), torch.nn.Linear(2, 1))
    assert main["main"].schedule == schedules.eden(**keys, peak=0.045)
    assert schedules.eden(**keys, peak=0.045) == schedules.scale(schedules.eden(**keys), 0.045)
    assert schedules.eden(**keys, peak=1.0) == schedules.eden(**keys)
    two = build_optim_sches(_config("eden2", 0.04, lr_batches=5000), torch.nn.Linear(2, 1))
    assert two["main"].schedule == schedules.eden2(5000, peak=0.04)


def test_lengths_with_units_resolve_each_on_its_clock() -> None:
    config = _config("eden", 0.045, lr_batches="2ep", lr_epochs="6000ba", warmup_batches="1%")
    group = build_optim_sches(config, torch.nn.Linear(2, 1), horizon=50_000, updates_per_epoch=3000)
    expected = schedules.eden(6000, 2, warmup_batches=500, peak=0.045)
    assert group["main"].schedule == expected
    # epochs on the epoch clock need nothing known of the run
    plain = build_optim_sches(_config("eden", 0.045, lr_batches=10, lr_epochs="3ep"), model())
    assert plain["main"].schedule == schedules.eden(10, 3, peak=0.045)


def model() -> torch.nn.Module:
    return torch.nn.Linear(2, 1)


def test_the_epoch_clock_is_required_at_the_first_step() -> None:
    model = torch.nn.Linear(2, 1)
    main = build_optim_sches(_config("eden", 0.045, lr_batches=10, lr_epochs=2), model)["main"]
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="epoch"):
        main.step(model(torch.ones(1, 2)).sum())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert main.step_num == 0


@pytest.mark.parametrize(
    ("type_name", "keys", "match"),
    [
        ("eden", {}, r"missing a required argument: 'lr_batches'"),
        (
            "eden",
            {"lr_batchs": 10},
            r"unknown key 'lr_batchs' for schedule 'eden'; did you mean "
            r"'lr_batches'",
        ),
        ("eden", {"lr_batches": 0}, r"optim_sches.main.conf: eden: lr_batches must be > 0"),
        ("eden", {"lr_batches": 10, "warmup_start": 2}, "warmup_start"),
        (
            "eden",
            {"lr_batches": "1ep"},
            r"eden.lr_batches: '1ep' on the 'update' clock needs the "
            r"updates per epoch",
        ),
        (
            "eden",
            {"lr_batches": 10, "peak": "5%"},
            r"'5%' has a unit, but peak is not a length "
            r"of eden",
        ),
        ("eden", {"lr_batches": 10, "peak": -1.0}, r"peak must be"),
        (
            "eden2",
            {"lr_batches": 10, "lr_epochs": 2},
            r"unknown key 'lr_epochs' for schedule "
            r"'eden2'",
        ),
        (
            "eden",
            {"lr_batches": 10, "schedule": "constant(value=1.0)"},
            r"type 'eden' is a "
            r"schedule itself",
        ),
    ],
)
def test_refusals_leave_nothing_changed(type_name: str, keys: dict[str, Any], match: str) -> None:
    config = _config(type_name, 0.045, **keys)
    before = copy.deepcopy(config)
    with pytest.raises(ConfigError, match=match):
        build_optim_sches(config, torch.nn.Linear(2, 1))
    assert config == before
