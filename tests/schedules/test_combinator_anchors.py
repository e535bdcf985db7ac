"""Combinator expressions reproduce their anchors (optax ``join_schedules``/``sgdr_schedule``,
timm ``CosineLRScheduler`` with a warmup prefix) at rel. 1e-6, for Python int steps and for
int64/float64 tensor steps; see ``combinator_vectors/README.md`` for the format."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

import schedules

CASES_FILE = Path(__file__).parent / "combinator_vectors" / "combinators.json"


def build(node: dict[str, Any]) -> Any:
    """The schedule an ``expr`` tree describes."""
    if "leaf" in node:
        return functools.partial(getattr(schedules, node["leaf"]), **node["kwargs"])
    kwargs = {k: v for k, v in node.items() if k != "combinator"}
    if "schedule" in kwargs:
        kwargs["schedule"] = build(kwargs["schedule"])
    if "schedules" in kwargs:
        kwargs["schedules"] = [build(child) for child in kwargs["schedules"]]
    return getattr(schedules, node["combinator"])(**kwargs)


def _cases() -> list[Any]:
    cases = json.loads(CASES_FILE.read_text())
    return [pytest.param(c, id=f"{i}-{c['expr']['combinator']}") for i, c in enumerate(cases)]


def test_every_combinator_anchor_is_present() -> None:
    names = {c["expr"]["combinator"] for c in json.loads(CASES_FILE.read_text())}
    assert {"join", "warmup"} <= names


@pytest.mark.parametrize("case", _cases())
def test_matches_anchor_for_python_steps(case: dict[str, Any]) -> None:
    schedule = build(case["expr"])
    for step, expected in zip(case["steps"], case["expected"], strict=True):
        got = schedule(step)
        assert isinstance(got, float), (step, type(got))
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12), (
            f"{schedule!r} at step {step} = {got}, {case['anchor']} says {expected}"
        )


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64])
@pytest.mark.parametrize("case", _cases())
def test_matches_anchor_for_tensor_steps(case: dict[str, Any], dtype: torch.dtype) -> None:
    schedule = build(case["expr"])
    steps = torch.tensor(case["steps"], dtype=dtype)
    got = schedule(steps)
    assert isinstance(got, torch.Tensor) and got.shape == steps.shape
    expected = torch.tensor(case["expected"], dtype=torch.float64)
    torch.testing.assert_close(got.to(torch.float64), expected, rtol=1e-6, atol=1e-12)
