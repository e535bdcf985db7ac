"""Benchmark: a group of two optimizers on one loss (Muon + AdamW) vs the hand-written loop.

The pattern of current LLM recipes: ``torch.optim.Muon`` for the hidden matrices (2-D weights
inside the blocks; Muon takes 2-D parameters only) and ``AdamW`` for the embeddings, the head
and every 1-D parameter, both stepping on the same loss. Model: :mod:`benchmarks.tiny_gpt`.

* ours: ``OptimSchedulerGroup({"muon": ..., "adamw": ...})``, both members built with
  ``model=``, one ``group.step(loss)`` per micro-step (accum_grad 1, constant lr, no
  clipping); also reported: the same group built with ``optimizer=`` alone;
* baseline: ``loss.backward()`` once, ``muon.step()``, ``adamw.step()``, both
  ``zero_grad(set_to_none=True)``.

Both must give the same parameters bit for bit (checked first); then they are timed in
interleaved rounds (CPU time of this process). Goal: ratio ≤ 1.03. The group runs one backward
for both members (they share the loss); its extra work is each member's finiteness check.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import micros_range, ratio_range, seconds_range
from benchmarks.results import Row, Section
from benchmarks.timing import CPU, interleaved, paired, rotating
from benchmarks.tiny_gpt import (
    SMALL,
    TINY,
    GptSize,
    TinyGpt,
    hidden_matrices,
    make_gpt,
    next_token_loss,
    other_parameters,
    token_batches,
)
from optimsche import OptimScheduler, OptimSchedulerGroup

NAME = "group_two_optimizers"
GOAL_RATIO = 1.03
INSTANCES = 3
"""Instances of each loop, timed in turn (:func:`benchmarks.timing.rotating`)."""
MUON_LR = 0.02
ADAMW_LR = 3e-3
WEIGHT_DECAY = 0.1
BATCHES = 8


def _optimizers(model: TinyGpt) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    muon = torch.optim.Muon(hidden_matrices(model), lr=MUON_LR, weight_decay=WEIGHT_DECAY)
    adamw = torch.optim.AdamW(other_parameters(model), lr=ADAMW_LR, weight_decay=WEIGHT_DECAY)
    return muon, adamw


class GroupLoop:
    """Muon + AdamW as two members of an :class:`~optimsche.OptimSchedulerGroup`, each built
    with ``model=`` (together they own the whole model, so the shared backward is a plain
    one); ``restricted``: built with ``optimizer=`` alone (the backward restricted to the
    union of their parameters, ``inputs=``)."""

    def __init__(
        self, size: GptSize, batches: list[tuple[Tensor, Tensor]], restricted: bool = False
    ) -> None:
        self.model = make_gpt(size)
        self.batches = batches
        muon, adamw = _optimizers(self.model)
        model = None if restricted else self.model
        self.group = OptimSchedulerGroup(
            {
                "muon": OptimScheduler(optimizer=muon, model=model),
                "adamw": OptimScheduler(optimizer=adamw, model=model),
            }
        )
        self.micro = 0

    def run(self, steps: int) -> None:
        """``steps`` more micro-steps, one ``group.step(loss)`` each."""
        model, group, batches = self.model, self.group, self.batches
        for _ in range(steps):
            inputs, targets = batches[self.micro % len(batches)]
            self.micro += 1
            group.step(next_token_loss(model, inputs, targets))


class HandLoop:
    """One ``backward()``, then both optimizers' ``step()`` and ``zero_grad()``."""

    def __init__(self, size: GptSize, batches: list[tuple[Tensor, Tensor]]) -> None:
        self.model = make_gpt(size)
        self.batches = batches
        self.optimizers = _optimizers(self.model)
        self.micro = 0

    def run(self, steps: int) -> None:
        """``steps`` more micro-steps of the plain loop."""
        model, batches = self.model, self.batches
        for _ in range(steps):
            inputs, targets = batches[self.micro % len(batches)]
            self.micro += 1
            next_token_loss(model, inputs, targets).backward()  # type: ignore[no-untyped-call]
            for optimizer in self.optimizers:
                optimizer.step()
            for optimizer in self.optimizers:
                optimizer.zero_grad(set_to_none=True)


