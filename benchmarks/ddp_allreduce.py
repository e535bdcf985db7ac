"""Benchmark 4: DDP gradient accumulation, 2 gloo processes on 127.0.0.1.

For ``accum_grad`` in {1, 4, 8}, three loops train the same DDP-wrapped MLP (AdamW, clip 1.0,
warmup_cosine lr) on the same per-rank micro-batches:

* **shell**: ``OptimScheduler(optimizer=..., model=ddp_model, accum_grad=k)``: the non-final
  micro-steps of a window run without gradient sync, and the update all-reduces one small
  tensor (gradient norm + losses) so that every rank agrees on skipping a non-finite update;
* **sync every micro-step**: the naive loop, ``(loss / k).backward()`` on every micro-step, so
  DDP all-reduces the gradients k times per window;
* **hand no_sync**: the best hand-written loop, ``with ddp_model.no_sync():`` around the
  forward and backward of the non-final micro-steps (a reference for the shell).

Figures: wall time per window (the slower rank's, median and min–max over interleaved
rounds) and all-reduces per window: the gradient-bucket all-reduces, counted by a DDP comm
hook, and every ``torch.distributed.all_reduce`` call (counted by wrapping it in the
benchmark's worker processes). All processes use 1 torch thread. No ``from __future__ import
annotations`` here: DDP's ``register_comm_hook`` reads the hook's annotations at run time.
"""

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch._C._distributed_c10d import GradBucket
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.futures import Future
from torch.nn import functional
from torch.nn.parallel import DistributedDataParallel

import schedules
from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import ratio_range, seconds_range
from benchmarks.results import Row, Section
from benchmarks.timing import Samples, paired
from optimsche import OptimScheduler
from optimsche.testing.local_processes import run_local_processes

NAME = "ddp_allreduce"
WORLD = 2
PEAK = 1e-3
CANDIDATES = ("shell", "sync every micro-step", "hand no_sync")


class Counts:
    """Collective calls seen in one worker process: gradient syncs (backward passes that
    all-reduced gradients), their bucket all-reduces, and every ``all_reduce`` call."""

    def __init__(self) -> None:
        self.syncs = 0
        self.buckets = 0
        self.all_reduce = 0


def counting_allreduce_hook(state: Counts, bucket: GradBucket) -> Future[Tensor]:
    """DDP's default all-reduce (sum, then divide by the world size), counted."""
    state.buckets += 1
    if bucket.is_last():
        state.syncs += 1
    group = dist.group.WORLD
    assert group is not None, "the default process group is initialised by the launcher"
    return default_hooks.allreduce_hook(group, bucket)


@contextmanager
def counting_all_reduce(counts: Counts) -> Iterator[None]:
    """Count every ``torch.distributed.all_reduce`` call (the shell's and DDP's) inside."""
    original = dist.all_reduce

    def wrapper(tensor: Tensor, *args: Any, **kwargs: Any) -> Any:
        counts.all_reduce += 1
        return original(tensor, *args, **kwargs)

    dist.all_reduce = wrapper
    try:
        yield
    finally:
        dist.all_reduce = original


def _model(sizes: tuple[int, int, int]) -> nn.Sequential:
    torch.manual_seed(0)
    d_in, hidden, d_out = sizes
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out))


def _ddp(sizes: tuple[int, int, int], counts: Counts) -> DistributedDataParallel:
    model = DistributedDataParallel(_model(sizes))
    model.register_comm_hook(counts, counting_allreduce_hook)
    return model


