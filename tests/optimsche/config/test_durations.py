"""Lengths with units (Composer's time strings) in configs and expressions: resolved once
against the run's horizon and updates per epoch, on the clock they are read on; every
unresolvable or mismatched unit is a one-line ConfigError naming what is missing."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche.config.building import build_optim_sches
from optimsche.config.durations import (
    RunLengths,
    current_lengths,
    resolve_duration,
    resolve_lengths,
    run_lengths,
)
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.schedule_expression import parse_schedule_expression

RUN = RunLengths(horizon=20_000, updates_per_epoch=500)


@pytest.mark.parametrize(
    ("text", "clock", "steps"),
    [
        ("2000ba", "update", 2000),
        ("3ep", "update", 1500),
        ("5%", "update", 1000),
        ("0.05dur", "update", 1000),
        ("1e9tok", "items", 10**9),
        ("3ep", "epoch", 3),
        ("250ba", "epoch", 0.5),
        ("5%", "epoch", 2),
        ("2.5e3 ba", "update", 2500),
        ("0.5%", "update", 100),
    ],
)
def test_each_unit_on_each_clock(text: str, clock: str, steps: float) -> None:
    got = resolve_duration(text, clock, "x", RUN)
    assert got == steps and type(got) is type(steps)


@settings(max_examples=100)
@given(n=st.integers(0, 10**6), per_epoch=st.integers(1, 10**4), horizon=st.integers(1, 10**7))
def test_units_agree_with_each_other(n: int, per_epoch: int, horizon: int) -> None:
    run = RunLengths(horizon=horizon, updates_per_epoch=per_epoch)
    assert resolve_duration(f"{n}ep", "update", "x", run) == n * per_epoch
    assert resolve_duration(f"{n * per_epoch}ba", "epoch", "x", run) == n
    assert resolve_duration("100%", "update", "x", run) == horizon
    assert resolve_duration(f"{n}ba", "update", "x", run) == n


@pytest.mark.parametrize(
    ("text", "clock", "lengths", "message"),
    [
        ("3ep", "update", RunLengths(horizon=10), "needs the updates per epoch, which are not"),
        ("5%", "update", RunLengths(updates_per_epoch=10), "fraction of the run's horizon"),
        ("5%", "epoch", RunLengths(horizon=10), "needs the updates per epoch"),
        ("1e9tok", "update", RUN, "'tok' counts items .* do not convert to updates"),
        ("1e9tok", "epoch", RUN, "do not convert to epochs"),
        ("20ba", "items", RUN, "'ba' does not convert to items"),
        ("5%", "items", RUN, "'%' does not convert to items"),
        ("3eps", "update", RUN, r"unknown unit 'eps' in '3eps'; did you mean 'ep'\?"),
        ("-3ep", "update", RUN, "must be a finite length >= 0"),
        ("1e400ba", "update", RUN, "must be a finite length >= 0"),
    ],
)
def test_unresolvable_units_are_refused(
    text: str, clock: str, lengths: RunLengths, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_duration(text, clock, "optim_sches.main.conf.warmup", lengths)


def test_run_lengths_are_checked() -> None:
    with pytest.raises(ConfigError, match="horizon must be > 0"):
        RunLengths(horizon=0)
    with pytest.raises(ConfigError, match="updates_per_epoch must be"):
        RunLengths(updates_per_epoch="10")  # type: ignore[arg-type]


def test_lengths_of_lists_and_points_and_refusal_elsewhere() -> None:
    with run_lengths(RUN):
        resolved = resolve_lengths(
            "multistep", {"start": 1.0, "milestones": ["1ep", "2ep"], "gamma": 0.1}, "update", "w"
        )
        points = resolve_lengths(
            "piecewise_linear", {"points": [("0ba", 1.0), ("10%", 0.5)]}, "update", "w"
        )
    assert resolved["milestones"] == [500, 1000]
    assert points["points"] == [(0, 1.0), (2000, 0.5)]
    with pytest.raises(ConfigError, match=r"w.peak: '5%' has a unit, but peak is not a length"):
        resolve_lengths("cosine", {"peak": "5%", "steps": 10}, "update", "w")


def test_expressions_resolve_on_the_clock_in_force() -> None:
    text = (
        "multiply(warmup(cosine(peak=1.0, steps='95%'), steps='5%'), "
        "on('epoch', shift(exponential(start=1.0, rate=0.5, steps='1ep'), '1000ba')))"
    )
    with run_lengths(RUN):
        parsed = parse_schedule_expression(text)
    expected = schedules.multiply(
        schedules.warmup(schedules.bind(schedules.cosine, peak=1.0, steps=19000), steps=1000),
        schedules.on(
            "epoch",
            schedules.shift(schedules.bind(schedules.exponential, start=1.0, rate=0.5, steps=1), 2),
        ),
    )
    assert parsed.schedule == expected
    assert current_lengths() == RunLengths()  # the block is over
    with pytest.raises(ConfigError, match="fraction of the run's horizon, which is not known"):
        parse_schedule_expression(text)


def test_eden_lengths_are_read_on_their_own_clocks() -> None:
    with run_lengths(RUN):
        parsed = parse_schedule_expression("eden(lr_batches='10ep', lr_epochs='2500ba')")
    assert parsed.schedule == schedules.eden(5000, 5)


def _entry(**conf: object) -> dict[str, object]:
    return {"main": {"type": "warmup_cosine", "conf": {"optim_type": "SGD", **conf}}}


def test_config_leaf_keys_resolve_through_build_optim_sches() -> None:
    config = {"optim_sches": _entry(peak=0.1, warmup="5%", steps="4ep")}
    group = build_optim_sches(config, torch.nn.Linear(2, 2), horizon=20_000, updates_per_epoch=500)
    assert group["main"].schedule == schedules.bind(
        schedules.warmup_cosine, peak=0.1, warmup=1000, steps=2000
    )
    with pytest.raises(ConfigError, match=r"optim_sches.main.conf.warmup: '5%' on the 'update'"):
        build_optim_sches(config, torch.nn.Linear(2, 2), updates_per_epoch=500)


def test_config_clock_sets_the_clock_of_units() -> None:
    conf = {"optim_sches": _entry(peak=0.1, warmup="1000ba", steps="6ep", clock="epoch")}
    with run_lengths(RUN):
        records = parse_optim_sches(conf)
    assert records.optimizers[0].sche_conf == {"peak": 0.1, "warmup": 2, "steps": 6}
    items = {"optim_sches": _entry(peak=0.1, warmup="2ep", steps=10, clock="items")}
    with run_lengths(RUN), pytest.raises(ConfigError, match="does not convert to items"):
        parse_optim_sches(items)


def test_config_schedule_expression_reads_the_entry_clock() -> None:
    conf = {
        "optim_sches": {
            "main": {
                "conf": {
                    "optim_type": "SGD",
                    "clock": "epoch",
                    "schedule": "cosine(peak=0.1, steps='5000ba')",
                }
            }
        }
    }
    with run_lengths(RUN):
        records = parse_optim_sches(conf)
    assert records.optimizers[0].schedule is not None
    assert records.optimizers[0].schedule.schedule == schedules.bind(
        schedules.cosine, peak=0.1, steps=10
    )


def test_a_refused_parse_leaves_nothing_behind() -> None:
    with pytest.raises(ConfigError), run_lengths(RUN):
        parse_schedule_expression("cosine(peak=1e-3, steps='1e9tok')")
    assert current_lengths() == RunLengths()
    config = {"optim_sches": _entry(peak=0.1, warmup="5%", steps=100)}
    with pytest.raises(ConfigError):
        build_optim_sches(config, torch.nn.Linear(2, 2))
    assert current_lengths() == RunLengths()
    assert config["optim_sches"]["main"]["conf"]["warmup"] == "5%"  # type: ignore[index]
