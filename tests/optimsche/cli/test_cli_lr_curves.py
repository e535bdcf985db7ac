"""The lr curves of `optimsche show`/`plot` are the lrs a real run applies."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import schedules
from optimsche import build_optim_sches
from optimsche.cli.lr_curves import default_total_steps, lr_curve, lr_curves
from optimsche.cli.schedule_horizon import schedule_horizon
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.records import ExperimentSettings
from schedules import FAMILIES


class EncoderDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(2, 2)
        self.decoder = nn.Linear(2, 1)


def _config(spu: int, d_model: int | None) -> dict[str, Any]:
    noam = {"warmup_steps": 3} if d_model is None else {"warmup_steps": 3, "d_model": d_model}
    return {
        "enc": {
            "type": "noam.NoamLr",
            "conf": {
                "optim_type": "Adam",
                "optim_conf": {"lr": 0.01},
                "optim_loss": "a",
                "updated_modules": "encoder",
                "step_per_update": spu,
                **noam,
            },
        },
        "dec": {
            "type": "exp.ExponentDecayLr",
            "conf": {
                "optim_type": "SGD",
                "optim_conf": {"lr": 0.1},
                "optim_loss": "b",
                "updated_modules": "decoder",
                "decay_factor": 0.9,
            },
        },
    }


@settings(max_examples=12, deadline=None)
@given(
    accum_grad=st.integers(1, 3),
    spu=st.integers(1, 3),
    ft_factor=st.sampled_from([1.0, 0.1]),
    d_model=st.sampled_from([None, 8]),
    total=st.integers(1, 15),
)
def test_curve_points_are_the_updates_and_lrs_of_a_real_run(
    accum_grad: int, spu: int, ft_factor: float, d_model: int | None, total: int
) -> None:
    config = _config(spu, d_model)
    records = parse_optim_sches(config)
    curves = lr_curves(
        records, ExperimentSettings(accum_grad=accum_grad, ft_factor=ft_factor), total
    )
    model = EncoderDecoder()
    group = build_optim_sches(config, model, accum_grad=accum_grad, ft_factor=ft_factor)
    seen: dict[str, list[tuple[int, int, float]]] = {"enc": [], "dec": []}
    x = torch.ones(1, 2)
    for n in range(1, total + 1):
        hidden = model.encoder(x)
        # ExponentDecayLr decays per epoch; the preview assumes one epoch per update
        epoch = (n - 1) // accum_grad + 1
        losses = {"a": hidden.sum(), "b": model.decoder(hidden.detach()).sum()}
        reports = group.step(losses, epoch_num=epoch)
        for name, report in reports.items():
            if report.updated:
                seen[name].append((report.step_num, report.real_step, report.lr))
    for curve in curves:
        points = seen[curve.name]
        assert list(zip(curve.steps, curve.real_steps, strict=True)) == [p[:2] for p in points]
        assert list(curve.lrs) == pytest.approx([p[2] for p in points], rel=1e-12)
        assert curve.updates == len(seen[curve.name]) and not curve.sampled


def test_noam_without_d_model_peaks_at_the_configured_or_default_lr() -> None:
    for optim_conf, peak in (({"lr": 0.02}, 0.02), ({}, 1e-3)):  # Adam's default lr is 1e-3
        records = parse_optim_sches(
            {
                "type": "noam.NoamLr",
                "conf": {"optim_type": "Adam", "optim_conf": optim_conf, "warmup_steps": 10},
            }
        )
        curve = lr_curve(records.optimizers[0], ExperimentSettings(), 30)
        assert max(curve.lrs) == pytest.approx(peak)
        assert curve.lrs.index(max(curve.lrs)) == 9


def test_long_runs_are_sampled_evenly_with_both_ends() -> None:
    records = parse_optim_sches(
        {"type": "cosine", "conf": {"optim_type": "SGD", "peak": 1.0, "steps": 1000}}
    )
    curve = lr_curve(records.optimizers[0], ExperimentSettings(accum_grad=2), 2000, max_points=11)
    assert curve.sampled and curve.updates == 1000
    assert curve.real_steps == (1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
    assert curve.steps == tuple(2 * r for r in curve.real_steps)
    assert curve.lrs == tuple(schedules.cosine(r, 1.0, 1000) for r in curve.real_steps)


def test_no_update_within_a_short_run() -> None:
    records = parse_optim_sches(_config(spu=3, d_model=8))
    curve = lr_curve(records.optimizers[0], ExperimentSettings(accum_grad=2), 5)
    assert curve.updates == 0 and curve.lrs == ()


def test_default_steps_cover_the_longest_schedule_in_micro_steps() -> None:
    records = parse_optim_sches(
        {
            "a": {
                "type": "noam.NoamLr",
                "conf": {"optim_type": "Adam", "updated_modules": "x", "warmup_steps": 400},
            },
            "b": {
                "type": "cosine",
                "conf": {"optim_type": "SGD", "updated_modules": "y", "peak": 1.0, "steps": 1000},
            },
        }
    )
    assert default_total_steps(records, ExperimentSettings(accum_grad=3)) == 3 * 4000


@pytest.mark.parametrize(
    ("name", "hyper", "horizon"),
    [
        ("cosine", {"peak": 1, "steps": 500}, 500),
        ("linear", {"start": 1, "end": 0, "steps": 500, "begin": 100}, 600),
        ("warmup_stable_decay", {"peak": 1, "warmup": 10, "stable": 70, "decay": 20}, 100),
        ("tri_stage", {"peak": 1, "warmup": 10, "hold": 70, "decay": 20}, 100),
        ("noam", {"d_model": 8, "warmup": 40}, 400),
        ("NoamLr", {"warmup_steps": 40}, 400),
        ("cosine_restarts", {"peak": 1, "period": 100, "mult": 2}, 700),
        ("cyclic", {"base": 0, "peak": 1, "up": 10, "down": 20}, 90),
        ("step_decay", {"start": 1, "every": 30, "gamma": 0.5}, 120),
        ("multistep", {"start": 1, "milestones": [30, 80], "gamma": 0.5}, 100),
        ("piecewise_linear", {"points": [[0, 0], [200, 1]]}, 250),
        ("exponential", {"start": 1, "rate": 0.1, "steps": 10}, 20),
        ("ExponentDecayLr", {"decay_factor": 0.99}, 459),
        ("constant", {"value": 1}, 100),
    ],
)
def test_schedule_horizon_rules(name: str, hyper: dict[str, Any], horizon: int) -> None:
    """Leaves: their family's own extent (schedules.FAMILIES), rounded up; shell classes: the
    guess from their keys."""
    assert schedule_horizon(name, hyper) == horizon
    if name in FAMILIES:
        assert horizon == max(10, math.ceil(round(FAMILIES[name].extent_of(hyper), 6)))
