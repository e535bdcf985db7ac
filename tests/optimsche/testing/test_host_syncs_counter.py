"""The host-sync counter sees every kind of read, once each, and leaves torch as it was."""

from __future__ import annotations

import operator

import pytest
import torch

from optimsche.testing.host_syncs import READ_BACKS, counting_host_syncs


def test_each_python_level_read_counts_once() -> None:
    t = torch.tensor(1.5)
    i = torch.tensor(2)
    with counting_host_syncs() as syncs:
        t.item()
        t.tolist()
        bool(t)
        float(t)
        int(t)
        operator.index(i)
        t.numpy()
        t.cpu()
        if torch.nn.Parameter(t):
            pass
    assert syncs.reads == [
        "item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy", "cpu",
        "__bool__",
    ]  # fmt: skip
    assert syncs.count == 9


def test_reads_inside_torch_are_seen_by_the_dispatcher() -> None:
    """A 0-dim tensor where torch wants a Python number is read in C++, not by a Tensor
    method: the dispatcher sees it. ``equal`` and ``nonzero`` read values too."""
    t = torch.tensor(3)
    with counting_host_syncs() as syncs:
        torch.arange(t)
        torch.full((2,), t)
        torch.equal(t, t)
        torch.ones(2).nonzero()
    assert syncs.reads == [
        "aten._local_scalar_dense", "aten._local_scalar_dense", "aten.equal", "aten.nonzero"
    ]  # fmt: skip


def test_device_work_without_reads_counts_nothing() -> None:
    x = torch.randn(4, 3, requires_grad=True)
    with counting_host_syncs() as syncs:
        loss = (x * 2).pow(2).sum()
        loss.backward()
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([x.grad])))
        flag = torch.isfinite(norm).logical_not()
        torch.where(flag, torch.zeros(()), norm)
    assert syncs.reads == []


def test_restores_the_tensor_methods_even_after_an_error() -> None:
    originals = {name: getattr(torch.Tensor, name) for name in READ_BACKS}
    with pytest.raises(RuntimeError, match="boom"), counting_host_syncs() as syncs:
        torch.tensor(1.0).item()
        raise RuntimeError("boom")
    assert syncs.reads == ["item"]
    assert {name: getattr(torch.Tensor, name) for name in READ_BACKS} == originals
    torch.tensor(1.0).item()  # no longer counted
    assert syncs.reads == ["item"]
