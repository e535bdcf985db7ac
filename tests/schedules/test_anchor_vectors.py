"""Every committed anchor vector: schedules.<fn>(step, **kwargs) == expected (rel 1e-6),
for Python int steps, float64 tensor steps and int64 tensor steps."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

import schedules

VECTORS = Path(__file__).parent / "vectors"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        for i, case in enumerate(json.loads(path.read_text())):
            cases.append(pytest.param(case, id=f"{path.stem}[{i}]-{case['fn']}"))
    return cases


def _schedule(case: dict[str, Any]) -> Any:
    fn = getattr(schedules, case["fn"])
    kwargs = case["kwargs"]
    return lambda s: fn(s, **kwargs)


@pytest.mark.parametrize("case", _cases())
def test_matches_anchor_for_python_steps(case: dict[str, Any]) -> None:
    schedule = _schedule(case)
    for step, expected in zip(case["steps"], case["expected"], strict=True):
        got = schedule(step)
        assert isinstance(got, float), (case["fn"], step, type(got))
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12), (
            f"{case['fn']}({step}, {case['kwargs']}) = {got}, anchor {case['anchor']} says "
            f"{expected}"
        )


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64])
@pytest.mark.parametrize("case", _cases())
def test_matches_anchor_for_tensor_steps(case: dict[str, Any], dtype: torch.dtype) -> None:
    schedule = _schedule(case)
    steps = torch.tensor(case["steps"], dtype=dtype)
    got = schedule(steps)
    assert isinstance(got, torch.Tensor) and got.shape == steps.shape
    expected = torch.tensor(case["expected"], dtype=torch.float64)
    torch.testing.assert_close(got.to(torch.float64), expected, rtol=1e-6, atol=1e-12)
