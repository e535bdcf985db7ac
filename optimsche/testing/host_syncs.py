"""Count the host-device syncs of a block of code, on any device (CPU included).

A *host sync* is a read of a tensor's value by the host: on an accelerator the host waits for
the device to catch up. On the CPU nothing waits, but the same calls are made, so counting
them on the CPU tells what a run would cost on a GPU. Two levels are watched while the
``with`` block runs:

* Python: each call of a ``Tensor`` method that hands a value to Python (:data:`READ_BACKS`:
  ``item``, ``tolist``, ``bool(t)``, ``float(t)``, ``int(t)``, ``operator.index(t)``,
  ``numpy``, ``cpu``) counts once, by its name, whatever it does inside;
* the dispatcher (a ``TorchDispatchMode``): the ops that read a value to the host
  (:data:`SYNCING_OPS`: ``aten._local_scalar_dense``, which every scalar read goes through,
  ``aten.equal`` and the data-dependent ``aten.nonzero``), and copies from an accelerator to
  the CPU, count once each when no Python-level read above is running (so that
  ``t.item()`` is one sync, not two), e.g. a 0-dim tensor passed where torch wants a Python
  number (``torch.arange(t)``).

Example::

    with counting_host_syncs() as syncs:
        loss.item()
    assert syncs.reads == ["item"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import torch
from torch.utils._python_dispatch import TorchDispatchMode

READ_BACKS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy", "cpu")
"""The ``Tensor`` methods that hand a value to the host, counted at the Python level."""

SYNCING_OPS = ("_local_scalar_dense", "equal", "nonzero")
"""The ``aten`` ops (by name) counted at the dispatcher level: each reads device values."""

_COPIES = ("_to_copy", "copy_")


@attrs.define
class HostSyncs:
    """The host reads seen so far, in order: a :data:`READ_BACKS` method name, or
    ``"aten.<op>"`` for one seen only by the dispatcher."""

    reads: list[str] = attrs.field(factory=list)
    _depth: int = 0  # > 0 while a Python-level read runs (its own dispatches are not counted)

    @property
    def count(self) -> int:
        """How many host syncs were seen."""
        return len(self.reads)


def _is_device_to_host_copy(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if name == "_to_copy":
        source, target = args[0], kwargs.get("device")
        return (
            isinstance(source, torch.Tensor)
            and target is not None
            and torch.device(target).type == "cpu"
            and source.device.type != "cpu"
        )
    if name == "copy_":
        target, source = args[0], args[1]
        return (
            isinstance(source, torch.Tensor)
            and target.device.type == "cpu"
            and source.device.type != "cpu"
        )
    return False


class _DispatchCounter(TorchDispatchMode):  # type: ignore[no-untyped-call]  # torch untyped
    """Counts :data:`SYNCING_OPS` and accelerator-to-CPU copies into ``syncs``."""

    def __init__(self, syncs: HostSyncs) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # torch untyped
        self.syncs = syncs

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        name: str = func.overloadpacket.__name__
        if self.syncs._depth == 0 and (
            name in SYNCING_OPS or (name in _COPIES and _is_device_to_host_copy(name, args, kwargs))
        ):
            self.syncs.reads.append(f"aten.{name}")
        return func(*args, **kwargs)


def _counted(name: str, original: Callable[..., Any], syncs: HostSyncs) -> Callable[..., Any]:
    def read_back(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if syncs._depth == 0:
            syncs.reads.append(name)
        syncs._depth += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            syncs._depth -= 1

    return read_back


@contextmanager
def counting_host_syncs() -> Iterator[HostSyncs]:
    """Count every host sync made inside the ``with`` block (module doc), in a
    :class:`HostSyncs` that the block can read as it goes. The ``Tensor`` methods are
    restored on exit, whatever happened."""
    syncs = HostSyncs()
    originals = {name: getattr(torch.Tensor, name) for name in READ_BACKS}
    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, _counted(name, original, syncs))
        with _DispatchCounter(syncs):
            yield syncs
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
