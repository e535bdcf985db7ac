"""Shared pieces of the multi-process DDP/FSDP tests: data, model, reference loops, rank bodies.

Module-level functions only, so that ``optimsche.local_processes.run_local_processes`` can pickle
them into spawned processes. Every model is float64 so that "equals the large batch" can be
checked to rtol 1e-6 (in practice ~1e-15). SGD with momentum is used on purpose: unlike Adam it
is not invariant to the gradient's scale, so a wrong division (by accum_grad, world size or the
item count) shows up in the parameters.

No ``from __future__ import annotations`` here: DDP's ``register_comm_hook`` inspects the hook's
annotations at runtime and rejects string annotations.
"""

import copy
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch._C._distributed_c10d import GradBucket
from torch.futures import Future
from torch.nn.parallel import DistributedDataParallel

from optimsche import OptimScheduler, OptimSchedulerGroup

WORLD = 2
ACCUM = 4
WINDOWS = 3
BATCH = 3
DIM_IN = 4
HIDDEN = 8
LR = 0.05
MOMENTUM = 0.9

Params = list[Tensor]


def make_model() -> nn.Sequential:
    """The same small float64 MLP on every rank and in the reference (seeded)."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    model = nn.Sequential(nn.Linear(DIM_IN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 1)).double()
    torch.random.set_rng_state(gen_state)
    return model


def make_optimizer(params: Any) -> torch.optim.SGD:
    """Plain SGD with momentum (scale-sensitive, see the module docstring)."""
    return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)


def item_count(rank: int, window: int, micro: int) -> int:
    """Uneven number of items (tokens) of one micro-batch: 0..6, different on every rank."""
    return (3 * rank + 5 * micro + 2 * window + rank * micro) % 7


def batch(rank: int, window: int, micro: int, size: int = BATCH) -> tuple[Tensor, Tensor]:
    """Inputs and targets of one micro-batch, a pure function of (rank, window, micro)."""
    gen = torch.Generator().manual_seed(10_000 * rank + 100 * window + micro)
    x = torch.randn(size, DIM_IN, generator=gen, dtype=torch.float64)
    y = torch.randn(size, 1, generator=gen, dtype=torch.float64)
    return x, y


def token_batch(rank: int, window: int, micro: int) -> tuple[Tensor, Tensor]:
    """A micro-batch of ``item_count(rank, window, micro)`` items."""
    return batch(rank, window, micro, size=item_count(rank, window, micro))


def mean_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error over the micro-batch."""
    out: Tensor = model(x)
    return ((out - y) ** 2).mean()


def sum_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Squared error summed over items (the ``num_items`` convention)."""
    out: Tensor = model(x)
    return ((out - y) ** 2).sum()


def snapshot(model: nn.Module) -> Params:
    """Detached copies of the parameters, in order."""
    return [p.detach().clone() for p in model.parameters()]


def window_data(
    window: int,
    make_batch: Callable[[int, int, int], tuple[Tensor, Tensor]],
    world: int = WORLD,
) -> tuple[Tensor, Tensor]:
    """The large batch of one window: every rank's micro-batches concatenated."""
    parts = [make_batch(r, window, k) for r in range(world) for k in range(ACCUM)]
    return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])


def reference_large_batch(
    *, token_exact: bool, skip_windows: Sequence[int] = (), grad_clip: float | None = None
) -> list[Params]:
    """Single process, one optimizer step per window on the window's whole batch.

    ``token_exact``: loss = squared error summed over all items / total items (the
    ``num_items`` semantics, uneven micro-batches); otherwise the mean over equal micro-batches.
    Windows in ``skip_windows`` are not applied (what a non-finite skip must amount to).
    ``grad_clip``: ``torch.nn.utils.clip_grad_norm_`` before each step. Returns the parameters
    after each window.
    """
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    history: list[Params] = []
    for w in range(WINDOWS):
        if w not in skip_windows:
            x, y = window_data(w, token_batch if token_exact else batch)
            optimizer.zero_grad(set_to_none=True)
            loss = sum_loss(model, x, y) / x.shape[0] if token_exact else mean_loss(model, x, y)
            torch.autograd.backward(loss)
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        history.append(snapshot(model))
    return history


