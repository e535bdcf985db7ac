"""The device-side skip under real 2-process DDP (gloo, 127.0.0.1): a NaN loss on one rank
skips the update on every rank through an all-reduce of the flag, with no host read."""

from __future__ import annotations

import pytest
import torch
from device_skip_scenarios import device_skip_suite

from optimsche.testing.local_processes import run_local_processes

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)


def test_ranks_agree_on_a_skip_without_a_host_read() -> None:
    ranks = run_local_processes(device_skip_suite, 2, timeout_s=120.0)
    for result in ranks:
        assert result["codes"] == [0, 1, 0]  # window 2 skipped on both ranks
        # window 1 creates the optimizer's state (decided on the host), then no read
        assert result["reads"] == [["item"], [], []]
    first, second = ranks
    assert all(torch.equal(p, q) for p, q in zip(first["params"], second["params"], strict=True))
