"""Data-parallel wrappers seen from the shell: unwrap them, and turn their gradient sync off/on.

Three data-parallel forms are recognised:

* ``torch.nn.parallel.DistributedDataParallel`` (DDP): a wrapper whose ``.module`` is the model.
  DDP decides whether a backward all-reduces **when the forward runs**: its forward calls
  ``reducer.prepare_for_backward`` only if ``require_backward_grad_sync`` is true at that moment
  (this is why ``DDP.no_sync()`` must enclose the forward). A context entered around the
  backward alone cannot turn a prepared all-reduce off, nor a skipped one on. The shell, which
  only sees the loss after the forward, therefore *arms* the decision for the next micro-step
  with :func:`arm_gradient_sync` and checks it with :func:`forward_prepared_sync`.
* FSDP1 ``torch.distributed.fsdp.FullyShardedDataParallel``: a wrapper (``.module``); its
  ``no_sync()`` is read by the post-backward hooks, i.e. at backward time.
* FSDP2 ``torch.distributed.fsdp.fully_shard``: the module itself becomes an ``FSDPModule``
  (no wrapper); ``set_requires_gradient_sync`` is read at backward time.

Every function here works without a process group (a single process): then there is nothing
to unwrap, ``world_size() == 1`` and reductions are no-ops.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

if TYPE_CHECKING:
    from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel

__all__ = [
    "FALLBACK_BUCKET_BYTES",
    "all_reduce_sum_",
    "arm_gradient_sync",
    "as_full_tensor",
    "average_gradients_",
    "backward_inputs",
    "ddp_reduced_parameters",
    "forward_prepared_sync",
    "gradient_sync",
    "is_data_parallel",
    "is_fsdp1",
    "is_fsdp2",
    "is_initialized",
    "rank",
    "unwrap",
    "world_size",
]


def _fsdp1_class() -> type[FullyShardedDataParallel] | None:
    """The FSDP1 wrapper class, or None when ``torch.distributed.fsdp`` was never imported.

    Read from ``sys.modules`` rather than imported: importing FSDP costs about a second, and a
    model cannot be an instance of a class whose module no one has imported.
    """
    fsdp = sys.modules.get("torch.distributed.fsdp")
    cls = getattr(fsdp, "FullyShardedDataParallel", None)
    return cast("type[FullyShardedDataParallel] | None", cls)


def _fsdp2_class() -> type[FSDPModule] | None:
    """The FSDP2 mixin class ``FSDPModule``, or None when ``torch.distributed.fsdp`` was never
    imported (as :func:`_fsdp1_class`) or this torch has none (before 2.6 it was private)."""
    fsdp = sys.modules.get("torch.distributed.fsdp")
    cls = getattr(fsdp, "FSDPModule", None)
    return cast("type[FSDPModule] | None", cls)


def is_initialized() -> bool:
    """True iff torch.distributed is built in and a default process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group; 1 when torch.distributed is not initialised."""
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    """Rank of this process in the default group; 0 when torch.distributed is not initialised."""
    return dist.get_rank() if is_initialized() else 0


def is_fsdp1(model: nn.Module | None) -> bool:
    """True iff ``model`` is an FSDP1 ``FullyShardedDataParallel`` wrapper."""
    cls = _fsdp1_class()
    return model is not None and cls is not None and isinstance(model, cls)


def is_fsdp2(model: nn.Module | None) -> bool:
    """True iff ``model`` was sharded in place by FSDP2 ``fully_shard`` (an ``FSDPModule``)."""
    cls = _fsdp2_class()
    return model is not None and cls is not None and isinstance(model, cls)


def unwrap(model: nn.Module) -> nn.Module:
    """The user's model inside a DDP or FSDP1 wrapper (``wrapper.module``), repeatedly.

    An FSDP2 module (``fully_shard``) is not a wrapper and is returned as is; so is any plain
    module. ``unwrap(DDP(m)) is m``.
    """
    while isinstance(model, DistributedDataParallel) or is_fsdp1(model):
        inner = model.module
        if not isinstance(inner, nn.Module):  # pragma: no cover - torch guarantees a Module
            raise TypeError(f"{type(model).__name__}.module is not an nn.Module: {inner!r}")
        model = inner
    return model


def is_data_parallel(model: nn.Module | None) -> bool:
    """True iff ``model`` is a DDP wrapper, an FSDP1 wrapper, or an FSDP2-sharded module.

    Such a model synchronises gradients across ranks during backward, so the shell must turn
    that sync off on non-final micro-steps of an accumulation window.
    """
    return isinstance(model, DistributedDataParallel) or is_fsdp1(model) or is_fsdp2(model)


def resolve_distributed(distributed: object, model: nn.Module | None) -> bool:
    """Whether a shell over ``model`` is distributed: ``None`` detects a DDP/FSDP model
    (:func:`is_data_parallel`), ``True`` requires one, ``False`` treats the run as
    single-process; anything else is a ``ValueError``."""
    detected = is_data_parallel(model)
    if distributed is None:
        return detected
    if distributed is True:
        if not detected:
            raise ValueError(
                "distributed=True needs model= to be a DistributedDataParallel, FSDP or "
                f"fully_shard model, got {type(model).__name__}"
            )
        return True
    if distributed is False:
        return False
    raise ValueError(f"distributed must be None (detect), True or False, got {distributed!r}")


def _fsdp2_sync_states(model: nn.Module) -> list[tuple[FSDPModule, bool]]:
    """Each FSDP2 module under ``model`` with its current gradient-sync flag.

    torch has no public getter for the flag ``set_requires_gradient_sync`` sets; it is read
    from the FSDP state's param groups (``reduce_grads``), assuming True (torch's default) when
    that private layout is not found.
    """
    cls = _fsdp2_class()
    states: list[tuple[FSDPModule, bool]] = []
    if cls is None:
        return states
    for module in model.modules():
        if not isinstance(module, cls):
            continue
        enabled = True
        get_state = getattr(module, "_get_fsdp_state", None)
        if get_state is not None:
            groups = getattr(get_state(), "_fsdp_param_groups", [])
            flags = [bool(getattr(group, "reduce_grads", True)) for group in groups]
            enabled = all(flags)
        states.append((module, enabled))
    return states


@contextlib.contextmanager
def _fsdp2_without_sync(model: FSDPModule) -> Iterator[None]:
    """FSDP2: no gradient sync for the duration, then each module's previous flag back."""
    saved = _fsdp2_sync_states(cast(nn.Module, model))
    model.set_requires_gradient_sync(False)
    try:
        yield
    finally:
        for module, enabled in saved:
            module.set_requires_gradient_sync(enabled, recurse=False)


