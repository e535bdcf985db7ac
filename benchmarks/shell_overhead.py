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

import time

import torch
from torch.nn import functional

from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import micros_range, ratio_range, seconds_range
from benchmarks.profiles import python_profile, python_profile_share
from benchmarks.results import Row, Section
from benchmarks.timing import CPU, Measure, interleaved, paired, timed
from benchmarks.training_loops import (
    ACCUM,
    LOOPS,
    SIZES,
    TINY,
    ModelSize,
    TrainingLoop,
    check_same_parameters,
    make_batches,
    make_model,
    schedule,
)
from optimsche import OptimScheduler

NAME = "shell_overhead"
GOAL_RATIO = 1.03


def _windows_per_round(size: ModelSize, target_s: float) -> int:
    """How many windows one round of a loop should run to last about ``target_s``."""
    loop = LOOPS["hand"](size, make_batches(size))
    loop.run(1)  # first-call costs
    start = time.process_time()
    loop.run(2)
    per_window = (time.process_time() - start) / 2
    return max(1, round(target_s / per_window))


def measure_size(size: ModelSize, config: BenchConfig) -> tuple[list[Row], str]:
    """Rows for one model size, and a note on the parameter check."""
    differences = check_same_parameters(size, windows=3 if config.quick else 6)
    windows = _windows_per_round(size, 0.02 if config.quick else 0.3)
    batches = make_batches(size)
    loops = {name: make(size, batches) for name, make in LOOPS.items()}
    samples = interleaved(
        {name: _timer(loop, windows) for name, loop in loops.items()},
        rounds=config.rounds(21),
    )
    micro_steps = windows * ACCUM
    per_step = {name: s.scaled(1 / micro_steps) for name, s in samples.items()}
    ratio = paired(samples["shell"], samples["hand"])
    overhead = paired(per_step["shell"], per_step["hand"], op="difference")
    hf_ratio = paired(samples["shell"], samples["hf-style"])
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
            f"{size.name}: s/micro-step, shell vs transformers-style loop",
            seconds_range(per_step["shell"]),
            seconds_range(per_step["hf-style"]),
            ratio_range(hf_ratio),
        ),
    ]
    rows.append(isolation_row(size, config))
    if ratio.median > GOAL_RATIO:
        shell = loops["shell"]
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
        f"micro-steps per round; shell == hand-written bit for bit; transformers-style max "
        f"|Δparam| = {differences['hf-style']:.2g}." + notes_extra
    )
    return rows, note


def isolation_row(size: ModelSize, config: BenchConfig) -> Row:
    """Forward + backward with ``inputs=`` (every parameter) vs a plain ``backward()``: the
    cost in torch's engine of the shell's restricting each backward to its own parameters."""
    model = make_model(size)
    params = tuple(model.parameters())
    x, y = make_batches(size, count=1)[0]
    count = max(1, _windows_per_round(size, 0.02 if config.quick else 0.1) * ACCUM)

    def backwards(restricted: bool) -> None:
        for _ in range(count):
            loss = functional.mse_loss(model(x), y) / ACCUM
            if restricted:
                torch.autograd.backward(loss, inputs=params)
            else:
                loss.backward()  # type: ignore[no-untyped-call]
        for p in params:
            p.grad = None

    samples = interleaved(
        {
            "inputs": timed(lambda: backwards(True), CPU),
            "plain": timed(lambda: backwards(False), CPU),
        },
        rounds=config.rounds(21),
    )
    per_backward = {k: v.scaled(1 / count) for k, v in samples.items()}
    return Row(
        f"{size.name}: forward + backward(inputs=params) vs plain backward(), per micro-step "
        f"(the shell's isolation, in torch)",
        seconds_range(per_backward["inputs"]),
        seconds_range(per_backward["plain"]),
        ratio_range(paired(samples["inputs"], samples["plain"])),
    )


def bookkeeping_row(size: ModelSize, config: BenchConfig) -> Row:
    """``step(loss)`` on micro-steps that do not update vs ``backward(loss / accum_grad,
    inputs=params)``, forward included in both: what the shell adds in Python to a micro-step
    (its checks, the MicroStep record, the gradient snapshot, the window's detached loss, the
    report). Each round runs a fresh shell whose window is longer than the round."""
    model = make_model(size)
    params = tuple(model.parameters())
    x, y = make_batches(size, count=1)[0]
    count = max(1, _windows_per_round(size, 0.02 if config.quick else 0.1) * ACCUM)

    def shell_steps() -> float:
        shell = OptimScheduler(
            optimizer=torch.optim.AdamW(params, lr=1e-3), schedule=schedule(), accum_grad=count + 1
        )
        start = CPU()
        for _ in range(count):
            shell.step(functional.mse_loss(model(x), y))
        elapsed = CPU() - start
        for p in params:
            p.grad = None
        return elapsed

    def backwards() -> float:
        start = CPU()
        for _ in range(count):
            torch.autograd.backward(functional.mse_loss(model(x), y) / ACCUM, inputs=params)
        elapsed = CPU() - start
        for p in params:
            p.grad = None
        return elapsed

    samples = interleaved({"shell": shell_steps, "backward": backwards}, rounds=config.rounds(21))
    per_step = {k: v.scaled(1 / count) for k, v in samples.items()}
    return Row(
        f"{size.name}: a micro-step that does not update, step() vs backward(loss / "
        f"accum_grad, inputs=params)",
        seconds_range(per_step["shell"]),
        seconds_range(per_step["backward"]),
        micros_range(paired(per_step["shell"], per_step["backward"], op="difference")),
    )


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
