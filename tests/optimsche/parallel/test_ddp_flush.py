"""Partial windows under real 2-process DDP (gloo, 127.0.0.1): ``flush()`` and a jumping
``step_num`` equal the large batch of the micro-batches each window held, on every rank."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from ddp_flush_scenarios import (
    ACCUM,
    FLUSHED_WINDOWS,
    flush_suite,
    reference_flushed,
    reference_jump,
)
from ddp_scenarios import WORLD
from test_ddp import assert_close, assert_ranks_identical, scenario

from optimsche.testing.local_processes import run_local_processes

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    return run_local_processes(flush_suite, WORLD, timeout_s=120.0)


@pytest.mark.parametrize(("name", "token_exact"), [("mean", False), ("items", True)])
def test_flush_under_ddp_equals_the_large_batch(
    ranks: list[dict[str, Any]], name: str, token_exact: bool
) -> None:
    results = scenario(ranks, name)
    for result in results:
        assert_close(result["params"], reference_flushed(token_exact=token_exact), rtol=1e-10)
        assert result["flushed"] == [True if len(m) < ACCUM else None for m in FLUSHED_WINDOWS]
        assert result["step_num"] == len(FLUSHED_WINDOWS) * ACCUM
    assert_ranks_identical(results)


def test_a_jump_under_ddp_flushes_on_every_rank_alike(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "jump")
    for result in results:
        assert result["flushed"] == [True]
        assert_close(result["params"], reference_jump(), rtol=1e-10)
    assert_ranks_identical(results)
