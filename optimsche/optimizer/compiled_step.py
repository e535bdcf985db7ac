"""Running ``optimizer.step()`` under ``torch.compile`` without recompiling when the lr changes.

``torch.compile`` specialises a compiled optimizer step on every Python number it reads, so a
float ``lr`` that changes each update makes it recompile (until dynamo gives up and falls back
to eager). A 0-dim *Tensor* lr is a graph input instead: changing its value in place
(``fill_``) reuses the same graph. The shell keeps a Tensor lr a Tensor and writes every new lr
into it in place, so:

* ``OptimScheduler(..., compile_step=True)`` (or a dict of ``torch.compile`` options, e.g.
  ``{"backend": "inductor", "mode": "max-autotune-no-cudagraphs"}``) turns every float lr of
  the optimizer's param groups into a 0-dim float32 tensor on the param group's device and
  runs each update's ``optimizer.step()`` through :func:`compiled_step`;
* or call :func:`compiled_step` yourself on any optimizer, for a hand-written loop.

The optimizer must accept a Tensor lr. ``torch.optim`` ones do; on CUDA their foreach path
refuses a Tensor lr unless ``capturable=True`` (put it in ``optim_conf``) or the step is
compiled. The test suite checks one graph across 30 lr changes on CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim import Optimizer

from optimsche.optimizer.param_group_values import replace_group_entry


def tensor_lrs_(optimizer: Optimizer) -> None:
    """Replace each param group's float ``lr`` by a 0-dim float32 tensor of the same value,
    on the device of the group's first parameter (CPU for an empty group). Tensor lrs stay."""
    for group in optimizer.param_groups:
        lr = group["lr"]
        if isinstance(lr, torch.Tensor):
            continue
        params = group["params"]
        device = params[0].device if params else torch.device("cpu")
        replace_group_entry(
            group, "lr", torch.tensor(float(lr), dtype=torch.float32, device=device)
        )


def compiled_step(
    optimizer: Optimizer, options: Mapping[str, Any] | None = None
) -> Callable[[], None]:
    """A function that runs ``optimizer.step()`` compiled with ``torch.compile(**options)``.

    The lrs of ``optimizer`` are made Tensors first (:func:`tensor_lrs_`); afterwards write a
    new lr in place with :func:`~optimsche.optimizer.param_group_values.write_group_value`
    (the shell does), never by assigning a float, or the compiled step recompiles.
    ``options`` defaults to ``{}`` (inductor, ``fullgraph=False``: the optimizer's Python-side
    bookkeeping may break the graph, the update kernels do not).
    """
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(
            f"compile options must be a dict of torch.compile keyword arguments, got {options!r}"
        )
    tensor_lrs_(optimizer)

    def step() -> None:
        optimizer.step()

    compiled: Callable[[], None] = torch.compile(step, **dict(options))
    return compiled
