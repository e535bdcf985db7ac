"""Rank bodies of ``test_rank_agreement.py``: two gloo ranks that build or load shells that
disagree (or agree), each scenario recording what every rank raised and how long it took.

Module-level functions only, so that ``run_local_processes`` can pickle them. After a
disagreement every rank raises and the process group stays usable, so all the scenarios run
one after the other in one group; a final barrier proves no rank was left waiting.
"""

import copy
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.parallel.rank_agreement import RankDisagreement

WORLD = 2
D_IN = 4


class TwoParts(nn.Module):
    """A small float64 model with two first-level parts, the same on every rank (seeded)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Linear(D_IN, 8).double()
        self.head = nn.Linear(8, 1).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(torch.tanh(self.encoder(x)))
        return out


def ddp() -> DistributedDataParallel:
    return DistributedDataParallel(TwoParts())


def shell(model: nn.Module, **kwargs: Any) -> OptimScheduler:
    optim_type = kwargs.pop("optim_type", "SGD")
    return OptimScheduler(optim_type, {"lr": 0.1}, model, **kwargs)


def train(sche: OptimScheduler, model: nn.Module, micro_steps: int, seed: int = 3) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(micro_steps):
        x = torch.randn(3, D_IN, generator=generator, dtype=torch.float64)
        sche.step(model(x).pow(2).mean())


def checkpoint_after(micro_steps: int, **kwargs: Any) -> dict[str, Any]:
    """The state_dict of a distributed shell trained ``micro_steps`` micro-steps on this rank
    alone (a plain model: no collective), as if saved by this rank of a 2-process run."""
    model = TwoParts()
    sche = shell(model, **kwargs)
    train(sche, model, micro_steps)
    state = sche.state_dict()
    state["rank"], state["world_size"] = dist.get_rank(), dist.get_world_size()
    return state


def attempt(body: Callable[[int], object], rank: int) -> dict[str, Any]:
    """Run ``body(rank)``: what it raised (type and message, or none) and the seconds it took."""
    start = time.perf_counter()
    try:
        body(rank)
    except RankDisagreement as error:
        return {"error": "RankDisagreement", "message": str(error), "seconds": _since(start)}
    except Exception as error:
        return {
            "error": type(error).__name__,
            "message": traceback.format_exc(),
            "seconds": _since(start),
        }
    return {"error": None, "message": "", "seconds": _since(start)}


def _since(start: float) -> float:
    return time.perf_counter() - start


def by_rank(values: tuple[Any, Any]) -> Callable[[int], Any]:
    return lambda rank: values[rank]


def build(**per_rank: tuple[Any, Any]) -> Callable[[int], object]:
    """A body building a DDP shell whose keyword ``k`` is ``per_rank[k][rank]``."""

    def body(rank: int) -> object:
        return shell(ddp(), **{key: values[rank] for key, values in per_rank.items()})

    return body


def shapes(rank: int) -> object:
    model = ddp()  # the same model (DDP checks that); each rank updates another part of it
    return shell(model, updated_modules=["encoder", "head"][rank])


def resumed(steps: tuple[int, int]) -> Callable[[int], object]:
    def body(rank: int) -> object:
        state = checkpoint_after(steps[rank], accum_grad=2)
        sche = shell(ddp(), accum_grad=2)
        sche.load_state_dict(state)
        return sche

    return body


def load_other_ranks_window(rank: int) -> object:
    state = checkpoint_after(3, accum_grad=2)  # mid-window: rank r's own gradients
    state["rank"] = 1 - rank if rank == 1 else rank  # rank 1 loads rank 0's file
    sche = shell(ddp(), accum_grad=2)
    sche.load_state_dict(state)
    return sche


def other_world_mid_window(rank: int) -> object:
    state = checkpoint_after(3, accum_grad=2)
    state["world_size"] = 4
    sche = shell(ddp(), accum_grad=2)
    sche.load_state_dict(state)
    return sche


def consistent_set(rank: int) -> dict[str, Any]:
    """Each rank loads its own file of one mid-window save, then trains on: no error, and the
    step and lr agree."""
    state = checkpoint_after(3, accum_grad=2)
    model = ddp()
    sche = shell(model, accum_grad=2)
    sche.load_state_dict(state)
    train(sche, model, 3, seed=rank)
    return {"step_num": sche.step_num, "lr": sche.get_lr()}


def refused_load_changes_nothing(rank: int) -> dict[str, Any]:
    """A trained shell refuses a set of different steps: on both ranks, nothing changed."""
    model = ddp()
    sche = shell(model, accum_grad=2, optim_type="AdamW")
    train(sche, model, 3)  # a window and a half: optimizer state and partial gradients
    before = (
        sche.step_num,
        sche.get_lr(),
        [p.detach().clone() for p in model.parameters()],
        [p.grad.clone() for p in model.parameters() if p.grad is not None],
        copy.deepcopy(sche.optimizer.state_dict()),
    )
    state = checkpoint_after(4 + 2 * rank, accum_grad=2, optim_type="AdamW")
    try:
        sche.load_state_dict(state)
    except RankDisagreement:
        raised = True
    else:
        raised = False
    after = sche.optimizer.state_dict()
    unchanged = (
        sche.step_num == before[0]
        and sche.get_lr() == before[1]
        and all(torch.equal(p, q) for p, q in zip(model.parameters(), before[2], strict=True))
        and all(
            torch.equal(p.grad, g)
            for p, g in zip(
                [p for p in model.parameters() if p.grad is not None], before[3], strict=True
            )
        )
        and all(
            torch.equal(after["state"][k][n], before[4]["state"][k][n])
            for k in before[4]["state"]
            for n in before[4]["state"][k]
        )
    )
    return {"raised": raised, "unchanged": unchanged}


def group_member_accum(rank: int) -> object:
    model = ddp()
    members = {
        "encoder": shell(model, updated_modules="encoder", accum_grad=2),
        "head": shell(model, updated_modules="head", accum_grad=2),
    }
    if rank == 1:  # the group is built from members that agree; its names do not
        members = {"enc": members["encoder"], "head": members["head"]}
    return OptimSchedulerGroup(members)


def group_resumed(rank: int) -> object:
    model = ddp()
    group = OptimSchedulerGroup(
        {
            "encoder": shell(model, updated_modules="encoder", accum_grad=2, optim_loss="a"),
            "head": shell(model, updated_modules="head", accum_grad=2, optim_loss="b"),
        }
    )
    plain = TwoParts()
    saved = OptimSchedulerGroup(
        {
            "encoder": shell(plain, updated_modules="encoder", accum_grad=2, optim_loss="a"),
            "head": shell(plain, updated_modules="head", accum_grad=2, optim_loss="b"),
        }
    )
    generator = torch.Generator().manual_seed(5)
    for _ in range(4 + 2 * rank):  # rank 0 saved after 2 windows, rank 1 after 3
        x = torch.randn(3, D_IN, generator=generator, dtype=torch.float64)
        out = plain(x)
        saved.step({"a": out.pow(2).mean(), "b": out.abs().mean()})
    state = saved.state_dict()
    for member in state.values():
        member["rank"], member["world_size"] = rank, WORLD
    group.load_state_dict(state)
    return group


def drifted(rank: int) -> object:
    """Two agreeing shells whose runs drift apart: rank 1 skips a micro-step (its step_num
    jumps), so their next update comes at different micro-steps; compared in the update's own
    all-reduce (the host path), every rank refuses it."""
    model = ddp()
    sche = shell(model)
    x = torch.ones(3, D_IN, dtype=torch.float64)
    sche.step(model(x).pow(2).mean(), step_num=1 + rank)
    return sche


def drift_applies_nothing(rank: int) -> dict[str, Any]:
    """The drifted update refused on this rank: no parameter changed, the window closed (no
    gradient, no open window), so the shell can go on once the ranks agree again."""
    model = ddp()
    sche = shell(model)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.ones(3, D_IN, dtype=torch.float64)
    try:
        sche.step(model(x).pow(2).mean(), step_num=1 + rank)
    except RankDisagreement:
        raised = True
    else:
        raised = False
    return {
        "raised": raised,
        "unchanged": all(
            torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)
        ),
        "closed": sche.machine.state.window.real_step == 0
        and all(p.grad is None for p in model.parameters()),
    }


SCENARIOS: dict[str, Callable[[int], object]] = {
    "accum_grad": build(accum_grad=(2, 4)),
    "step_per_update": build(step_per_update=(1, 2)),
    "optimizer class": build(optim_type=("SGD", "AdamW")),
    "clock": build(clock=("update", "items")),
    "grad_clip": build(grad_clip=(None, 1.0)),
    "parameter shapes": shapes,
    "resumed step": resumed((4, 6)),
    "mid-window file of another rank": load_other_ranks_window,
    "another world size mid-window": other_world_mid_window,
    "group names": group_member_accum,
    "group resumed step": group_resumed,
    "agreeing": build(accum_grad=(2, 2)),
    "drifted": drifted,
}


def rank_agreement_suite(rank: int, world_size: int) -> dict[str, Any]:
    """Every scenario on this rank, then a consistent set trained on, then a barrier."""
    assert world_size == WORLD
    ddp()  # the first DDP construction pays one-off costs: not part of any scenario's time
    results = {name: attempt(body, rank) for name, body in SCENARIOS.items()}
    results["consistent set"] = consistent_set(rank)
    results["refused load changes nothing"] = refused_load_changes_nothing(rank)
    results["drift applies nothing"] = drift_applies_nothing(rank)
    dist.barrier()
    return results
