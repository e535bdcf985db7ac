"""How many full-size kernels a Tensor computation runs, and how many passes over memory they
make: counted, not timed.

:func:`count_passes` runs a callable under a ``TorchDispatchMode`` that sees every aten
operator. An operator is *full-size* when one of its Tensor outputs has at least ``size``
elements (the curve's length; an in-place operator returns its full-size input); it reads
each full-size input once and writes each full-size output once, so its passes are their
number (``torch.where(c, a, b)`` into a fresh buffer: 4). A full-size output that is not one
of the inputs (an out-of-place operator) is a *fresh buffer*: memory the allocator hands out,
page-faulted in on first touch when it is large. Small operators (0-d constants, boundary
tables) are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


@attrs.frozen
class Passes:
    """What one evaluation did over full-size memory."""

    kernels: int
    passes: int
    fresh_buffers: int
    operators: tuple[str, ...]

    def describe(self) -> str:
        """``"7 kernels, 13 passes, 2 fresh buffers (clamp, sub_, ...)"``."""
        return (
            f"{self.kernels} kernels, {self.passes} passes, {self.fresh_buffers} fresh "
            f"buffer{'s' if self.fresh_buffers != 1 else ''} ({', '.join(self.operators)})"
        )


def _tensors(values: Iterable[Any]) -> list[torch.Tensor]:
    return [v for v in tree_leaves(list(values)) if isinstance(v, torch.Tensor)]


class _Counter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    def __init__(self, size: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.size = size
        self.kernels = 0
        self.passes = 0
        self.fresh = 0
        self.operators: list[str] = []

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        inputs = [t for t in _tensors([args, kwargs or {}]) if t.numel() >= self.size]
        outputs = [t for t in _tensors([result]) if t.numel() >= self.size]
        if outputs:  # (an operator with only small outputs, as new_full((), v), is no pass)
            self.kernels += 1
            self.passes += len(inputs) + len(outputs)
            pointers = {t.data_ptr() for t in inputs}
            self.fresh += sum(1 for t in outputs if t.data_ptr() not in pointers)
            self.operators.append(func.overloadpacket.__name__)
        return result


def count_passes(work: Callable[[], object], size: int) -> Passes:
    """Run ``work()`` once and count its full-size kernels, passes and fresh buffers."""
    counter = _Counter(size)
    with counter:
        work()
    return Passes(counter.kernels, counter.passes, counter.fresh, tuple(counter.operators))
