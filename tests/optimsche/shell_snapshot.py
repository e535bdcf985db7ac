"""What a refused call must leave unchanged: a deep snapshot of an OptimScheduler's state."""

from __future__ import annotations

import copy
from typing import Any

import torch

from optimsche import OptimScheduler


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.equal(a, b))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def snapshot(sche: OptimScheduler) -> dict[str, Any]:
    """The optimizer state, the parameters and their gradients, the counters, the clock and
    plateau state, the lrs of the param groups (copies)."""
    return copy.deepcopy(
        {
            "optimizer": sche.optimizer.state_dict(),
            "params": [p.detach().clone() for p in sche.parameters],
            "grads": [None if p.grad is None else p.grad.clone() for p in sche.parameters],
            "step_num": sche.step_num,
            "lr": sche.get_lr(),
            "lrs": [group["lr"] for group in sche.optimizer.param_groups],
            "items_seen": sche.items_seen,
            "plateau": sche.plateau_state,
            "state_dict": sche.state_dict(),
        }
    )


def assert_unchanged(sche: OptimScheduler, before: dict[str, Any]) -> None:
    """Every entry of :func:`snapshot` is as it was."""
    after = snapshot(sche)
    for key in before:
        assert _same(before[key], after[key]), f"{key} changed"
