"""lr_range_test under real 2-process DDP (gloo, 127.0.0.1): every rank records the same
losses (averaged over ranks though their data differ), stops at the same update, and is put
back exactly; the run then goes on in step on both ranks."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from lr_range_ddp_scenarios import ddp_range_test

from optimsche.testing.local_processes import run_local_processes

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    return run_local_processes(ddp_range_test, 2, timeout_s=120.0)


def test_ranks_decide_alike_on_the_mean_loss(ranks: list[dict[str, Any]]) -> None:
    first, second = ranks
    local = [rank["local_first_window"] for rank in ranks]
    assert local[0] != local[1]  # different data; recorded: their mean
    assert first["losses"][0] == pytest.approx(sum(local) / 2, rel=1e-12)
    for key in ("lrs", "losses", "stop", "suggested"):
        assert first[key] == second[key], key
    assert first["stop"] in ("diverged", "nonfinite") and len(first["lrs"]) < 30


def test_every_rank_is_put_back(ranks: list[dict[str, Any]]) -> None:
    assert [rank["differences"] for rank in ranks] == [[], []]
    for p, q in zip(ranks[0]["params"], ranks[1]["params"], strict=True):
        assert torch.equal(p, q)
