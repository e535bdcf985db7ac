"""The ``count_from:`` key of an ``optim_sches`` entry: ``0`` makes the k-th update evaluate
the schedule at k - 1 (as the shell's ``count_from=0``), ``1`` (the default) at k; a bad value
is a ConfigError naming the key and the value."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import schedules
from optimsche import NoamLr, build_optim_sches
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.records import OptimSchedulerSpec

PEAK, STEPS = 0.5, 4


def _config(**conf: Any) -> dict[str, Any]:
    return {
        "type": "linear",
        "conf": {"optim_type": "SGD", "start": PEAK, "end": 0.0, "steps": STEPS, **conf},
    }


def _lrs(config: dict[str, Any], updates: int) -> list[float]:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    group = build_optim_sches(config, model)
    lrs = []
    for _ in range(updates):
        loss = model(torch.ones(1, 2)).pow(2).sum()
        lrs.append(group.step({"loss": loss})["main"].lr)
    return lrs


def _schedule(k: int) -> float:
    return schedules.linear(k, start=PEAK, end=0.0, steps=STEPS)


@pytest.mark.parametrize("count_from", [0, 1])
def test_the_k_th_update_evaluates_the_schedule_at_k_minus_one_plus_count_from(
    count_from: int,
) -> None:
    lrs = _lrs(_config(count_from=count_from), 6)
    assert lrs == pytest.approx([_schedule(k - 1 + count_from) for k in range(1, 7)])
    if count_from == 0:
        assert lrs[0] == pytest.approx(PEAK)  # schedule(0): the first update at the start


def test_without_the_key_an_entry_counts_from_one() -> None:
    assert parse_optim_sches(_config()).optimizers[0].count_from == 1
    assert _lrs(_config(), 6) == _lrs(_config(count_from=1), 6)


def test_count_from_zero_reaches_the_shell() -> None:
    group = build_optim_sches(_config(count_from=0), nn.Linear(2, 1))
    assert parse_optim_sches(_config(count_from=0)).optimizers[0].count_from == 0
    assert group["main"].count_from == 0


@pytest.mark.parametrize("bad", [2, -1, True, "0", 0.0, None])
def test_a_bad_count_from_is_a_config_error_naming_the_key_and_value(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"optim_sches\.main\.conf\.count_from: .*got") as info:
        parse_optim_sches(_config(count_from=bad))
    assert repr(bad) in str(info.value)


def test_the_record_checks_count_from() -> None:
    spec = parse_optim_sches(_config()).optimizers[0]
    with pytest.raises(ConfigError, match=r"conf\.count_from: .*got 2"):
        OptimSchedulerSpec(name="main", target=spec.target, optim_type="SGD", count_from=2)


def test_a_subclass_with_an_unchanged_constructor_still_builds_at_the_default() -> None:
    """A NoamLr entry without ``count_from`` builds as before (the key is not passed)."""
    config = {
        "type": "noam.NoamLr",
        "conf": {"optim_type": "Adam", "d_model": 16, "warmup_steps": 3},
    }
    group = build_optim_sches(config, nn.Linear(2, 1))
    assert isinstance(group["main"], NoamLr)
    assert group["main"].count_from == 1
