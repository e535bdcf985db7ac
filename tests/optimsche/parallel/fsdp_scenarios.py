"""Rank bodies of the FSDP2 (``torch.distributed.fsdp.fully_shard``) tests, on CPU with gloo.

Same data, model, optimizer and large-batch references as ``ddp_scenarios``. FSDP2 decides at
*backward* time whether to reduce-scatter (``set_requires_gradient_sync``), so the shell's
``gradient_sync`` around each non-final backward is what keeps a window to one reduce-scatter
per parameter group. Reduce-scatters are counted by wrapping ``torch.distributed.
reduce_scatter_single``, which FSDP2's default reduce-scatter calls (inside these processes
only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from ddp_scenarios import (
    ACCUM,
    WINDOWS,
    WORLD,
    Params,
    batch,
    guarded,
    make_model,
    make_optimizer,
    mean_loss,
    sum_loss,
    token_batch,
)
from torch import Tensor, nn

from optimsche import OptimScheduler
from optimsche.parallel.distributed import gradient_sync

GRAD_CLIP = 0.05
"""Small enough that every window of this data is clipped (checked by the test)."""


def sharded_model() -> nn.Sequential:
    """``make_model()`` with each Linear and the root sharded by ``fully_shard`` over all ranks."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    model = make_model()
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def full_snapshot(model: nn.Module) -> Params:
    """The unsharded parameters (``DTensor.full_tensor()``, a collective), in order."""
    from torch.distributed.tensor import DTensor

    out: Params = []
    for p in model.parameters():
        assert isinstance(p, DTensor), type(p)
        out.append(p.full_tensor().detach().clone())
    return out


@contextlib.contextmanager
def counting_reduce_scatters() -> Iterator[list[int]]:
    """Within the context, ``dist.reduce_scatter_single`` calls are counted in the list."""
    counter = [0]
    original: Callable[..., Any] = dist.reduce_scatter_single

    def counting(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return original(*args, **kwargs)

    dist.reduce_scatter_single = counting
    try:
        yield counter
    finally:
        dist.reduce_scatter_single = original


def handwritten_fsdp(rank: int, *, use_gradient_sync_off: bool) -> dict[str, Any]:
    """A careful user's FSDP2 loop (sync off on non-final backwards), or the naive one."""
    model = sharded_model()
    optimizer = make_optimizer(model.parameters())
    history: list[Params] = []
    with counting_reduce_scatters() as counter:
        for w in range(WINDOWS):
            for k in range(ACCUM):
                x, y = batch(rank, w, k)
                final = k == ACCUM - 1
                with gradient_sync(model, final or not use_gradient_sync_off):
                    torch.autograd.backward(mean_loss(model, x, y) / ACCUM)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            history.append(full_snapshot(model))
    return {"params": history, "reduce_scatters": counter[0]}


def shell_fsdp(rank: int, *, token_exact: bool, grad_clip: float | None) -> dict[str, Any]:
    """The shell on an FSDP2 model: mean loss, or ``num_items`` with uneven items; optional clip."""
    model = sharded_model()
    osch = OptimScheduler(
        model=model,
        optimizer=make_optimizer(model.parameters()),
        accum_grad=ACCUM,
        grad_clip=grad_clip,
    )
    history: list[Params] = []
    norms: list[float] = []
    with counting_reduce_scatters() as counter:
        for w in range(WINDOWS):
            for k in range(ACCUM):
                if token_exact:
                    x, y = token_batch(rank, w, k)
                    report = osch.step({"loss": sum_loss(model, x, y)}, num_items=x.shape[0])
                else:
                    x, y = batch(rank, w, k)
                    report = osch.step({"loss": mean_loss(model, x, y)})
            assert report.updated, report
            norm: Tensor | None = report.grad_norm
            assert norm is not None
            full = getattr(norm, "full_tensor", None)  # a DTensor norm if the shell left it so
            norms.append(float(full() if full is not None else norm))
            history.append(full_snapshot(model))
    return {"params": history, "reduce_scatters": counter[0], "norms": norms}


def fsdp1_model() -> nn.Module:
    """``make_model()`` wrapped by FSDP1 (``FullyShardedDataParallel``) on CPU, original
    parameters exposed (``use_orig_params=True``)."""
    import warnings

    from torch.distributed.fsdp import FullyShardedDataParallel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FSDP1 is deprecated in favour of fully_shard
        return FullyShardedDataParallel(
            make_model(), device_id=torch.device("cpu"), use_orig_params=True
        )


def fsdp1_snapshot(model: nn.Module) -> Params:
    """FSDP1's unsharded parameters, in order (a collective)."""
    from torch.distributed.fsdp import FullyShardedDataParallel

    with FullyShardedDataParallel.summon_full_params(model):
        return [p.detach().clone() for p in model.parameters()]


def fsdp1_run(rank: int, *, shell: bool) -> dict[str, Any]:
    """FSDP1: the hand-written loop with ``gradient_sync`` (its ``no_sync``), or the shell."""
    from optimsche.parallel.distributed import is_data_parallel, unwrap

    model = fsdp1_model()
    optimizer = make_optimizer(model.parameters())
    osch = OptimScheduler(model=model, optimizer=optimizer, accum_grad=ACCUM) if shell else None
    history: list[Params] = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            x, y = batch(rank, w, k)
            if osch is not None:
                osch.step({"loss": mean_loss(model, x, y)})
                continue
            with gradient_sync(model, k == ACCUM - 1):
                torch.autograd.backward(mean_loss(model, x, y) / ACCUM)
        if osch is None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        history.append(fsdp1_snapshot(model))
    return {
        "params": history,
        "detected": is_data_parallel(model),
        "unwrapped": type(unwrap(model)).__name__,
    }


def fsdp_suite(rank: int, world_size: int) -> dict[str, Any]:
    """Everything test_fsdp.py checks, run once per rank in one process group."""
    assert world_size == WORLD
    return {
        "handwritten": guarded(lambda r: handwritten_fsdp(r, use_gradient_sync_off=True), rank),
        "naive": guarded(lambda r: handwritten_fsdp(r, use_gradient_sync_off=False), rank),
        "shell": guarded(lambda r: shell_fsdp(r, token_exact=False, grad_clip=None), rank),
        "num_items": guarded(lambda r: shell_fsdp(r, token_exact=True, grad_clip=None), rank),
        "clipped": guarded(lambda r: shell_fsdp(r, token_exact=False, grad_clip=GRAD_CLIP), rank),
        "fsdp1_handwritten": guarded(lambda r: fsdp1_run(r, shell=False), rank),
        "fsdp1_shell": guarded(lambda r: fsdp1_run(r, shell=True), rank),
    }
