"""How many kernels a Tensor computation runs over a curve's memory, and how many passes over
memory they make: counted, not timed.

:func:`count_passes` runs a callable under a ``TorchDispatchMode`` that sees every aten
operator. An operator counts when one of its Tensors has at least ``size / 1024`` elements
(a whole curve, or a run of one written interval by interval: :mod:`schedules.step_runs`);
it reads each such input once and writes each such output once, and its passes are their
elements in units of ``size`` (an in-place operator over the whole curve: 2; ``torch.where(c,
a, b)`` into a fresh buffer: 4; a fill of a tenth of it: 0.1). Views (``view``, ``slice``)
and allocations (``empty_like``) move no memory and are no passes. A full-size output that
is not one of the inputs (an out-of-place operator, an allocation) is a *fresh buffer*:
memory the allocator hands out, page-faulted in on first touch when it is large. Small
operators (0-d constants, boundary tables) are not counted.
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
    """What one evaluation did over the curve's memory."""

    kernels: int
    passes: float
    fresh_buffers: int
    operators: tuple[str, ...]

    def describe(self) -> str:
        """``"7 kernels, 13 passes, 2 fresh buffers (clamp, sub_, ...)"``, an operator run
        several times named once with its count (``fill_ ×11``)."""
        names = dict.fromkeys(self.operators)
        listed = ", ".join(
            n if self.operators.count(n) == 1 else f"{n} ×{self.operators.count(n)}" for n in names
        )
        return (
            f"{self.kernels} kernels, {self.passes:.3g} passes, {self.fresh_buffers} fresh "
            f"buffer{'s' if self.fresh_buffers != 1 else ''} ({listed})"
        )


MOVE_NOTHING = frozenset(
    {"view", "_unsafe_view", "slice", "alias", "as_strided", "expand", "select", "t",
     "transpose", "unsqueeze", "squeeze", "detach", "lift_fresh"}
)  # fmt: skip
"""Views: operators that return Tensors without reading or writing their elements."""

ALLOCATIONS = frozenset({"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"})
"""Operators that hand out memory without touching it (a fresh buffer, no pass)."""

SHAPE_ONLY = frozenset(
    {"new_full", "new_zeros", "new_ones", "full_like", "zeros_like", "ones_like"}
)
"""Operators that read only their input's dtype, device and shape, not its elements."""


def _tensors(values: Iterable[Any]) -> list[torch.Tensor]:
    return [v for v in tree_leaves(list(values)) if isinstance(v, torch.Tensor)]


class _Counter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    def __init__(self, size: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.size = size
        self.least = max(size // 1024, 1)
        self.kernels = 0
        self.elements = 0
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
        name = func.overloadpacket.__name__
        if name in MOVE_NOTHING:
            return result
        read = [] if name in SHAPE_ONLY | ALLOCATIONS else _tensors([args, kwargs or {}])
        inputs = [t for t in read if t.numel() >= self.least]
        outputs = [t for t in _tensors([result]) if t.numel() >= self.least]
        if not inputs and not outputs:  # (new_full((), v) and other small operators)
            return result
        pointers = {t.data_ptr() for t in inputs}
        self.fresh += sum(
            1 for t in outputs if t.numel() >= self.size and t.data_ptr() not in pointers
        )
        if name not in ALLOCATIONS:
            self.kernels += 1
            self.elements += sum(t.numel() for t in (*inputs, *outputs))
            self.operators.append(name)
        return result


def count_passes(work: Callable[[], object], size: int) -> Passes:
    """Run ``work()`` once and count its kernels, passes and fresh buffers over a curve of
    ``size`` elements."""
    counter = _Counter(size)
    with counter:
        work()
    return Passes(counter.kernels, counter.elements / size, counter.fresh, tuple(counter.operators))
