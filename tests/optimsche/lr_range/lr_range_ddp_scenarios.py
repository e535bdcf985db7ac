"""What each rank of the 2-process DDP lr range test runs (a module-level function, pickled by
reference into the spawned processes)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from optimsche import OptimScheduler
from optimsche.lr_range import lr_range_test


def _differences(a: Any, b: Any, path: str) -> list[str]:
    """The paths at which ``a`` and ``b`` (nested dicts, lists, tensors) differ."""
    if isinstance(a, Tensor):
        return [] if isinstance(b, Tensor) and bool(torch.equal(a, b)) else [path]
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return [path]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return [path]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def ddp_range_test(rank: int, world_size: int) -> dict[str, Any]:
    """An lr range test on a DDP model whose ranks see different data, after one micro-step
    of a window of 2 (open): the record, and whether everything was put back."""
    torch.manual_seed(0)
    model = DistributedDataParallel(
        nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    )
    shell = OptimScheduler("Adam", {"lr": 1e-3}, model=model, accum_grad=2)
    generator = torch.Generator().manual_seed(100 + rank)
    data = [
        (x, x.sum(dim=1, keepdim=True) ** 2)
        for x in torch.randn(6, 8, 4, generator=generator, dtype=torch.float64)
    ]

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return ((model(x) - y) ** 2).mean()

    shell.step(loss_fn(data[0]))
    before = copy.deepcopy({"shell": shell.state_dict(), "model": model.state_dict()})
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    result = lr_range_test(shell, data, loss_fn, min_lr=1e-5, max_lr=1e3, num_updates=30)
    after = copy.deepcopy({"shell": shell.state_dict(), "model": model.state_dict()})
    after["grads"] = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    before["grads"] = grads
    with torch.no_grad():  # the sweep's first window, at the restored (initial) parameters
        first_window = float((loss_fn(data[0]) + loss_fn(data[1])) / 2)
    shell.step(loss_fn(data[1]))  # the open window closes: DDP still syncs as before
    return {
        "lrs": result.lrs,
        "losses": result.losses,
        "stop": result.stop_reason,
        "suggested": result.suggested_lr,
        "differences": _differences(before, after, "state"),
        "local_first_window": first_window,
        "params": [p.detach().clone() for p in model.parameters()],
    }
