"""``did_you_mean``: the one "did you mean" hint of every unknown-name error."""

from __future__ import annotations

import pytest

from schedules.close_matches import did_you_mean, within_one_edit


@pytest.mark.parametrize(
    ("name", "choices", "hint"),
    [
        ("cosin", ["cosine", "linear"], "; did you mean 'cosine'?"),
        ("SGd", ["SGD", "Adam"], "; did you mean 'SGD'?"),
        ("noam.NoamLR", ["noam.NoamLr", "cosine"], "; did you mean 'noam.NoamLr'?"),
        ("zzz", ["cosine"], ""),
        (
            ["warmup", "dmodel"],
            ["warmup_steps", "d_model"],
            "; did you mean 'warmup_steps' or 'd_model'?",
        ),
        (["zzz", "stesp"], ["steps"], "; did you mean 'steps'?"),
    ],
)
def test_close_matches_of_one_name_or_several(
    name: str | list[str], choices: list[str], hint: str
) -> None:
    assert did_you_mean(name, choices) == hint


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("optim_sches", "optim_sches", True),
        ("optim_sche", "optim_sches", True),
        ("optim_schess", "optim_sches", True),
        ("optimsches", "optim_sches", True),
        ("Optim_sches", "optim_sches", True),
        ("optim_schez", "optim_sches", True),
        ("optim_shce", "optim_sches", False),
        ("optim_s", "optim_sches", False),
        ("encoder_optim", "optim_sches", False),
        ("", "a", True),
        ("ab", "ba", False),
    ],
)
def test_within_one_edit(a: str, b: str, expected: bool) -> None:
    assert within_one_edit(a, b) is expected
    assert within_one_edit(b, a) is expected


def test_a_compound_name_suggests_its_part() -> None:
    assert did_you_mean("warmup_steps", ["schedule", "steps", "start"]) == "; did you mean 'steps'?"
    assert did_you_mean("num_warmup", ["warmup", "peak"]) == "; did you mean 'warmup'?"
    assert did_you_mean("warmup_steps", ["warmup", "steps"]) == "; did you mean 'warmup'?"