def gradient_sync(
    model: nn.Module | None, enabled: bool
) -> contextlib.AbstractContextManager[None]:
    """A context in which backward does (``enabled=True``) or does not sync gradients.

    ``enabled=False``: DDP ``model.no_sync()``; FSDP1 ``model.no_sync()``; FSDP2
    ``set_requires_gradient_sync(False)`` on the module and its FSDP submodules for the
    duration, each module's previous flag restored on exit. ``enabled=True``, ``model=None``
    or a model that is not data parallel: ``contextlib.nullcontext()``.

    FSDP1/FSDP2 read the flag at backward time, so entering this context around the backward
    is enough. DDP reads it at *forward* time: around a backward whose forward already ran
    outside it, it changes nothing — use :func:`arm_gradient_sync` before the forward.
    """
    if enabled or model is None:
        return contextlib.nullcontext()
    if isinstance(model, DistributedDataParallel):
        return model.no_sync()
    fsdp1 = _fsdp1_class()
    if fsdp1 is not None and isinstance(model, fsdp1):
        return model.no_sync()
    fsdp2 = _fsdp2_class()
    if fsdp2 is not None and isinstance(model, fsdp2):
        return _fsdp2_without_sync(model)
    return contextlib.nullcontext()


def arm_gradient_sync(model: nn.Module | None, enabled: bool) -> None:
    """Decide whether the backward of the *next* DDP forward all-reduces gradients.

    Sets ``model.require_backward_grad_sync = enabled`` on a DDP wrapper (the flag
    ``DDP.no_sync()`` toggles); DDP reads it in its forward (only with grad enabled, so
    ``torch.no_grad()`` evaluation forwards are unaffected and leave it as is). The flag stays
    until changed: the shell arms ``enabled = (next micro-step ends its window)`` after every
    step and once at construction. No-op for FSDP1/FSDP2 (they decide at backward time; see
    :func:`gradient_sync`) and for any other module or ``None``.
    """
    if isinstance(model, DistributedDataParallel):
        model.require_backward_grad_sync = enabled


def forward_prepared_sync(model: nn.Module | None) -> bool | None:
    """For DDP: whether its last forward prepared a gradient all-reduce for the backward.

    Reads DDP's ``require_forward_param_sync``, which every DDP forward sets to
    ``torch.is_grad_enabled() and require_backward_grad_sync`` (so a ``torch.no_grad()``
    forward sets it False); True before any forward. The backward of a forward for which this
    is True all-reduces. ``None`` for anything that is not a DDP wrapper (FSDP and plain
    modules decide at backward time).
    """
    if not isinstance(model, DistributedDataParallel):
        return None
    return bool(getattr(model, "require_forward_param_sync", True))


def backward_inputs(model: nn.Module | None, params: Sequence[Tensor]) -> list[Tensor] | None:
    """What to pass as ``torch.autograd.backward(..., inputs=)`` to reach only ``params``.

    ``list(params)`` normally. ``None`` (no restriction: every leaf of the graph) when ``model``
    is FSDP1 or FSDP2: the parameters an optimizer holds there are the *sharded* ones, which
    are not leaves of the forward graph (FSDP all-gathers them into unsharded parameters that
    are), so ``inputs=<sharded params>`` silently computes no gradient at all and skips FSDP's
    reduce-scatter. Under FSDP, backward therefore reaches every parameter of the graph.
    """
    if is_fsdp1(model) or is_fsdp2(model):
        return None
    return list(params)


