"""Lengths with units inside ``hyperparameters:`` resolve exactly as in the lr schedule: on the
entry's ``clock:`` (the shell evaluates every scheduled entry on that clock), not always on the
update clock."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche import build_optim_sches
from optimsche.config.durations import RunLengths, run_lengths
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches


def _config(clock: str, schedule: str, hyperparameter: Any) -> dict[str, Any]:
    conf = {
        "optim_type": "AdamW",
        "optim_conf": {"lr": 1e-3},
        "clock": clock,
        "schedule": schedule,
        "hyperparameters": {"weight_decay": hyperparameter},
    }
    return {"optim_sches": {"main": {"conf": conf}}}


@pytest.mark.parametrize(
    "written",
    [
        "cosine(peak=0.1, steps='3ep')",
        {"type": "cosine", "peak": 0.1, "steps": "3ep"},
        ["cosine(peak=0.1, steps='3ep')"],
    ],
)
def test_epochs_on_the_epoch_clock_need_no_epoch_length(written: Any) -> None:
    """Before: the hyperparameter's ``3ep`` was read on the update clock (``3 · upe``, or an
    error without the updates per epoch) while the lr's was 3 epochs."""
    config = _config("epoch", "cosine(peak=1e-3, steps='3ep')", written)
    spec = parse_optim_sches(config).optimizers[0]
    assert spec.schedule is not None
    assert spec.schedule.schedule == schedules.bind(schedules.cosine, peak=1e-3, steps=3)
    (configured,) = spec.hyperparameters
    assert configured.expressions[0].schedule == schedules.bind(schedules.cosine, peak=0.1, steps=3)


def test_the_shell_reads_both_on_the_epoch_clock() -> None:
    config = _config("epoch", "constant(value=1e-3)", "linear(start=0.1, end=0.0, steps='600ba')")
    model = torch.nn.Linear(2, 1)
    main = build_optim_sches(config, model, updates_per_epoch=200)["main"]
    seen = []
    for epoch in (1, 2, 3):
        main.step(model(torch.ones(1, 2)).sum(), epoch_num=epoch)
        seen.append(main.optimizer.param_groups[0]["weight_decay"])
    assert seen == pytest.approx([0.1 * 2 / 3, 0.1 / 3, 0.0], abs=1e-15)


def test_items_on_the_items_clock() -> None:
    config = _config("items", "constant(value=1e-3)", "cosine(peak=0.1, steps='1e6tok')")
    (configured,) = parse_optim_sches(config).optimizers[0].hyperparameters
    assert configured.expressions[0].schedule.given["steps"] == 1_000_000


def test_what_cannot_be_resolved_names_the_hyperparameter() -> None:
    config = _config("update", "constant(value=1e-3)", "cosine(peak=0.1, steps='1e6tok')")
    with pytest.raises(
        ConfigError, match=r"hyperparameters.weight_decay: .*'1e6tok' on the 'update' clock"
    ):
        parse_optim_sches(config)
    config = _config(
        "epoch", "constant(value=1e-3)", {"type": "cosine", "peak": 0.1, "steps": "5%"}
    )
    with pytest.raises(ConfigError, match=r"weight_decay: cosine.steps: '5%' on the 'epoch' clock"):
        parse_optim_sches(config)


@settings(max_examples=60, deadline=None)
@given(
    clock=st.sampled_from(["update", "epoch"]),
    amount=st.integers(1, 50),
    unit=st.sampled_from(["ba", "ep", "%", "dur"]),
    per_epoch=st.integers(1, 500),
)
def test_a_length_resolves_alike_in_the_lr_and_in_a_hyperparameter(
    clock: str, amount: int, unit: str, per_epoch: int
) -> None:
    text = f"cosine(peak=0.1, steps='{amount / 100 if unit == 'dur' else amount}{unit}')"
    config = _config(clock, text, text)
    with run_lengths(RunLengths(horizon=10_000, updates_per_epoch=per_epoch)):
        spec = parse_optim_sches(config).optimizers[0]
    assert spec.schedule is not None
    assert spec.hyperparameters[0].expressions[0].schedule == spec.schedule.schedule


def test_show_previews_a_hyperparameter_on_the_entrys_clock() -> None:
    """``optimsche show``/``plot`` read a ``clock: epoch`` entry's hyperparameters at each
    update's epoch, as the shell and the lr's preview do."""
    from optimsche.cli.lr_curves import lr_curve
    from optimsche.config.records import ExperimentSettings

    config = _config(
        "epoch", "linear(start=1e-3, end=0.0, steps=3)", "linear(start=0.1, end=0.0, steps=3)"
    )
    spec = parse_optim_sches(config).optimizers[0]
    curve = lr_curve(spec, ExperimentSettings(), 30, updates_per_epoch=10)
    (decay,) = curve.hyperparameters
    expected = [0.1 * (1 - ((r - 1) // 10 + 1) / 3) for r in curve.real_steps]
    assert list(decay.values) == pytest.approx(expected, abs=1e-15)
    assert [lr * 100 for lr in curve.lrs] == pytest.approx(expected, abs=1e-15)