def counting_allreduce_hook(counter: list[int], bucket: GradBucket) -> Future[Tensor]:
    """A DDP comm hook: count the call, then do what DDP does by default (average)."""
    counter[0] += 1
    tensor = bucket.buffer().div_(dist.get_world_size())
    work = dist.all_reduce(tensor, async_op=True)
    assert work is not None
    averaged: Future[Tensor] = work.get_future().then(lambda fut: fut.value()[0])
    return averaged


def counted_ddp() -> tuple[DistributedDataParallel, list[int]]:
    """A DDP-wrapped ``make_model()`` whose all-reduces are counted in the returned list."""
    ddp = DistributedDataParallel(make_model())
    counter = [0]
    ddp.register_comm_hook(counter, counting_allreduce_hook)
    return ddp, counter


def handwritten_ddp(rank: int, *, use_no_sync: bool) -> dict[str, Any]:
    """The loop a careful user writes: loss/ACCUM, no_sync around forward AND backward of the
    non-final micro-steps (``use_no_sync=False``: the naive loop that syncs every micro-step).
    """
    ddp, counter = counted_ddp()
    optimizer = make_optimizer(ddp.parameters())
    history: list[Params] = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            x, y = batch(rank, w, k)
            final = k == ACCUM - 1
            if use_no_sync and not final:
                with ddp.no_sync():
                    torch.autograd.backward(mean_loss(ddp, x, y) / ACCUM)
            else:
                torch.autograd.backward(mean_loss(ddp, x, y) / ACCUM)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append(snapshot(ddp))
    return {"params": history, "allreduces": counter[0]}


def _report(report: Any) -> tuple[int, int, bool, str | None]:
    """The plain, picklable part of a StepReport."""
    return (report.step_num, report.real_step, report.updated, report.skipped)


def shell_ddp(rank: int) -> dict[str, Any]:
    """(a)+(b): the shell drives a DDP model, accum_grad=ACCUM, mean loss per micro-batch.

    The shell is built before the first forward (DDP decides at forward time whether the
    backward all-reduces, so the shell must have armed that decision already).
    """
    ddp, counter = counted_ddp()
    osch = OptimScheduler(model=ddp, optimizer=make_optimizer(ddp.parameters()), accum_grad=ACCUM)
    history: list[Params] = []
    reports = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            x, y = batch(rank, w, k)
            reports.append(_report(osch.step({"loss": mean_loss(ddp, x, y)})))
        history.append(snapshot(ddp))
    return {"params": history, "allreduces": counter[0], "reports": reports}


def shell_ddp_num_items(rank: int) -> dict[str, Any]:
    """(c): loss summed over an uneven number of items per rank and micro-step, ``num_items``."""
    ddp, counter = counted_ddp()
    osch = OptimScheduler(model=ddp, optimizer=make_optimizer(ddp.parameters()), accum_grad=ACCUM)
    history: list[Params] = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            x, y = token_batch(rank, w, k)
            osch.step({"loss": sum_loss(ddp, x, y)}, num_items=x.shape[0])
        history.append(snapshot(ddp))
    return {"params": history, "allreduces": counter[0]}


NAN_WINDOW = 1
NAN_RANK = 1
NAN_MICRO = 1


def shell_ddp_nonfinite(rank: int) -> dict[str, Any]:
    """(d): in window NAN_WINDOW, only rank NAN_RANK sees a NaN loss, at a non-final micro-step.

    The NaN is added as a constant, so its gradient is finite: after DDP's all-reduce every
    rank holds finite gradients and only NAN_RANK's loss tells that the window is bad. Every
    rank must skip it all the same, and later windows must not see its gradients.
    """
    ddp, _ = counted_ddp()
    osch = OptimScheduler(model=ddp, optimizer=make_optimizer(ddp.parameters()), accum_grad=ACCUM)
    history: list[Params] = []
    reports = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            x, y = batch(rank, w, k)
            loss = mean_loss(ddp, x, y)
            if (rank, w, k) == (NAN_RANK, NAN_WINDOW, NAN_MICRO):
                loss = loss + torch.tensor(float("nan"), dtype=loss.dtype)
            reports.append(_report(osch.step({"loss": loss})))
        history.append(snapshot(ddp))
    return {"params": history, "reports": reports}


