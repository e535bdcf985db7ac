"""The rank body of the DDP device-skip test: module-level, so that ``run_local_processes``
can pickle it into its processes. No ``from __future__ import annotations`` (DDP inspects
annotations at run time; see ``ddp_scenarios``)."""

import math
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from optimsche.testing.host_syncs import counting_host_syncs
from optimsche.update.device_skip import update_on_device

NONFINITE_RANK = 1
"""The rank whose loss is NaN in window 2 (its gradients stay finite)."""


def device_skip_suite(rank: int, world_size: int) -> dict[str, Any]:
    """Three windows of fused AdamW under DDP through ``update_on_device``; in window 2 only
    rank ``NONFINITE_RANK`` sees a NaN loss. Returns the skip codes, the host reads of each
    update and the final parameters."""
    torch.manual_seed(0)
    model = DistributedDataParallel(nn.Linear(4, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
    generator = torch.Generator().manual_seed(10 + rank)
    codes, reads = [], []
    for window in (1, 2, 3):
        loss = model(torch.randn(3, 4, generator=generator)).pow(2).mean()
        loss.backward()
        checked = loss.detach()
        if window == 2 and rank == NONFINITE_RANK:
            checked = checked + math.nan
        with counting_host_syncs() as syncs:
            result = update_on_device(optimizer, loss_sum=checked, grad_clip=1.0, distributed=True)
        optimizer.zero_grad()
        codes.append(int(result.code))
        reads.append(syncs.reads)
    return {
        "codes": codes,
        "reads": reads,
        "params": [p.detach().clone() for p in model.parameters()],
    }
