"""Everything a refused call must leave untouched, captured and compared bit for bit."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from optimsche import OptimScheduler


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (
            isinstance(a, Tensor)
            and isinstance(b, Tensor)
            and a.shape == b.shape
            and torch.equal(a, b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN equals NaN here


def shell_state(sche: OptimScheduler) -> dict[str, Any]:
    """Copies of the counters, parameters, gradients, optimizer state, param-group values,
    scaler state and checkpoint (which holds the open window) of ``sche``."""
    return {
        "step_num": sche.step_num,
        "lr": sche.get_lr(),
        "params": [p.detach().clone() for p in sche.parameters],
        "grads": [None if p.grad is None else p.grad.detach().clone() for p in sche.parameters],
        "optimizer": copy.deepcopy(sche.optimizer.state_dict()),
        "groups": [
            {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            for g in sche.optimizer.param_groups
        ],
        "scaler": None if sche.scaler is None else sche.scaler.state_dict(),
        "checkpoint": copy.deepcopy(sche.state_dict()),
    }


def assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Every entry of two :func:`shell_state` captures is equal (tensors bit for bit)."""
    for key in before:
        assert _same(before[key], after[key]), f"{key} changed"
