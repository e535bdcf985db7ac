"""optimsche.testing.local_processes: N gloo processes on 127.0.0.1, and DDP's sync facts seen
from two real ranks (which the shell relies on: DDP decides at *forward* time whether to
all-reduce)."""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from optimsche.parallel.distributed import (
    all_reduce_sum_,
    arm_gradient_sync,
    average_gradients_,
    forward_prepared_sync,
    gradient_sync,
    rank,
    world_size,
)
from optimsche.testing.local_processes import (
    DEFAULT_COLLECTIVE_TIMEOUT_S,
    LOOPBACK,
    LocalProcessError,
    loopback_interface,
    run_local_processes,
)

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)


def _one_backward(
    ddp: DistributedDataParallel, x: Tensor, *, forward_sync: bool, backward_sync: bool
) -> tuple[bool, bool | None]:
    """Whether one forward+backward all-reduced the gradient, when the forward runs armed with
    ``forward_sync`` and the backward inside ``gradient_sync(ddp, backward_sync)``; and what
    ``forward_prepared_sync`` said after the forward."""
    before = [
        p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in ddp.parameters()
    ]
    arm_gradient_sync(ddp, forward_sync)
    out: Tensor = ddp(x)
    prepared = forward_prepared_sync(ddp)
    with gradient_sync(ddp, backward_sync):
        torch.autograd.backward(out.sum())
    arm_gradient_sync(ddp, True)
    # the local gradient of this backward is x.sum(0) on every rank's own x; after an
    # all-reduce (average) it is the mean of both ranks' x.sum(0)
    grad = next(ddp.parameters()).grad
    assert grad is not None
    local = x.sum(0, keepdim=True)
    mean = all_reduce_sum_(local.clone()) / world_size()
    delta = grad - before[0]
    synced = torch.allclose(delta, mean) and not torch.allclose(mean, local)
    return synced, prepared


def listening_addresses(port: int) -> set[str]:
    """Hex local addresses (as /proc/net/tcp writes them) of sockets listening on ``port``;
    empty where /proc/net is not there."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                address, port_hex = fields[1].rsplit(":", 1)
                if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.add(address)
    return found


def two_rank_facts(rank_: int, world_size_: int) -> dict[str, Any]:
    """Body of the 2-rank run: identity of the group, a reduction, and DDP's sync decisions."""
    total = all_reduce_sum_(torch.tensor([float(rank_ + 1)]))
    torch.manual_seed(0)
    ddp = DistributedDataParallel(nn.Linear(3, 1, bias=False).double())
    x = torch.full((2, 3), float(rank_ + 1), dtype=torch.float64)
    return {
        "rank": (rank_, rank(), dist.get_rank()),
        "world": (world_size_, world_size()),
        "sum": total.item(),
        "env": (os.environ["MASTER_ADDR"], os.environ["GLOO_SOCKET_IFNAME"]),
        "store_listens_on": listening_addresses(int(os.environ["MASTER_PORT"])),
        # (all-reduced?, forward_prepared_sync) for each way of placing the sync decision
        "fwd_on_bwd_on": _one_backward(ddp, x, forward_sync=True, backward_sync=True),
        "fwd_on_bwd_off": _one_backward(ddp, x, forward_sync=True, backward_sync=False),
        "fwd_off_bwd_on": _one_backward(ddp, x, forward_sync=False, backward_sync=True),
        "fwd_off_bwd_off": _one_backward(ddp, x, forward_sync=False, backward_sync=False),
    }


def averaged_gradients(rank_: int, world_size_: int, bucket_bytes: int) -> dict[str, Any]:
    """``average_gradients_`` over parameters of two dtypes whose gradients are ``rank + 1``
    times a base: one non-contiguous, one sparse, one present on rank 0 only, one on no rank."""
    scale = float(rank_ + 1)
    params = {
        "dense64": nn.Parameter(torch.zeros(2, 3, dtype=torch.float64)),
        "dense32": nn.Parameter(torch.zeros(4, 3)),
        "sparse": nn.Parameter(torch.zeros(4)),
        "rank0_only": nn.Parameter(torch.zeros(2)),
        "nowhere": nn.Parameter(torch.zeros(3)),
    }
    params["dense64"].grad = torch.arange(6, dtype=torch.float64).reshape(2, 3) * scale
    params["dense32"].grad = (torch.arange(12.0).reshape(3, 4) * scale).t()  # non-contiguous
    params["sparse"].grad = torch.sparse_coo_tensor([[0, 2]], [1.0, 2.0], (4,)) * scale
    if rank_ == 0:
        params["rank0_only"].grad = torch.tensor([2.0, 4.0])
    average_gradients_(list(params.values()), world_size_, bucket_bytes=bucket_bytes)
    return {
        name: None if p.grad is None else p.grad.to_dense() if p.grad.is_sparse else p.grad
        for name, p in params.items()
    }


def print_rank(rank_: int, world_size_: int, tag: str) -> None:
    """Write one line to stdout and one to stderr (each in one write: the ranks share the
    files, so a line written in pieces could interleave with the other rank's)."""
    sys.stdout.write(f"{tag}: stdout of rank {rank_}\n")
    sys.stdout.flush()
    sys.stderr.write(f"{tag}: stderr of rank {rank_}\n")
    sys.stderr.flush()


def fail_on_rank_one(rank_: int, world_size_: int, message: str) -> int:
    """Rank 1 raises; rank 0 returns normally."""
    if rank_ == 1:
        raise ValueError(message)
    return rank_


