"""Benchmark 1: what the shell costs over the best hand-written loop doing the same work.

For each model size of :mod:`benchmarks.training_loops` (tiny MLP, overhead-dominated, to a
large compute-dominated one) the three loops are first run from the same start and their
parameters compared (the shell must equal the hand-written loop bit for bit), then timed in
interleaved rounds. Figures: time per micro-step (one ``step()`` call), the round-by-round
ratio shell / hand-written (goal ≤ 1.03) and the overhead in µs per micro-step; and the ratio
shell / transformers-style loop (LambdaLR + GradScaler + manual accumulation). Beside them,
what one of the shell's costs is in torch itself: a backward restricted to the optimizer's
own parameters (``torch.autograd.backward(loss, inputs=params)``, the shell's isolation) vs
a plain ``loss.backward()`` over the same forward; and the shell's own bookkeeping on a
micro-step that does not update (``step()`` vs that restricted backward of ``loss /
accum_grad``, both with their forward).
"""

from __future__ import annotations

import torch

from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import micros_range, ratio_range, seconds_range
from benchmarks.profiles import python_profile, python_profile_share
from benchmarks.results import Row, Section
from benchmarks.shell_costs import bookkeeping_row, isolation_row, many_tensors_row
from benchmarks.timing import CPU, Measure, interleaved, paired, rotating, timed
from benchmarks.training_loops import (
    ACCUM,
    LOOPS,
    SIZES,
    TINY,
    ModelSize,
    TrainingLoop,
    check_same_parameters,
    make_batches,
    windows_per_round,
)

NAME = "shell_overhead"
GOAL_RATIO = 1.02
INSTANCES = 3
"""Instances of each loop, timed in turn (:func:`benchmarks.timing.rotating`)."""


def measure_size(size: ModelSize, config: BenchConfig) -> tuple[list[Row], str]:
    """Rows for one model size, and a note on the parameter check."""
    differences = check_same_parameters(size, windows=3 if config.quick else 6)
    windows = windows_per_round(size, 0.02 if config.quick else 0.3)
    batches = make_batches(size)
    makers = {**LOOPS, "hand, other instances": LOOPS["hand"]}
    loops = {name: [make(size, batches) for _ in range(INSTANCES)] for name, make in makers.items()}
    for instances in loops.values():
        for loop in instances:
            loop.run(1)  # first-call costs (the optimizer's state) out of the timings
    samples = interleaved(
        {
            name: rotating([_timer(loop, windows) for loop in instances])
            for name, instances in loops.items()
        },
        rounds=config.rounds(21),
    )
    micro_steps = windows * ACCUM
    per_step = {name: s.scaled(1 / micro_steps) for name, s in samples.items()}
    ratio = paired(samples["shell"], samples["hand"])
    restricted_ratio = paired(samples["shell, optimizer= only"], samples["hand"])
    overhead = paired(per_step["shell"], per_step["hand"], op="difference")
    hf_ratio = paired(samples["shell"], samples["hf-style"])
    floor = paired(samples["hand, other instances"], samples["hand"])
    rows = [
        Row(
            f"{size.name}: s/micro-step, shell vs hand-written",
            seconds_range(per_step["shell"]),
            seconds_range(per_step["hand"]),
            ratio_range(ratio),
            f"ratio ≤ {GOAL_RATIO}",
            ratio.median <= GOAL_RATIO,
        ),
        Row(
            f"{size.name}: shell overhead per micro-step",
            micros_range(overhead),
            "",
            "",
            "reported",
        ),
        Row(
            f"{size.name}: s/micro-step, shell built with optimizer= only (restricted "
            f"backward) vs hand-written",
            seconds_range(per_step["shell, optimizer= only"]),
            seconds_range(per_step["hand"]),
            ratio_range(restricted_ratio),
            "reported",
        ),
        Row(
            f"{size.name}: the noise floor: hand-written vs other instances of itself",
            seconds_range(per_step["hand, other instances"]),
            seconds_range(per_step["hand"]),
            ratio_range(floor),
            "reported",
        ),
        Row(
            f"{size.name}: s/micro-step, shell vs transformers-style loop",
            seconds_range(per_step["shell"]),
            seconds_range(per_step["hf-style"]),
            ratio_range(hf_ratio),
        ),
    ]
    rows.append(isolation_row(size, config))
    if ratio.median > GOAL_RATIO:
        shell = loops["shell"][0]
        share = python_profile_share(lambda: shell.run(windows), "optimsche/")
        top_functions = python_profile(lambda: shell.run(windows), limit=8)
        notes_extra = (
            f" Goal missed: profile of the shell loop (cProfile, own time): {top_functions}; "
            f"{100 * share:.0f}% of the own time is in optimsche/."
        )
    else:
        notes_extra = ""
    note = (
        f"{size.name} ({size.parameters:,} parameters, batch {size.batch}): {micro_steps} "
        f"micro-steps per round, each loop {INSTANCES} instances timed in turn; shell == "
        f"hand-written bit for bit; transformers-style max "
        f"|Δparam| = {differences['hf-style']:.2g}." + notes_extra
    )
    return rows, note


def _timer(loop: TrainingLoop, windows: int) -> Measure:
    return timed(lambda: loop.run(windows), CPU)


def run(config: BenchConfig) -> Section:
    """Benchmark 1 at every model size (only the tiny MLP in a quick run)."""
    rows: list[Row] = []
    notes: list[str] = []
    for size in (TINY,) if config.quick else SIZES:
        size_rows, note = measure_size(size, config)
        rows.extend(size_rows)
        if size is TINY:
            rows.append(bookkeeping_row(size, config))
        notes.append(note)
    rows.append(many_tensors_row(config))
    notes.append(
        "AdamW, accum_grad 4, clip 1.0, warmup_cosine lr; the shell's extra work per update "
        "includes its finiteness check (one host sync), which the hand-written loop skips. "
        f"Times are CPU time of the benchmark process ({torch.get_num_threads()} torch "
        f"thread(s)), so that other processes on the shared machine do not count."
    )
    return Section(
        NAME,
        "1. Shell overhead",
        "OptimScheduler vs the best hand-written loop doing the same work, and vs the "
        "transformers/accelerate-style loop; ratios are round by round (interleaved).",
        tuple(rows),
        ("ours (shell)", "baseline", "ours / baseline"),
        tuple(notes),
    )
