"""Lengths with units on a shell class's ``sche_conf`` keys: ``noam.NoamLr``'s
``warmup_steps: 5%`` resolves as everywhere else (its ``sche_lengths``), on the entry's clock;
a unit that cannot be resolved, or on a key that is no length, names the key, the text and
what is accepted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from optimsche import OptimScheduler, build_optim_sches
from optimsche.config.error import ConfigError
from optimsche.speechain import NoamLr


def _config(type_name: str = "noam.NoamLr", **keys: Any) -> dict[str, Any]:
    conf = {"optim_type": "Adam", "optim_conf": {"lr": 1e-3}, **keys}
    return {"optim_sches": {"main": {"type": type_name, "conf": conf}}}


def _warmup(config: dict[str, Any], **run: Any) -> Any:
    shell = build_optim_sches(config, torch.nn.Linear(2, 1), **run)["main"]
    assert isinstance(shell, NoamLr)
    return shell.warmup_steps


@pytest.mark.parametrize(
    ("text", "run", "steps"),
    [
        ("5%", {"horizon": 80_000}, 4000),
        ("0.05dur", {"horizon": 80_000}, 4000),
        ("2ep", {"updates_per_epoch": 2000}, 4000),
        ("4000ba", {}, 4000),
        ("5%", {"horizon": 1001}, 50.05),
    ],
)
def test_warmup_steps_takes_a_unit(text: str, run: dict[str, Any], steps: float) -> None:
    assert _warmup(_config(d_model=256, warmup_steps=text), **run) == pytest.approx(
        steps, rel=1e-15
    )


def test_the_lr_is_that_of_the_plain_number() -> None:
    def lrs(warmup: Any, **run: Any) -> list[float]:
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        shell = build_optim_sches(_config(d_model=64, warmup_steps=warmup), model, **run)["main"]
        return [float(shell.step(model(torch.ones(1, 2)).sum()).lr) for _ in range(5)]

    assert lrs("10%", horizon=30) == lrs(3)


def test_on_the_epoch_clock_the_length_is_in_epochs() -> None:
    config = _config(d_model=256, warmup_steps="6000ba", clock="epoch")
    assert _warmup(config, updates_per_epoch=2000) == 3


@pytest.mark.parametrize(
    ("keys", "run", "match"),
    [
        (
            {"warmup_steps": "5%"},
            {},
            r"optim_sches.main.conf.warmup_steps: '5%' on the 'update' "
            r"clock is a fraction of the run's horizon, which is not known here: pass "
            r"build_optim_sches\(..., horizon=N\)",
        ),
        ({"warmup_steps": "3ep"}, {}, r"conf.warmup_steps: '3ep' .* needs the updates per epoch"),
        ({"warmup_steps": "1e9tok"}, {}, r"'tok' counts items"),
        (
            {"warmup_steps": "5pc"},
            {},
            r"unknown unit 'pc' in '5pc'.* \(valid: ba, ep, tok, %, "
            r"dur\)",
        ),
        (
            {"d_model": "5%"},
            {"horizon": 10},
            r"conf.d_model: '5%' has a unit, but d_model is not "
            r"a length of noam.NoamLr \(its lengths: warmup_steps\)",
        ),
        ({"warmup_steps": "0ba"}, {}, r"warmup_steps must be > 0"),
    ],
)
def test_what_cannot_be_resolved_names_the_key(
    keys: dict[str, Any], run: dict[str, Any], match: str
) -> None:
    config = _config(**keys)
    before = copy.deepcopy(config)
    with pytest.raises(ConfigError, match=match):
        build_optim_sches(config, torch.nn.Linear(2, 1), **run)
    assert config == before


def test_exponent_decay_has_no_length_keys() -> None:
    with pytest.raises(
        ConfigError,
        match=r"decay_factor is not a length of exp.ExponentDecayLr "
        r"\(its lengths: none\)",
    ):
        build_optim_sches(_config("exp.ExponentDecayLr", decay_factor="5%"), torch.nn.Linear(2, 1))


class HoldLr(OptimScheduler):
    """A user's own class declaring its length keys."""

    sche_lengths = ("hold",)

    def sche_init(self, hold: float = 10) -> None:
        self.hold = hold

    def update_lr(self, real_step: int) -> float:
        return 1e-3 if real_step <= self.hold else 1e-4


def test_a_users_class_declares_its_lengths() -> None:
    config = _config(f"{__name__}.HoldLr", hold="2ep")
    shell = build_optim_sches(config, torch.nn.Linear(2, 1), updates_per_epoch=7)["main"]
    assert isinstance(shell, HoldLr) and shell.hold == 14


@settings(max_examples=40, deadline=None)
@given(percent=st.integers(1, 100), horizon=st.integers(100, 10**7))
def test_a_percentage_is_that_share_of_the_horizon(percent: int, horizon: int) -> None:
    steps = _warmup(_config(warmup_steps=f"{percent}%"), horizon=horizon)
    assert steps == pytest.approx(percent / 100 * horizon, rel=1e-12)
