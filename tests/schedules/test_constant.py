"""constant: value at every step."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch

from schedules import constant
from schedules.testing import (
    assert_holds_after,
    assert_scalar_tensor_agree,
    assert_vmappable,
)

HALF = functools.partial(constant, value=0.5)


@pytest.mark.parametrize("step", [0, 1, 7, 2.5, 10**6, 10**12, -1, -(10**12)])
def test_every_step_gives_the_value(step: float) -> None:
    got = HALF(step)
    assert type(got) is float and got == 0.5


def test_integer_value_gives_a_float() -> None:
    got = constant(3, 2)
    assert type(got) is float and got == 2.0
    assert constant(3, 0) == 0.0


def test_tensor_keeps_the_shape_and_is_float64_for_integer_steps() -> None:
    steps = torch.tensor([[0, 5], [10**12, -3]], dtype=torch.int64)
    got = HALF(steps)
    assert got.dtype == torch.float64 and got.shape == (2, 2)
    assert torch.equal(got, torch.full((2, 2), 0.5, dtype=torch.float64))


def test_floating_tensor_keeps_its_dtype() -> None:
    got = HALF(torch.tensor([0.0, 3.5], dtype=torch.float32))
    assert got.dtype == torch.float32
    assert torch.equal(got, torch.tensor([0.5, 0.5]))


def test_holds_its_value_and_agrees_with_tensors() -> None:
    assert_holds_after(HALF, 0)
    assert_scalar_tensor_agree(HALF, [0, 1, 2, 99, 10**9, 10**12], rtol=0.0, atol=0.0)


def test_vmap() -> None:
    assert_vmappable(HALF, range(0, 40))


def test_compile_fullgraph() -> None:
    def schedule(step: torch.Tensor) -> torch.Tensor:
        return constant(step, 0.5)

    # A function of its own (not a partial): see test_noam.test_compile_fullgraph. The
    # aot_eager backend traces the whole graph (fullgraph) without inductor's slow C++ build.
    steps = torch.tensor([0, 3, 10**12], dtype=torch.int64)
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(steps), schedule(steps), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (math.nan, r"value must be finite, got nan"),
        (math.inf, r"value must be finite, got inf"),
        (None, r"value must be a number, got NoneType: None"),
        ("0.1", r"value must be a number, got str: '0.1'"),
        (True, r"value must be a number, got bool: True"),
    ],
)
def test_bad_value_raises(value: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        constant(0, value)
