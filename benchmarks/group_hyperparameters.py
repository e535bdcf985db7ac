"""Benchmark 7: scheduling the lr, the weight decay and beta1 of 100 param groups.

The work: a model of :data:`GROUPS` small linear layers, one AdamW param group each, with
different lrs (a 1×–10× ladder), weight decays (every fourth group a no-decay group at 0) and
beta1s; every update the lr, the weight decay and beta1 follow schedules (``warmup_cosine``,
a rising ``cosine`` ramp, a ``linear`` beta1 decay), each group keeping its initial ratio to
the reference group. Two comparisons, each side by side in one run (interleaved rounds):

* **per update** (the goal, ≤ 1.05): ``OptimScheduler(schedule=..., hyperparameters=
  {"weight_decay": ..., "betas[0]": ...}, grad_clip=1.0).step(loss)`` against the best
  hand-written loop doing the same update: ``backward``, one loop over the groups writing the
  same lr / weight decay / beta1 values (factors precomputed from the initial values),
  ``clip_grad_norm_``, ``step``, ``zero_grad``. Both give the same parameters bit for bit
  (checked first).
* **the values alone** (reported): the shell's part that evaluates, checks and writes the
  three scheduled values into the 100 groups (``_apply_values``), against the hand-written
  loop's three schedule calls and one pass writing the 300 entries.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional

import schedules
from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import micros_range, ratio_range, seconds_range
from benchmarks.results import Row, Section
from benchmarks.timing import CPU, Measure, interleaved, paired, timed
from optimsche import OptimScheduler

NAME = "group_hyperparameters"
GOAL_RATIO = 1.05
GROUPS = 100
WIDTH = 4
CLIP = 1.0
TOTAL = 10_000

LR = functools.partial(schedules.warmup_cosine, peak=1e-3, warmup=100, steps=TOTAL)
WEIGHT_DECAY = functools.partial(schedules.cosine, peak=0.01, steps=TOTAL, final=0.1)
BETA1 = functools.partial(schedules.linear, start=0.95, end=0.9, steps=TOTAL)


def _model() -> nn.ModuleList:
    torch.manual_seed(0)
    return nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(GROUPS))


def _optimizer(model: nn.ModuleList) -> torch.optim.AdamW:
    groups = [
        {
            "params": layer.parameters(),
            "lr": 1e-3 * (1 + g % 10),
            "weight_decay": 0.0 if g % 4 == 3 else 0.01 * (1 + g % 3),
            "betas": (0.95 - 0.05 * (g % 2), 0.999),
        }
        for g, layer in enumerate(model)
    ]
    return torch.optim.AdamW(groups, lr=1e-3)


def _data() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(8, WIDTH, generator=generator), torch.randn(8, WIDTH, generator=generator)


def _loss(model: nn.ModuleList, x: Tensor, y: Tensor) -> Tensor:
    out = x
    for layer in model:
        out = torch.tanh(layer(out))
    return functional.mse_loss(out, y)


class ShellRun:
    """The shell scheduling lr, weight decay and beta1."""

    def __init__(self) -> None:
        self.model = _model()
        self.data = _data()
        self.sche = OptimScheduler(
            optimizer=_optimizer(self.model),
            schedule=LR,
            hyperparameters={"weight_decay": WEIGHT_DECAY, "betas[0]": BETA1},
            grad_clip=CLIP,
        )

    def run(self, updates: int) -> None:
        """``updates`` more updates (one ``step`` each)."""
        model, sche, (x, y) = self.model, self.sche, self.data
        for _ in range(updates):
            sche.step(_loss(model, x, y))


class HandRun:
    """The best hand-written loop doing the same updates."""

    def __init__(self) -> None:
        self.model = _model()
        self.data = _data()
        self.optimizer = _optimizer(self.model)
        self.params = list(self.model.parameters())
        groups = self.optimizer.param_groups
        self.factors = _factors(groups)
        self.update = 0

    def write_values(self, k: int) -> None:
        """The lr, weight decay and beta1 of update ``k`` into every group, in one pass."""
        lr, weight_decay, beta1 = LR(k), WEIGHT_DECAY(k), BETA1(k)
        for group, (f_lr, f_wd, f_beta) in zip(
            self.optimizer.param_groups, self.factors, strict=True
        ):
            group["lr"] = f_lr * lr
            group["weight_decay"] = f_wd * weight_decay
            group["betas"] = (f_beta * beta1, group["betas"][1])

    def run(self, updates: int) -> None:
        """``updates`` more updates of the plain loop."""
        model, optimizer, params, (x, y) = self.model, self.optimizer, self.params, self.data
        for _ in range(updates):
            self.update += 1
            _loss(model, x, y).backward()  # type: ignore[no-untyped-call]
            self.write_values(self.update)
            torch.nn.utils.clip_grad_norm_(params, CLIP)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


def _factors(groups: list[dict[str, Any]]) -> list[tuple[float, float, float]]:
    """Each group's initial value over the reference group's (the first non-zero one), for
    lr, weight decay and beta1: what a careful hand-written loop precomputes."""

    def ratios(values: list[float]) -> list[float]:
        reference = next(v for v in values if v != 0.0)
        return [v / reference for v in values]

    lrs = ratios([g["lr"] for g in groups])
    wds = ratios([g["weight_decay"] for g in groups])
    betas = ratios([g["betas"][0] for g in groups])
    return list(zip(lrs, wds, betas, strict=True))


def check_same_parameters(updates: int) -> None:
    """Both runs from the same start give the same parameters and param-group values."""
    shell, hand = ShellRun(), HandRun()
    shell.run(updates)
    hand.run(updates)
    for p, q in zip(shell.model.parameters(), hand.model.parameters(), strict=True):
        if not torch.equal(p, q):
            raise AssertionError("the shell and the hand-written loop do not do the same work")
    for a, b in zip(shell.sche.optimizer.param_groups, hand.optimizer.param_groups, strict=True):
        if [a[k] for k in ("lr", "weight_decay", "betas")] != [
            b[k] for k in ("lr", "weight_decay", "betas")
        ]:
            raise AssertionError("the shell and the hand-written loop write other values")


def _values_timers(repeats: int) -> dict[str, Measure]:
    shell, hand = ShellRun(), HandRun()
    program = shell.sche.machine.values  # the shell's values program: time in, values out
    groups = shell.sche.optimizer.param_groups
    times = [program.time(k, None, 0, 0) for k in range(1, repeats + 1)]
    write = hand.write_values

    def ours() -> None:
        for at in times:
            program.write(groups, program.values(at, None))

    def theirs() -> None:
        for k in range(1, repeats + 1):
            write(k)

    return {"shell": timed(ours, CPU), "hand": timed(theirs, CPU)}


def _updates_per_round(target_s: float) -> int:
    run = HandRun()
    run.run(2)
    start = time.process_time()
    run.run(3)
    return max(1, round(target_s / ((time.process_time() - start) / 3)))


def run(config: BenchConfig) -> Section:
    """Both comparisons (see the module doc)."""
    check_same_parameters(config.pick(20, 4))
    updates = _updates_per_round(0.02 if config.quick else 0.3)
    shell, hand = ShellRun(), HandRun()
    candidates = {
        "shell": timed(lambda: shell.run(updates), CPU),
        "hand": timed(lambda: hand.run(updates), CPU),
    }
    samples = interleaved(candidates, rounds=config.rounds(21))
    per_update = {name: s.scaled(1 / updates) for name, s in samples.items()}
    ratio = paired(samples["shell"], samples["hand"])
    overhead = paired(per_update["shell"], per_update["hand"], op="difference")

    repeats = config.pick(2000, 50)
    values = interleaved(_values_timers(repeats), rounds=config.rounds(21))
    values_per_update = {name: s.scaled(1 / repeats) for name, s in values.items()}
    values_ratio = paired(values["shell"], values["hand"])
    rows = (
        Row(
            f"per update, {GROUPS} groups: lr + weight decay + beta1 scheduled",
            seconds_range(per_update["shell"]),
            seconds_range(per_update["hand"]),
            ratio_range(ratio),
            f"ratio ≤ {GOAL_RATIO}",
            ratio.median <= GOAL_RATIO,
        ),
        Row(
            "shell overhead per update",
            micros_range(overhead),
            "",
            "",
            "reported",
        ),
        Row(
            f"the values alone: evaluate, check, write 3 × {GROUPS} entries",
            seconds_range(values_per_update["shell"]),
            seconds_range(values_per_update["hand"]),
            ratio_range(values_ratio),
            "reported",
        ),
    )
    notes = (
        f"{GROUPS} AdamW param groups of a {WIDTH}×{WIDTH} linear layer each; "
        f"{updates} updates per round; the shell's parameters and param-group values equal "
        f"the hand-written loop's bit for bit. The shell's update also checks the values "
        f"(finite, >= 0) and the loss and gradient norm (one host sync), which the "
        f"hand-written loop skips. CPU time of the process ({torch.get_num_threads()} torch "
        f"thread(s)).",
    )
    return Section(
        NAME,
        "7. Every param group, every hyperparameter",
        "OptimScheduler scheduling lr, weight decay and beta1 of 100 param groups vs the best "
        "hand-written loop writing the same values; ratios round by round (interleaved).",
        rows,
        ("ours (shell)", "baseline (hand-written)", "ours / baseline"),
        notes,
    )