def _batches(rank: int, sizes: tuple[int, int, int], batch: int) -> list[tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(100 + rank)
    return [
        (
            torch.randn(batch, sizes[0], generator=generator),
            torch.randn(batch, sizes[2], generator=generator),
        )
        for _ in range(8)
    ]


def _schedule() -> Callable[[int], float]:
    return functools.partial(schedules.warmup_cosine, peak=PEAK, warmup=5, steps=1000)


class _Loop:
    """One candidate on one rank: its DDP model, optimizer, counts and micro-step counter."""

    def __init__(
        self, name: str, accum: int, sizes: tuple[int, int, int], data: list[tuple[Tensor, Tensor]]
    ) -> None:
        self.name, self.accum, self.data = name, accum, data
        self.counts = Counts()
        self.model = _ddp(sizes, self.counts)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=PEAK)
        self.schedule = _schedule()
        self.params = list(self.model.parameters())
        self.micro = 0
        self.sche = (
            OptimScheduler(
                optimizer=self.optimizer,
                model=self.model,
                accum_grad=accum,
                grad_clip=1.0,
                schedule=self.schedule,
            )
            if name == "shell"
            else None
        )

    def run(self, windows: int) -> None:
        for _ in range(windows * self.accum):
            x, y = self.data[self.micro % len(self.data)]
            self.micro += 1
            final = self.micro % self.accum == 0
            if self.sche is not None:
                self.sche.step(functional.mse_loss(self.model(x), y))
                continue
            if self.name == "hand no_sync" and not final:
                with self.model.no_sync():
                    (functional.mse_loss(self.model(x), y) / self.accum).backward()  # type: ignore[no-untyped-call]
            else:
                (functional.mse_loss(self.model(x), y) / self.accum).backward()  # type: ignore[no-untyped-call]
            if final:
                lr = self.schedule(self.micro // self.accum)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)


def rank_body(
    rank: int,
    world: int,
    accums: tuple[int, ...],
    sizes: tuple[int, int, int],
    batch: int,
    windows: int,
    rounds: int,
) -> dict[str, Any]:
    """One worker: for each ``accum_grad``, interleaved rounds of every candidate.

    Returns, per ``(accum, candidate)``, the slower rank's seconds of each round, the counts
    per window, and the largest parameter difference from the shell at the end.
    """
    data = _batches(rank, sizes, batch)
    out: dict[str, Any] = {}
    for accum in accums:
        loops = [_Loop(name, accum, sizes, data) for name in CANDIDATES]
        seconds: dict[str, list[float]] = {loop.name: [] for loop in loops}
        for round_index in range(rounds + 1):  # round 0 warms up
            shift = round_index % len(loops)
            for loop in loops[shift:] + loops[:shift]:
                dist.barrier()
                with counting_all_reduce(loop.counts):
                    start = time.perf_counter()
                    loop.run(windows)
                    elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
                dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
                if round_index:
                    seconds[loop.name].append(float(elapsed))
        total_windows = (rounds + 1) * windows
        shell_params = loops[0].params
        for loop in loops:
            difference = max(
                float((p.detach() - q.detach()).abs().max())
                for p, q in zip(loop.params, shell_params, strict=True)
            )
            out[f"{accum}/{loop.name}"] = {
                "seconds": seconds[loop.name],
                "syncs": loop.counts.syncs / total_windows,
                "buckets": loop.counts.buckets / total_windows,
                "all_reduce": loop.counts.all_reduce / total_windows,
                "difference": difference,
            }
    return out


def run(config: BenchConfig) -> Section:
    """Benchmark 4 in ``WORLD`` local gloo processes."""
    accums = (4,) if config.quick else (1, 4, 8)
    sizes = (16, 32, 16) if config.quick else (256, 1024, 256)
    batch = config.pick(16, 4)
    windows = config.pick(6, 2)
    rounds = config.rounds(7)
    results = run_local_processes(
        rank_body, WORLD, accums, sizes, batch, windows, rounds, timeout_s=600.0
    )[0]
    rows: list[Row] = []
    for accum in accums:
        shell = results[f"{accum}/shell"]
        shell_s = Samples(tuple(shell["seconds"])).scaled(1 / windows)
        for other in CANDIDATES[1:]:
            theirs = results[f"{accum}/{other}"]
            if theirs["difference"] > 1e-4:
                raise AssertionError(
                    f"accum_grad={accum}: {other} trained differently from the shell "
                    f"(max |Δparam| {theirs['difference']:.3g})"
                )
            their_s = Samples(tuple(theirs["seconds"])).scaled(1 / windows)
            rows.append(
                Row(
                    f"accum_grad={accum}: s/window, shell vs {other}",
                    seconds_range(shell_s),
                    seconds_range(their_s),
                    ratio_range(paired(shell_s, their_s)),
                )
            )
        for name in CANDIDATES:
            counts = results[f"{accum}/{name}"]
            goal = name == "shell"
            rows.append(
                Row(
                    f"accum_grad={accum}: per window, {name}: gradient syncs / bucket "
                    f"all-reduces / all all_reduce calls",
                    f"{counts['syncs']:.3g} / {counts['buckets']:.3g} / {counts['all_reduce']:.3g}",
                    "",
                    "",
                    "1 gradient sync per window" if goal else "",
                    counts["syncs"] == 1 if goal else None,
                )
            )
    d_in, hidden, d_out = sizes
    parameters = d_in * hidden + hidden + hidden * d_out + d_out
    return Section(
        NAME,
        "4. DDP: all-reduces and time per window",
        f"{WORLD} gloo processes on 127.0.0.1 (1 torch thread each), MLP {d_in}-{hidden}-{d_out} "
        f"({parameters:,} parameters), {batch} rows per micro-batch per rank, {windows} "
        f"windows per round.",
        tuple(rows),
        ("ours (shell)", "baseline", "ours / baseline"),
        (
            "Time per window is the slower rank's; interleaved rounds; wall time (the ranks "
            "wait on each other).",
            "A gradient sync is a backward pass whose gradients DDP all-reduced (counted at its "
            "last bucket); DDP splits one sync into buckets (its first bucket is small, and "
            "the first iteration's bucketing differs: hence fractional bucket counts). 'All "
            "calls' counts every torch.distributed.all_reduce, buckets included; the shell's "
            "calls beyond the buckets are its per-update check (gradient norm and losses, "
            "summed so that all ranks agree on skipping a non-finite update).",
            "All loops end with the same parameters as the shell to 1e-4 (checked).",
        ),
    )
