"""Undoing a backward that raised: putting the gradients back as they were, where torch allows.

A backward that raises midway (an out-of-memory error, a custom ``autograd.Function`` that
fails, a ``KeyboardInterrupt``) has already run part of the graph, and torch has accumulated
into the ``.grad`` of every parameter whose gradient was complete by then. What can be put
back without copying any gradient:

* a ``.grad`` that was ``None`` before the backward: set back to ``None``. This is every
  gradient of the first micro-step of a window (the shell sets gradients to ``None`` after
  each update), so with ``accum_grad=1`` a raising backward is always undone exactly;
* a ``.grad`` tensor that torch *replaced* (out-of-place accumulation) rather than modified:
  the old tensor, untouched, is put back;
* a ``.grad`` tensor the backward did not reach (its ``_version`` counter unchanged).

A ``.grad`` that torch accumulated into *in place* (its ``_version`` moved: a later micro-step
of a window whose earlier micro-steps left gradients) cannot be restored without a copy of
every gradient before every backward, which the shell does not pay for. :func:`restore_grads`
says so by returning ``False``; the shell then marks the window so that its update is skipped
(see :meth:`optimsche.update.accumulation.AccumulationWindow.poison`).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from torch import Tensor, nn


@attrs.frozen
class GradSnapshot:
    """The ``.grad`` of each parameter before a backward (references, no copies) and the
    ``_version`` counter of each (``-1`` for a ``None`` gradient)."""

    params: tuple[nn.Parameter, ...]
    grads: tuple[Tensor | None, ...]
    versions: tuple[int, ...]


def snapshot_grads(params: Sequence[nn.Parameter]) -> GradSnapshot:
    """The gradients of ``params`` as they are now: references and version counters."""
    grads = tuple([p.grad for p in params])
    versions = tuple([-1 if g is None else g._version for g in grads])
    return GradSnapshot(params=tuple(params), grads=grads, versions=versions)


def restore_grads(snapshot: GradSnapshot) -> bool:
    """Put back every gradient of ``snapshot`` that can be (module doc); ``True`` when every
    gradient is now exactly as it was, ``False`` when one was accumulated into in place."""
    exact = True
    for param, grad, version in zip(
        snapshot.params, snapshot.grads, snapshot.versions, strict=True
    ):
        if grad is None:
            param.grad = None
        elif grad._version == version:
            if param.grad is not grad:
                param.grad = grad
        else:
            exact = False
    return exact
