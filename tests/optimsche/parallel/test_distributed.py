"""optimsche.parallel.distributed in one process: without a process group, and with a 1-rank
gloo group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import cast

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from optimsche.parallel.distributed import (
    all_reduce_sum_,
    arm_gradient_sync,
    as_full_tensor,
    backward_inputs,
    forward_prepared_sync,
    gradient_sync,
    is_data_parallel,
    is_fsdp1,
    is_fsdp2,
    is_initialized,
    rank,
    unwrap,
    world_size,
)
from optimsche.testing.local_processes import loopback_interface


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


# --- no process group -----------------------------------------------------------------------


def test_looking_for_fsdp_wrappers_does_not_import_fsdp() -> None:
    """Importing torch.distributed.fsdp costs ~0.6-2 s: the checks read sys.modules instead (a
    model cannot be an instance of an FSDP class no one imported). In a fresh interpreter.
    (Building a torch optimizer imports torch._dynamo, which imports FSDP anyway: the saving
    is for code that inspects models without building one.)"""
    script = textwrap.dedent(
        """
        import sys
        import torch
        from torch import nn
        from optimsche.parallel.distributed import (
            as_full_tensor, backward_inputs, gradient_sync, is_data_parallel, is_fsdp1,
            is_fsdp2, unwrap,
        )
        model = nn.Linear(2, 1)
        assert unwrap(model) is model and not is_data_parallel(model)
        assert not is_fsdp1(model) and not is_fsdp2(model)
        assert backward_inputs(model, list(model.parameters())) is not None
        with gradient_sync(model, False):
            pass
        assert as_full_tensor(torch.ones(())) is not None
        loaded = sorted(m for m in sys.modules if m.startswith(("torch.distributed.fsdp",
                                                               "torch.distributed.tensor")))
        print(loaded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_single_process_world() -> None:
    assert not is_initialized()
    assert world_size() == 1
    assert rank() == 0


def test_all_reduce_without_group_is_identity_in_place() -> None:
    t = torch.tensor([1.5, -2.0])
    out = all_reduce_sum_(t)
    assert out is t
    assert torch.equal(t, torch.tensor([1.5, -2.0]))


def test_plain_module_is_not_data_parallel() -> None:
    model = _model()
    assert unwrap(model) is model
    assert not is_data_parallel(model)
    assert not is_data_parallel(None)
    assert not is_fsdp1(model) and not is_fsdp2(model)
    assert forward_prepared_sync(model) is None
    assert forward_prepared_sync(None) is None


@pytest.mark.parametrize("enabled", [True, False])
def test_gradient_sync_on_plain_module_leaves_backward_alone(enabled: bool) -> None:
    x = torch.randn(5, 3, dtype=torch.float64)
    ref = _model()
    ref(x).sum().backward()
    model = _model()
    with gradient_sync(model, enabled):
        model(x).sum().backward()
    with gradient_sync(None, enabled):
        pass
    assert all(torch.equal(a, b) for a, b in zip(_grads(model), _grads(ref), strict=True))


def test_backward_inputs_of_a_plain_model_are_its_params() -> None:
    model = _model()
    params = list(model.parameters())
    inputs = backward_inputs(model, params)
    assert inputs is not None and all(a is b for a, b in zip(inputs, params, strict=True))
    assert backward_inputs(None, params) == params


def test_as_full_tensor_leaves_a_plain_tensor_alone() -> None:
    t = torch.tensor(2.5)
    assert as_full_tensor(t) is t


def test_arm_gradient_sync_on_plain_module_sets_nothing() -> None:
    model = _model()
    before = dict(vars(model))
    arm_gradient_sync(model, False)
    arm_gradient_sync(None, False)
    assert dict(vars(model)) == before
    assert not hasattr(model, "require_backward_grad_sync")


# --- a 1-rank gloo group in this process ------------------------------------------------------


@pytest.fixture
def one_rank_group(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A gloo default group of one rank on the loopback interface, destroyed afterwards."""
    from torch._C._distributed_c10d import HashStore

    monkeypatch.setenv("GLOO_SOCKET_IFNAME", loopback_interface())
    dist.init_process_group("gloo", store=HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.usefixtures("one_rank_group")
def test_one_rank_group_world_and_reduce() -> None:
    assert is_initialized()
    assert world_size() == 1
    assert rank() == 0
    t = torch.tensor([3.0])
    assert all_reduce_sum_(t) is t
    assert t.item() == 3.0


@pytest.mark.usefixtures("one_rank_group")
def test_unwrap_looks_through_ddp() -> None:
    inner = _model()
    ddp = DistributedDataParallel(inner)
    assert unwrap(ddp) is inner
    assert is_data_parallel(ddp)
    params = list(ddp.parameters())
    assert backward_inputs(ddp, params) == params
    assert not is_data_parallel(inner)
    assert not is_fsdp1(ddp) and not is_fsdp2(ddp)


@pytest.mark.usefixtures("one_rank_group")
def test_gradient_sync_false_is_ddp_no_sync_and_restores() -> None:
    ddp = DistributedDataParallel(_model())
    assert ddp.require_backward_grad_sync
    with gradient_sync(ddp, False):
        assert not ddp.require_backward_grad_sync
    assert ddp.require_backward_grad_sync
    with gradient_sync(ddp, True):
        assert ddp.require_backward_grad_sync


@pytest.mark.usefixtures("one_rank_group")
def test_arm_gradient_sync_decides_what_the_next_forward_prepares() -> None:
    ddp = DistributedDataParallel(_model())
    x = torch.randn(4, 3, dtype=torch.float64)
    assert forward_prepared_sync(ddp) is True  # before any forward
    arm_gradient_sync(ddp, False)
    assert not ddp.require_backward_grad_sync
    ddp(x).sum().backward()
    assert forward_prepared_sync(ddp) is False
    arm_gradient_sync(ddp, True)
    loss = ddp(x).sum()
    assert forward_prepared_sync(ddp) is True
    # the flag is read at forward time: disabling it around the backward changes nothing
    with gradient_sync(ddp, False):
        assert forward_prepared_sync(ddp) is True
        loss.backward()
    with torch.no_grad():
        ddp(x)
    assert forward_prepared_sync(ddp) is False  # a no-grad forward prepares nothing
    assert ddp.require_backward_grad_sync  # and leaves the armed flag as it was


@pytest.mark.usefixtures("one_rank_group")
def test_fsdp2_sync_flag_is_turned_off_and_restored() -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule, fully_shard

    model = _model()
    mesh = init_device_mesh("cpu", (1,))
    fully_shard(model[0], mesh=mesh)
    fully_shard(model, mesh=mesh)
    assert unwrap(model) is model  # not a wrapper
    assert is_fsdp2(model) and is_fsdp2(model[0]) and is_data_parallel(model)

    def flags() -> list[bool]:
        return [
            group.reduce_grads
            for module in model.modules()
            if is_fsdp2(module)
            for group in cast(FSDPModule, module)._get_fsdp_state()._fsdp_param_groups
        ]

    assert flags() == [True, True]
    with gradient_sync(model, False):
        assert flags() == [False, False]
    assert flags() == [True, True]
    # a flag the user turned off on one submodule stays off after the context
    cast(FSDPModule, model[0]).set_requires_gradient_sync(False)
    before = flags()
    with gradient_sync(model, False):
        assert flags() == [False, False]
    assert flags() == before


@pytest.mark.usefixtures("one_rank_group")
def test_fsdp2_backward_is_not_restricted_to_the_sharded_params() -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    model = _model()
    fully_shard(model, mesh=init_device_mesh("cpu", (1,)))
    params = list(model.parameters())
    assert all(isinstance(p, DTensor) for p in params)
    assert backward_inputs(model, params) is None
    # why: the sharded parameters are not leaves of the forward graph, so restricting the
    # backward to them computes nothing at all
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.autograd.backward(model(x).sum(), inputs=params)
    assert all(p.grad is None for p in params)
    torch.autograd.backward(model(x).sum(), inputs=backward_inputs(model, params))
    assert all(p.grad is not None for p in params)
    # a norm of sharded gradients is a DTensor; as_full_tensor makes it a plain global value
    norm = torch.linalg.vector_norm(
        torch.stack(list(torch._foreach_norm([p.grad for p in params if p.grad is not None])))
    )
    assert isinstance(norm, DTensor)
    full = as_full_tensor(norm)
    assert not isinstance(full, DTensor)
    assert torch.equal(full, norm.full_tensor())
