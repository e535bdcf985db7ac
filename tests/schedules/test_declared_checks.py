"""Checks derived from a family's declaration (``Family(checks=...)``): each hyperparameter's
kind (``schedules.validation.KINDS``, ``choice``, ``optional``) is checked before the leaf's
own ``prepare``, with the messages of the ``require_*`` they name."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pytest
import torch

import schedules
from schedules.leaf_family import Family
from schedules.validation import KINDS, check_of, choice, increasing, optional, require_positive

DECLARED = (
    "constant", "linear", "polynomial", "step_decay", "cosine", "noam", "inverse_sqrt",
    "tri_stage", "warmup_stable_decay", "tanh_decay", "power_decay", "exponential",
    "warmup_cosine", "cosine_restarts", "one_cycle", "multistep", "piecewise_constant",
    "piecewise_linear", "cyclic",
)  # fmt: skip
"""The families whose checks are declared: every one."""


def test_every_family_declares_its_checks() -> None:
    assert set(DECLARED) == set(schedules.FAMILIES)


@pytest.mark.parametrize("name", DECLARED)
def test_declared_families_declare_every_hyperparameter(name: str) -> None:
    family = schedules.FAMILIES[name]
    assert set(family.checks) == set(family.parameters)
    for value_name in family.values:  # a value kind takes a Tensor
        kind = family.checks[value_name]
        name = kind if isinstance(kind, str) else kind.__name__
        assert name in (
            "value",
            "non_negative_value",
            "optional(require_value)",
            "value_sequence",  # numbers or Tensors, or one Tensor of them
            "points",  # (step, value) pairs
        ), name


def _family(**checks: Any) -> Family:
    class Recipe(NamedTuple):
        peak: float
        steps: float
        mode: str = "a"
        limit: float | None = None

    return Family(Recipe, lambda s, r: r.peak, lambda s, r: s * r.peak, checks=checks)


def test_a_declaration_checks_in_order_with_the_require_messages() -> None:
    family = _family(
        peak="value", steps="positive", mode=choice("a", "b"), limit=optional(require_positive)
    )

    @family.leaf
    def leaf(
        step: Any, peak: Any, steps: float, mode: str = "a", limit: float | None = None
    ) -> Any:
        return family.call(step, (peak, steps, mode, limit, peak.__class__, steps.__class__,
                                  mode.__class__, limit.__class__))  # fmt: skip

    assert leaf(2, 1.5, 3) == 1.5 and leaf(2, 1.5, 3, "b", None) == 1.5
    assert leaf(torch.tensor(2.0), torch.tensor(1.5), 3).item() == 3.0
    with pytest.raises(ValueError, match=r"steps must be > 0, got 0"):
        leaf(2, 1.0, 0)
    with pytest.raises(ValueError, match=r"peak must be a number, got str"):
        leaf(2, "x", 0)  # the first in signature order
    with pytest.raises(ValueError, match=r"mode must be one of 'a', 'b', got 'c'"):
        leaf(2, 1.0, 3, "c")
    with pytest.raises(ValueError, match=r"limit must be > 0, got -1"):
        leaf(2, 1.0, 3, "a", -1)
    assert family.horizon_of({"peak": 1.0, "steps": 3}) is None
    with pytest.raises(ValueError, match=r"steps must be > 0"):
        family.extent_of({"peak": 1.0, "steps": -3})


def test_unknown_kinds_and_undeclared_names_are_refused_loudly() -> None:
    with pytest.raises(
        ValueError, match=r"unknown kind of hyperparameter 'postive'; did you mean 'positive'"
    ):
        check_of("postive")
    assert check_of("count") is KINDS["count"]
    family = _family(peak="value", rate="positive")
    with pytest.raises(ValueError, match=r"leaf has no hyperparameters \['rate'\]"):

        @family.leaf
        def leaf(step: Any, peak: Any, steps: float, mode: str = "a", limit: Any = None) -> Any:
            return step


def test_sequence_kinds_check_and_keep_plain_ints() -> None:
    boundaries = KINDS["increasing"]("boundaries", [1, 2.5, 10**20])
    assert boundaries == (1, 2.5, 10**20) and [type(b) for b in boundaries] == [int, float, int]
    with pytest.raises(ValueError, match=r"boundaries must be strictly increasing, got \[2, 2\]"):
        KINDS["increasing"]("boundaries", [2, 2])
    assert KINDS["sorted"]("milestones", [2, 2]) == (2, 2)
    with pytest.raises(ValueError, match=r"milestones must be sorted, got \[3, 2\]"):
        KINDS["sorted"]("milestones", [3, 2])
    at_least_zero = increasing(strict=False, minimum=0)
    assert at_least_zero.__name__ == "increasing(strict=False, minimum=0)"
    with pytest.raises(ValueError, match=r"milestones must be >= 0, got \[-1, 2\]"):
        at_least_zero("milestones", [-1, 2])
    with pytest.raises(ValueError, match=r"milestones must be a sequence of numbers, got 3"):
        at_least_zero("milestones", 3)


def test_value_sequence_and_points_kinds() -> None:
    levels = torch.ones(3)
    assert KINDS["value_sequence"]("values", levels) is levels
    assert KINDS["value_sequence"]("values", [1, 0.5]) == (1.0, 0.5)
    with pytest.raises(ValueError, match=r"values must be a sequence of numbers, got 'ab'"):
        KINDS["value_sequence"]("values", "ab")
    with pytest.raises(ValueError, match=r"values\[1\] must be finite, got inf"):
        KINDS["value_sequence"]("values", [1.0, math.inf])
    assert KINDS["points"]("points", [(0, 1), (0, 2.0), (5, 0.5)]) == (
        (0.0, 1.0), (0.0, 2.0), (5.0, 0.5),
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"points must be sorted by step, but points\[1\] step"):
        KINDS["points"]("points", [(5, 1.0), (0, 2.0)])
