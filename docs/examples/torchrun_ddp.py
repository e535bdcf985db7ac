"""Data-parallel training under ``torchrun`` with an OptimScheduler (gloo, CPU).

One machine, two processes, loopback only::

    GLOO_SOCKET_IFNAME=lo torchrun --nproc_per_node 2 --master_addr 127.0.0.1 \\
        --master_port 29500 docs/examples/torchrun_ddp.py --out /tmp/torchrun-run

(``python -m torch.distributed.run`` is the same command.) ``torchrun`` starts one process per
rank and gives each ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; the script joins with ``init_process_group("gloo", init_method="env://",
timeout=...)``. The timeout is bounded (``--timeout-s``, 60 s by default) instead of torch's 30
minutes: a rank that crashed or went another way makes the others fail after a minute rather
than hang. ``GLOO_SOCKET_IFNAME=lo`` keeps gloo's own connections on the loopback interface;
on several machines set it to the interface that connects them (or leave it unset).
``torchrun``'s own rendezvous store listens on ``--master_port`` of every interface, even with
``--master_addr 127.0.0.1`` (torch's behaviour): every connection here goes to 127.0.0.1.

Each rank trains a small DDP model on its own data shard with ``OptimScheduler(accum_grad=4)``:
the first three micro-steps of each window run without gradient sync, so DDP all-reduces the
gradients once per window (counted with a DDP comm hook). Each rank writes its *own*
checkpoint files with :func:`optimsche.save_checkpoint`: one in the middle of a window
(``mid.rank<r>.pt``: its partial gradients are that rank's own, not yet all-reduced, so one
file per rank is needed, each loaded on its own rank) and one at the end (``final.rank<r>.pt``).

Prints, per rank, one JSON line: ``{"rank", "world_size", "windows", "allreduces_per_window":
[...], "checksum": sha256 of the final parameters, "initial_checksum", "checkpoints": [...],
"lr": the last lr}``. Every rank must end with the same checksum.
"""

import argparse
import functools
import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch._C._distributed_c10d import GradBucket
from torch.futures import Future
from torch.nn.parallel import DistributedDataParallel

import schedules
from optimsche import OptimScheduler, load_checkpoint, save_checkpoint

ACCUM_GRAD = 4


def counting_allreduce_hook(counter: list[int], bucket: GradBucket) -> Future[Tensor]:
    """DDP's default gradient all-reduce (the mean over ranks), counted."""
    counter[0] += 1
    tensor = bucket.buffer().div_(dist.get_world_size())
    work = dist.all_reduce(tensor, async_op=True)
    assert work is not None
    averaged: Future[Tensor] = work.get_future().then(lambda fut: fut.value()[0])
    return averaged


def make_model() -> nn.Module:
    """The same small float64 model on every rank (seeded)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).double()


def micro_batch(rank: int, window: int, micro: int) -> tuple[Tensor, Tensor]:
    """This rank's shard: a micro-batch that depends on the rank, the window and the micro-step."""
    gen = torch.Generator().manual_seed(10_000 * rank + 100 * window + micro)
    x = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    return x, x.sum(dim=1, keepdim=True).sin()


def checksum(model: nn.Module) -> str:
    """SHA-256 of the parameters' bytes, in ``named_parameters`` order."""
    sha = hashlib.sha256()
    for _, p in model.named_parameters():
        sha.update(bytes(p.detach().cpu().contiguous().flatten().view(torch.uint8).tolist()))
    return sha.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the checkpoints")
    parser.add_argument("--windows", type=int, default=6, help="update windows to train")
    parser.add_argument(
        "--timeout-s", type=float, default=60.0, help="process group timeout (default 60 s)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=args.timeout_s))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    args.out.mkdir(parents=True, exist_ok=True)

    model = make_model()
    initial = checksum(model)
    ddp = DistributedDataParallel(model)  # broadcasts rank 0's parameters to every rank
    counter = [0]
    ddp.register_comm_hook(counter, counting_allreduce_hook)
    sche = OptimScheduler(
        optim_type="SGD",
        optim_conf={"lr": 0.1, "momentum": 0.9},
        model=ddp,
        accum_grad=ACCUM_GRAD,
        schedule=functools.partial(
            schedules.warmup_cosine, peak=0.1, warmup=2, steps=args.windows, final=0.01
        ),
    )

    per_window, files = [], []
    for window in range(1, args.windows + 1):
        before = counter[0]
        for micro in range(1, ACCUM_GRAD + 1):
            x, y = micro_batch(rank, window, micro)
            loss = ((ddp(x) - y) ** 2).mean()
            report = sche.step(loss)
            if window == 2 and micro == 2:  # mid-window: this rank's partial gradients
                path = args.out / f"mid.rank{rank}.pt"
                save_checkpoint({"model": model.state_dict(), "optim": sche.state_dict()}, path)
                files.append(str(path))
        per_window.append(counter[0] - before)

    final = args.out / f"final.rank{rank}.pt"
    save_checkpoint({"model": model.state_dict(), "optim": sche.state_dict()}, final)
    files.append(str(final))
    assert load_checkpoint(final)["optim"]["counters"]["step_num"] == args.windows * ACCUM_GRAD
    line = json.dumps(
        {
            "rank": rank,
            "world_size": world_size,
            "local_rank": int(os.environ.get("LOCAL_RANK", rank)),
            "windows": args.windows,
            "allreduces_per_window": per_window,
            "checksum": checksum(model),
            "initial_checksum": initial,
            "checkpoints": files,
            "lr": report.lr,
        }
    )
    os.write(1, (line + "\n").encode())  # one write: the ranks' lines never interleave
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