class TwoHeads(nn.Module):
    """A shared encoder and two heads: two losses, two optimizers (SpeeChain's optim_sches)."""

    def __init__(self) -> None:
        super().__init__()
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(4321)
        self.enc = nn.Linear(DIM_IN, HIDDEN).double()
        self.head_a = nn.Linear(HIDDEN, 1).double()
        self.head_b = nn.Linear(HIDDEN, 1).double()
        torch.random.set_rng_state(gen_state)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.tanh(self.enc(x))
        return self.head_a(h), self.head_b(h)


def two_losses(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """loss_a fits y with head_a, loss_b fits -y with head_b; both through the shared encoder."""
    out_a, out_b = model(x)
    return {"loss_a": ((out_a - y) ** 2).mean(), "loss_b": ((out_b + y) ** 2).mean()}


def reference_group_large_batch(a_every: int = 1, with_b: bool = True) -> list[Params]:
    """Single process: optimizer A (enc + head_a) on loss_a, B (head_b) on loss_b, each
    backward reaching only its own parameters, one step per window on the whole batch.

    ``a_every``: A takes part only in windows whose 1-based number is a multiple of it
    (``step_per_update``). ``with_b=False``: no optimizer B (head_b is never trained).
    """
    model = TwoHeads()
    params_a = [*model.enc.parameters(), *model.head_a.parameters()]
    params_b = list(model.head_b.parameters())
    opt_a, opt_b = make_optimizer(params_a), make_optimizer(params_b)
    history: list[Params] = []
    for w in range(WINDOWS):
        losses = two_losses(model, *window_data(w, batch))
        if (w + 1) % a_every == 0:
            torch.autograd.backward(losses["loss_a"], inputs=params_a, retain_graph=True)
            opt_a.step()
        if with_b:
            torch.autograd.backward(losses["loss_b"], inputs=params_b)
            opt_b.step()
        opt_a.zero_grad(set_to_none=True)
        opt_b.zero_grad(set_to_none=True)
        history.append(snapshot(model))
    return history


def reference_group_mixed_accum(accum_a: int) -> list[Params]:
    """Single process emulating WORLD data-parallel ranks: optimizer A (enc + head_a) updates
    every ``accum_a`` micro-steps, B (head_b) every ACCUM, each on the mean gradient of its
    window's micro-batches over all ranks, computed (as on the ranks) with the parameters of
    the moment: B's later micro-batches see the encoder A has updated meanwhile."""
    model = TwoHeads()
    params_a = [*model.enc.parameters(), *model.head_a.parameters()]
    params_b = list(model.head_b.parameters())
    opt_a, opt_b = make_optimizer(params_a), make_optimizer(params_b)
    history: list[Params] = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            for r in range(WORLD):
                losses = two_losses(model, *batch(r, w, k))
                scale_a, scale_b = 1.0 / (WORLD * accum_a), 1.0 / (WORLD * ACCUM)
                torch.autograd.backward(
                    losses["loss_a"] * scale_a, inputs=params_a, retain_graph=True
                )
                torch.autograd.backward(losses["loss_b"] * scale_b, inputs=params_b)
            if (k + 1) % accum_a == 0:
                opt_a.step()
                opt_a.zero_grad(set_to_none=True)
        opt_b.step()
        opt_b.zero_grad(set_to_none=True)
        history.append(snapshot(model))
    return history


def shell_ddp_group(
    rank: int,
    a_every: int = 1,
    with_b: bool = True,
    find_unused: bool = False,
    accum_a: int = ACCUM,
) -> dict[str, Any]:
    """An OptimSchedulerGroup of two OptimSchedulers (disjoint updated_modules) on one DDP
    model with a shared encoder, accum_grad=ACCUM.

    ``a_every``: member a's ``step_per_update``; ``with_b=False``: no member b (head_b, which
    requires grad, belongs to no optimizer); ``find_unused``: DDP's
    ``find_unused_parameters``; ``accum_a``: member a's ``accum_grad`` (b's is ACCUM). Reports
    per window of ACCUM micro-steps which members updated on its last micro-step.
    """
    ddp = DistributedDataParallel(TwoHeads(), find_unused_parameters=find_unused)
    counter = [0]
    ddp.register_comm_hook(counter, counting_allreduce_hook)
    members = {
        "a": OptimScheduler(
            optim_type="SGD",
            optim_conf={"lr": LR, "momentum": MOMENTUM},
            model=ddp,
            updated_modules=["enc", "head_a"],
            optim_loss="loss_a",
            accum_grad=accum_a,
            step_per_update=a_every,
        ),
    }
    if with_b:
        members["b"] = OptimScheduler(
            optim_type="SGD",
            optim_conf={"lr": LR, "momentum": MOMENTUM},
            model=ddp,
            updated_modules=["head_b"],
            optim_loss="loss_b",
            accum_grad=ACCUM,
        )
    group = OptimSchedulerGroup(members)
    history: list[Params] = []
    updates: list[list[str]] = []
    for w in range(WINDOWS):
        for k in range(ACCUM):
            reports = group.step(two_losses(ddp, *batch(rank, w, k)))
        updates.append([name for name, report in reports.items() if report.updated])
        history.append(snapshot(ddp))
    return {"params": history, "allreduces": counter[0], "updates": updates}


def mid_window_checkpoints(rank: int) -> dict[str, Any]:
    """Checkpoints of a DDP shell on each rank, mid-window and at a window boundary, gathered
    on every rank; each rank then loads its own and the other rank's."""
    ddp = DistributedDataParallel(make_model())
    osch = OptimScheduler(model=ddp, optimizer=make_optimizer(ddp.parameters()), accum_grad=ACCUM)
    for k in range(ACCUM):
        osch.step(mean_loss(ddp, *batch(rank, 0, k)))
        if k == 0:
            mid = copy.deepcopy(osch.state_dict())
    boundary = copy.deepcopy(osch.state_dict())
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (mid, boundary))
    other = 1 - rank
    loads: dict[str, str | None] = {}
    for label, state in (
        ("own mid-window", gathered[rank][0]),
        ("other mid-window", gathered[other][0]),
        ("own boundary", gathered[rank][1]),
        ("other boundary", gathered[other][1]),
    ):
        fresh = DistributedDataParallel(make_model())
        shell = OptimScheduler(
            model=fresh, optimizer=make_optimizer(fresh.parameters()), accum_grad=ACCUM
        )
        try:
            shell.load_state_dict(state)
            loads[label] = None
        except ValueError as error:
            loads[label] = str(error)
    return {
        "saved": [(mid["rank"], mid["world_size"]), (boundary["rank"], boundary["world_size"])],
        "loads": loads,
    }