def test_two_ranks_form_a_loopback_gloo_group() -> None:
    results = run_local_processes(two_rank_facts, 2, timeout_s=120.0)
    assert [r["rank"] for r in results] == [(0, 0, 0), (1, 1, 1)]
    assert [r["world"] for r in results] == [(2, 2), (2, 2)]
    assert [r["sum"] for r in results] == [3.0, 3.0]
    assert all(r["env"] == (LOOPBACK, loopback_interface()) for r in results)
    # the rendezvous store listens on 127.0.0.1 only (0100007F in /proc/net/tcp), when visible
    for r in results:
        assert r["store_listens_on"] <= {"0100007F"}
    # DDP decides at forward time: gradient_sync around the backward alone changes nothing,
    # arm_gradient_sync before the forward decides, forward_prepared_sync tells which it was
    for r in results:
        assert r["fwd_on_bwd_on"] == (True, True)
        assert r["fwd_on_bwd_off"] == (True, True)
        assert r["fwd_off_bwd_on"] == (False, False)
        assert r["fwd_off_bwd_off"] == (False, False)


def test_a_failing_rank_raises_with_its_traceback() -> None:
    with pytest.raises(LocalProcessError, match=r"(?s)rank 1:.*ValueError: boom on purpose"):
        run_local_processes(fail_on_rank_one, 2, "boom on purpose", timeout_s=60.0)


def all_reduce_alone(rank_: int, world_size_: int, absent_s: float) -> float:
    """Rank 0 all-reduces; rank 1 never joins (it sleeps ``absent_s``). Rank 0 raises, saying
    after how many seconds its all-reduce gave up."""
    if rank_ != 0:
        time.sleep(absent_s)
        return absent_s
    start = time.monotonic()
    try:
        dist.all_reduce(torch.ones(1))
    except RuntimeError as error:
        waited = time.monotonic() - start
        raise RuntimeError(f"the all-reduce gave up after {waited:.1f} s: {error}") from None
    raise AssertionError("an all-reduce without rank 1 completed")


def test_a_collective_that_a_rank_never_joins_fails_after_the_collective_timeout() -> None:
    start = time.monotonic()
    with pytest.raises(
        LocalProcessError, match=r"(?s)rank 0:.*gave up after .*Timed out"
    ) as caught:
        run_local_processes(all_reduce_alone, 2, 60.0, timeout_s=90.0, collective_timeout_s=2.0)
    found = re.search(r"gave up after ([0-9.]+) s", str(caught.value))
    assert found is not None
    waited = float(found.group(1))
    assert 1.5 <= waited < 20.0, str(caught.value)
    assert time.monotonic() - start < 60.0  # rank 1 is killed, not waited for
    default = inspect.signature(run_local_processes).parameters["collective_timeout_s"].default
    assert default == DEFAULT_COLLECTIVE_TIMEOUT_S == 60.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"world_size": 0}, "world_size must be >= 1, got 0"),
        ({"world_size": 2, "timeout_s": 0.0}, "timeout_s must be > 0, got 0.0"),
        (
            {"world_size": 2, "collective_timeout_s": 0.0},
            "collective_timeout_s must be > 0, got 0.0",
        ),
    ],
)
def test_bad_arguments_are_rejected_before_spawning(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_local_processes(fail_on_rank_one, **kwargs)


def test_loopback_interface_is_a_lo_interface() -> None:
    assert loopback_interface().startswith("lo")


@pytest.mark.parametrize("bucket_bytes", [16, 2**20])  # one all-reduce per parameter, or few
def test_average_gradients_is_the_mean_over_ranks(bucket_bytes: int) -> None:
    mean = (1.0 + 2.0) / 2  # ranks hold 1x and 2x the base
    for r in run_local_processes(averaged_gradients, 2, bucket_bytes, timeout_s=120.0):
        assert torch.equal(r["dense64"], torch.arange(6, dtype=torch.float64).reshape(2, 3) * mean)
        assert torch.equal(r["dense32"], (torch.arange(12.0).reshape(3, 4) * mean).t())
        assert torch.equal(r["sparse"], torch.tensor([1.0, 0.0, 2.0, 0.0]) * mean)
        # a gradient on one rank only is averaged with the other's zeros, as DDP does
        assert torch.equal(r["rank0_only"], torch.tensor([1.0, 2.0]))
        assert r["nowhere"] is None


@contextlib.contextmanager
def std_fds_to(out: Path, err: Path) -> Iterator[None]:
    """Point this process's file descriptors 1 and 2 at ``out`` and ``err`` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with out.open("wb") as out_file, err.open("wb") as err_file:
        os.dup2(out_file.fileno(), 1)
        os.dup2(err_file.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, target in zip(saved, (1, 2), strict=True):
                os.dup2(fd, target)
                os.close(fd)


def test_rank_output_goes_to_the_stdout_and_stderr_current_at_each_run(tmp_path: Path) -> None:
    # Two runs, each with fds 1/2 pointed elsewhere: the forkserver (started by the first run
    # or an earlier test) must not keep sending the ranks' output to where it started.
    for run in ("first", "second"):
        out, err = tmp_path / f"{run}.out", tmp_path / f"{run}.err"
        with std_fds_to(out, err):
            run_local_processes(print_rank, 2, run, timeout_s=120.0)
        for stream, path in (("stdout", out), ("stderr", err)):
            lines = set(path.read_text().splitlines())
            assert {f"{run}: {stream} of rank {r}" for r in (0, 1)} <= lines