def check_same_parameters(size: GptSize, steps: int) -> None:
    """Run both loops ``steps`` micro-steps from the same start; ``AssertionError`` unless
    their parameters are equal bit for bit (they would not do the same work)."""
    batches = token_batches(size, BATCHES)
    hand = HandLoop(size, batches)
    hand.run(steps)
    for restricted in (False, True):
        group = GroupLoop(size, batches, restricted)
        group.run(steps)
        named = zip(group.model.named_parameters(), hand.model.parameters(), strict=True)
        for (name, p), q in named:
            if not torch.equal(p, q):
                raise AssertionError(
                    f"{size.name}: parameter {name} of the group (restricted={restricted}) "
                    f"differs from the hand-written loop's after {steps} steps (max |Δ| = "
                    f"{(p - q).abs().max().item():.3g})"
                )


def steps_per_round(size: GptSize, target_s: float) -> int:
    """How many micro-steps one round should run to last about ``target_s`` of CPU time
    (measured on the hand-written loop after its first step)."""
    loop = HandLoop(size, token_batches(size, BATCHES))
    loop.run(1)
    start = CPU()
    loop.run(3)
    return max(1, round(target_s / ((CPU() - start) / 3)))


def run(config: BenchConfig) -> Section:
    """The bit-identity check, then the interleaved timing (module doc)."""
    size = TINY if config.quick else SMALL
    check_same_parameters(size, steps=3 if config.quick else 6)
    batches = token_batches(size, BATCHES)
    makers: dict[str, Callable[[], GroupLoop | HandLoop]] = {
        "group": lambda: GroupLoop(size, batches),
        "hand": lambda: HandLoop(size, batches),
        "restricted": lambda: GroupLoop(size, batches, restricted=True),
        "hand, other instances": lambda: HandLoop(size, batches),
    }
    loops = {name: [make() for _ in range(INSTANCES)] for name, make in makers.items()}
    for instances in loops.values():
        for loop in instances:
            loop.run(1)  # first-call costs (the optimizers' state) out of the timings
    hand = loops["hand"][0]
    steps = steps_per_round(size, 0.02 if config.quick else 0.25)

    def timer(loop: GroupLoop | HandLoop) -> Callable[[], float]:
        def measure() -> float:
            start = CPU()
            loop.run(steps)
            return CPU() - start

        return measure

    samples = interleaved(
        {name: rotating([timer(loop) for loop in instances]) for name, instances in loops.items()},
        rounds=config.rounds(15),
    )
    per_step = {name: s.scaled(1 / steps) for name, s in samples.items()}
    ratio = paired(samples["group"], samples["hand"])
    parameters = sum(p.numel() for p in hand.model.parameters())
    muon_parameters = sum(p.numel() for p in hidden_matrices(hand.model))
    return Section(
        NAME,
        "8. Two optimizers on one loss (Muon + AdamW)",
        "A GPT-like model trained by an OptimSchedulerGroup of Muon (hidden matrices) and "
        "AdamW (embeddings, head, 1-D parameters) on one loss, vs the hand-written loop with "
        "one backward and two optimizer steps; ratios are round by round (interleaved).",
        (
            Row(
                f"{size.name}: s/micro-step, group vs hand-written (one backward, two steps)",
                seconds_range(per_step["group"]),
                seconds_range(per_step["hand"]),
                ratio_range(ratio),
                f"ratio ≤ {GOAL_RATIO}",
                ratio.median <= GOAL_RATIO,
            ),
            Row(
                f"{size.name}: the same group built with optimizer= only (restricted "
                f"backward) vs hand-written",
                seconds_range(per_step["restricted"]),
                seconds_range(per_step["hand"]),
                ratio_range(paired(samples["restricted"], samples["hand"])),
                "reported",
            ),
            Row(
                f"{size.name}: the noise floor: hand-written vs other instances of itself",
                seconds_range(per_step["hand, other instances"]),
                seconds_range(per_step["hand"]),
                ratio_range(paired(samples["hand, other instances"], samples["hand"])),
                "reported",
            ),
            Row(
                f"{size.name}: the group's overhead per micro-step",
                micros_range(paired(per_step["group"], per_step["hand"], op="difference")),
                "",
                "",
                "reported",
            ),
        ),
        columns=("ours (group)", "baseline (hand loop)", "ours / baseline"),
        notes=(
            f"{size.name}: {parameters:,} parameters ({muon_parameters:,} in Muon's 2-D hidden "
            f"matrices), batch {size.batch}; {steps} micro-steps per round, each loop "
            f"{INSTANCES} instances timed in turn; the group's "
            f"parameters equal the hand-written loop's bit for bit. Muon lr {MUON_LR}, AdamW "
            f"lr {ADAMW_LR}, weight decay {WEIGHT_DECAY}; accum_grad 1, no clipping. Times are "
            f"CPU time of the benchmark process.",
        ),
    )