def guarded(scenario: Callable[[int], dict[str, Any]], rank: int) -> dict[str, Any]:
    """Run one scenario; a failure becomes ``{"error": traceback}`` so that the other
    scenarios of the same process group still report (the test of this one then fails)."""
    try:
        return scenario(rank)
    except Exception:
        return {"error": traceback.format_exc()}


def ddp_suite(rank: int, world_size: int) -> dict[str, Any]:
    """Everything test_ddp.py checks, run once per rank in one process group."""
    assert world_size == WORLD
    torch.manual_seed(rank)  # the scenarios must not depend on the global RNG
    return {
        "handwritten": guarded(lambda r: handwritten_ddp(r, use_no_sync=True), rank),
        "naive": guarded(lambda r: handwritten_ddp(r, use_no_sync=False), rank),
        "shell": guarded(shell_ddp, rank),
        "num_items": guarded(shell_ddp_num_items, rank),
        "nonfinite": guarded(shell_ddp_nonfinite, rank),
        "group": guarded(shell_ddp_group, rank),
        "group_every_other": guarded(lambda r: shell_ddp_group(r, a_every=2), rank),
        "group_every_other_find_unused": guarded(
            lambda r: shell_ddp_group(r, a_every=2, find_unused=True), rank
        ),
        "uncovered": guarded(lambda r: shell_ddp_group(r, with_b=False), rank),
        "group_mixed_accum": guarded(lambda r: shell_ddp_group(r, accum_a=ACCUM // 2), rank),
        "checkpoints": guarded(mid_window_checkpoints, rank),
    }