def as_full_tensor(tensor: Tensor) -> Tensor:
    """``tensor.full_tensor()`` for a ``DTensor`` (e.g. a norm of FSDP2-sharded gradients,
    which is a partial value until reduced: this is one all-reduce), else ``tensor`` itself.

    The result is a plain ``torch.Tensor`` holding the global value on every rank, safe to
    combine with plain tensors and to pass to :func:`all_reduce_sum_`. (``DTensor`` is looked
    up in ``sys.modules``: without ``torch.distributed.tensor`` imported there is none.)
    """
    module = sys.modules.get("torch.distributed.tensor")
    dtensor = getattr(module, "DTensor", None)
    if dtensor is not None and isinstance(tensor, dtensor):
        full: Tensor = tensor.full_tensor()
        return full
    return tensor


def all_reduce_sum_(tensor: Tensor) -> Tensor:
    """Replace ``tensor`` in place by its SUM over all ranks of the default group; return it.

    A no-op (the tensor unchanged) when torch.distributed is not initialised. The tensor must
    live where the backend expects it (CPU for gloo, CUDA for NCCL).
    """
    if is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def ddp_reduced_parameters(model: DistributedDataParallel) -> list[Tensor]:
    """The parameters whose gradients a prepared DDP backward waits for and all-reduces: those
    of ``model.module`` that require grad, less DDP's ignored ones (``parameters_to_ignore``,
    set by ``_set_params_and_buffers_to_ignore_for_model`` or ``delay_all_reduce_named_params``).
    """
    ignored: set[str] = getattr(model, "parameters_to_ignore", set())
    return [
        p for name, p in model.module.named_parameters() if p.requires_grad and name not in ignored
    ]


FALLBACK_BUCKET_BYTES = 32 * 2**20
"""Largest flat buffer :func:`average_gradients_` all-reduces at once (32 MiB)."""


def _buckets(params: list[Tensor], max_bytes: int) -> Iterator[list[Tensor]]:
    """Consecutive runs of ``params`` of at most ``max_bytes`` each (a larger one alone)."""
    bucket: list[Tensor] = []
    size = 0
    for param in params:
        nbytes = param.numel() * param.element_size()
        if bucket and size + nbytes > max_bytes:
            yield bucket
            bucket, size = [], 0
        bucket.append(param)
        size += nbytes
    if bucket:
        yield bucket


def average_gradients_(
    params: Sequence[Tensor], world: int, bucket_bytes: int = FALLBACK_BUCKET_BYTES
) -> None:
    """Average the gradients of ``params`` over the ``world`` ranks of the default group, as
    DDP's all-reduce would have: the shell's fallback for a window whose forward ran unsynced.

    Every rank must pass the same parameters in the same order. Dense gradients travel in flat
    buffers, per device and dtype, of at most ``bucket_bytes`` (one all-reduce each, not one
    per parameter; a larger parameter gets one of its own), summed and divided by ``world``.
    Each buffer also carries one presence count per parameter: a parameter without a gradient
    on this rank contributes zeros, gets the average if another rank had a gradient, and keeps
    ``None`` if no rank had one (as under DDP with ``find_unused_parameters=True``); only a
    rank that had such a parameter reads those counts back (a host sync). Sparse gradients are
    all-reduced one by one and must exist on every rank. A no-op when torch.distributed is not
    initialised or ``world == 1``.
    """
    if world == 1 or not is_initialized():
        return
    dense: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for param in params:
        grad = param.grad
        if grad is not None and grad.is_sparse:
            dist.all_reduce(grad, op=dist.ReduceOp.SUM)
            grad.div_(world)
        else:
            dense.setdefault((param.device, param.dtype), []).append(param)
    for group in dense.values():
        for bucket in _buckets(group, bucket_bytes):
            _average_bucket_(bucket, world)


def _average_bucket_(bucket: list[Tensor], world: int) -> None:
    """:func:`average_gradients_` for one bucket of parameters of one device and dtype."""
    device, dtype = bucket[0].device, bucket[0].dtype
    grads = [param.grad for param in bucket]
    sizes = [param.numel() for param in bucket]
    parts = [
        torch.zeros(size, dtype=dtype, device=device) if grad is None else grad.reshape(-1)
        for grad, size in zip(grads, sizes, strict=True)
    ]
    presence = torch.tensor([grad is not None for grad in grads], dtype=dtype)
    flat = torch.cat([*parts, presence.to(device)])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    total = sum(sizes)
    averaged = torch.split(flat[:total].div_(world), sizes)
    pairs = [(grad, averaged[i].view_as(grad)) for i, grad in enumerate(grads) if grad is not None]
    if pairs:
        torch._foreach_copy_([grad for grad, _ in pairs], [view for _, view in pairs])
    missing = [i for i, grad in enumerate(grads) if grad is None]
    if missing:
        counts = flat[total:][missing].tolist()
        for i, count in zip(missing, counts, strict=True):
            if count:
                bucket[i].grad = averaged[i].view_as(bucket[i]).clone()
