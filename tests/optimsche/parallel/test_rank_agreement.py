"""Ranks that disagree fail fast (2 gloo processes on 127.0.0.1): at construction and at load,
every rank raises the same ``RankDisagreement`` naming the setting and each rank's value,
within seconds, and no rank is left waiting in a collective. See
``rank_agreement_scenarios.py`` for the rank bodies."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from rank_agreement_scenarios import SCENARIOS, WORLD, rank_agreement_suite

from optimsche.parallel.rank_agreement import RankDisagreement, agree, shell_settings
from optimsche.testing.local_processes import run_local_processes

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)

SECONDS = 5.0
"""The bound on each scenario: far below the process group's timeout (60 s here)."""


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    return run_local_processes(rank_agreement_suite, WORLD, timeout_s=150.0)


def refused(ranks: list[dict[str, Any]], name: str) -> str:
    """The scenario's message, checked to be the same RankDisagreement on every rank, fast."""
    results = [r[name] for r in ranks]
    for rank, result in enumerate(results):
        assert result["error"] == "RankDisagreement", (rank, result["message"])
        assert result["seconds"] < SECONDS, (rank, result["seconds"])
    assert results[0]["message"] == results[1]["message"]
    message: str = results[0]["message"]
    return message


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("accum_grad", "  accum_grad: rank 0 = 2, rank 1 = 4"),
        ("step_per_update", "  step_per_update: rank 0 = 1, rank 1 = 2"),
        ("optimizer class", "  optimizer class: rank 0 = SGD, rank 1 = AdamW"),
        ("clock", "  clock: rank 0 = update, rank 1 = items"),
        ("grad_clip", "  grad_clip: rank 0 = None, rank 1 = 1.0"),
        (
            "parameter shapes",
            "  param group 0: parameter shapes and dtypes: rank 0 = [[8, 4] float64, [8] "
            "float64], rank 1 = [[1, 8] float64, [1] float64]",
        ),
    ],
)
def test_a_setting_that_differs_at_construction_is_named_on_every_rank(
    ranks: list[dict[str, Any]], name: str, line: str
) -> None:
    message = refused(ranks, name)
    assert message.startswith(
        "the 2 ranks disagree on the settings of OptimScheduler at construction:\n"
    )
    assert line in message.splitlines()


def test_ranks_resumed_at_different_steps_are_refused_at_load(ranks: list[dict[str, Any]]) -> None:
    message = refused(ranks, "resumed step")
    assert message.splitlines() == [
        "the 2 ranks disagree on loading a checkpoint into OptimScheduler:",
        "  checkpoint step_num: rank 0 = 4, rank 1 = 6",
    ]


def test_a_rank_refusing_its_file_makes_every_rank_refuse(ranks: list[dict[str, Any]]) -> None:
    message = refused(ranks, "mid-window file of another rank")
    assert "  rank 1 refused its checkpoint: ValueError: " in message
    assert "taken mid-window (micro-step 3) by rank 0 of 2" in message
    assert "rank 0 refused" not in message


def test_a_mid_window_set_of_another_world_size_is_refused_on_every_rank(
    ranks: list[dict[str, Any]],
) -> None:
    message = refused(ranks, "another world size mid-window")
    assert "rank 0 refused its checkpoint" in message and "rank 1 refused" in message
    assert "by rank 1 of 4 process(es)" in message


def test_a_group_whose_members_differ_is_refused(ranks: list[dict[str, Any]]) -> None:
    message = refused(ranks, "group names")
    lines = message.splitlines()
    assert (
        lines[0] == "the 2 ranks disagree on the settings of OptimSchedulerGroup at construction:"
    )
    assert lines[1] == "  members: rank 0 = ['encoder', 'head'], rank 1 = ['enc', 'head']"
    assert lines[2].startswith("  settings that only some ranks have: 'encoder': shell class")


def test_a_group_resumed_at_different_steps_names_each_member(
    ranks: list[dict[str, Any]],
) -> None:
    assert refused(ranks, "group resumed step").splitlines()[1:] == [
        "  'encoder': checkpoint step_num: rank 0 = 4, rank 1 = 6",
        "  'head': checkpoint step_num: rank 0 = 4, rank 1 = 6",
    ]


def test_agreeing_ranks_build_and_a_consistent_set_loads_and_trains(
    ranks: list[dict[str, Any]],
) -> None:
    assert [r["agreeing"]["error"] for r in ranks] == [None, None]
    assert ranks[0]["consistent set"] == ranks[1]["consistent set"] == {"step_num": 6, "lr": 0.1}


def test_a_refused_load_changes_nothing_on_any_rank(ranks: list[dict[str, Any]]) -> None:
    assert [r["refused load changes nothing"] for r in ranks] == [
        {"raised": True, "unchanged": True}
    ] * WORLD


def test_ranks_that_drifted_apart_are_refused_at_the_next_update(
    ranks: list[dict[str, Any]],
) -> None:
    message = refused(ranks, "drifted")
    assert "different micro-steps (step_num: rank 0 = 1, rank 1 = 2)" in message
    assert [r["drift applies nothing"] for r in ranks] == [
        {"raised": True, "unchanged": True, "closed": True}
    ] * WORLD


def test_every_scenario_is_checked() -> None:
    assert set(SCENARIOS) == {
        "accum_grad",
        "step_per_update",
        "optimizer class",
        "clock",
        "grad_clip",
        "parameter shapes",
        "resumed step",
        "mid-window file of another rank",
        "another world size mid-window",
        "group names",
        "group resumed step",
        "agreeing",
        "drifted",
    }


def test_nothing_is_compared_without_a_process_group() -> None:
    from shell_models import tiny_mlp

    from optimsche import OptimScheduler

    assert not torch.distributed.is_initialized()
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), accum_grad=3)
    settings = shell_settings(sche)
    assert settings["accum_grad"] == "3" and settings["optimizer class"] == "SGD"
    assert settings["param group 0: parameter shapes and dtypes"].startswith("[[8, 6] float32")
    with pytest.raises(ValueError):  # agree itself needs a process group
        agree("here", settings)
    assert issubclass(RankDisagreement, ValueError)
