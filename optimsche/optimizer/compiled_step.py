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

Other scheduled entries (``hyperparameters=``): measured on torch 2.13 (CPU, dynamo's graph
counter, 5 to 20 value changes; ``tests/optimsche/optimizer/test_compiled_step.py``), a
Tensor ``betas`` (both elements) compiles one graph for good, while a Tensor ``weight_decay``
or ``momentum`` breaks the graph at torch's ``if weight_decay != 0`` / ``if momentum != 0``
(Adam: 4 graphs; SGD: the step falls back to eager). A changing float compiles twice (dynamo
recompiles once with the float as a symbolic input, then never again). So the shell makes
the scheduled entries of :data:`TENSOR_ENTRIES` Tensors and leaves the others floats.

The optimizer must accept a Tensor lr. ``torch.optim`` ones do; on CUDA their foreach path
refuses a Tensor lr unless ``capturable=True`` (put it in ``optim_conf``) or the step is
compiled. The test suite checks one graph across 30 lr changes on CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch.optim import Optimizer

from optimsche.optimizer.param_group_values import replace_group_entry

TENSOR_ENTRIES = ("lr", "betas")
"""The param-group entries a compiled step takes as Tensors without recompiling when they
change (measured, see the module doc)."""


def tensor_entry_names(scheduled: Iterable[str]) -> tuple[str, ...]:
    """``"lr"`` and those of the ``scheduled`` entry names in :data:`TENSOR_ENTRIES`."""
    names = set(scheduled)
    return ("lr", *(name for name in TENSOR_ENTRIES if name != "lr" and name in names))


def _tensor(value: object, device: torch.device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.tensor(float(value), dtype=torch.float32, device=device)  # type: ignore[arg-type]


def tensor_lrs_(optimizer: Optimizer, entries: Sequence[str] = ("lr",)) -> None:
    """Replace each param group's float ``lr`` (and the other ``entries``; a tuple entry
    such as ``betas`` element by element) by 0-dim float32 tensors of the same values, on
    the device of the group's first parameter (CPU for an empty group). Tensors stay."""
    for group in optimizer.param_groups:
        params = group["params"]
        device = params[0].device if params else torch.device("cpu")
        for name in entries:
            value = group[name]
            if isinstance(value, tuple | list):
                replace_group_entry(group, name, tuple(_tensor(v, device) for v in value))
            else:
                replace_group_entry(group, name, _tensor(value, device))


def compiled_step(
    optimizer: Optimizer,
    options: Mapping[str, Any] | None = None,
    *,
    tensor_entries: Sequence[str] = ("lr",),
) -> Callable[[], None]:
    """A function that runs ``optimizer.step()`` compiled with ``torch.compile(**options)``.

    The lrs of ``optimizer`` (and its ``tensor_entries``) are made Tensors first
    (:func:`tensor_lrs_`); afterwards write a new lr in place with
    :func:`~optimsche.optimizer.param_group_values.write_group_value` (the shell does),
    never by assigning a float, or the compiled step recompiles.
    ``options`` defaults to ``{}`` (inductor, ``fullgraph=False``: the optimizer's Python-side
    bookkeeping may break the graph, the update kernels do not).
    """
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ValueError(
            f"compile options must be a dict of torch.compile keyword arguments, got {options!r}"
        )
    tensor_lrs_(optimizer, tensor_entries)

    def step() -> None:
        optimizer.step()

    compiled: Callable[[], None] = torch.compile(step, **dict(options))
    return compiled
