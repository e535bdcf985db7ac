"""Benchmark 6: peak memory (RSS) of a training run with the shell vs the hand-written loops.

Each measurement is a fresh Python process (``python -m benchmarks.memory --child LOOP``)
that imports torch, builds the model, optimizer and batches of :mod:`benchmarks.training_loops`
(the loops of benchmark 1), reads its peak RSS (``resource.getrusage``: ``ru_maxrss``), trains
a few windows and reads the peak again. The figure is the growth of the peak during training
(gradients, AdamW's state, activations), so the interpreter and torch themselves cancel out.
Goal: the shell's growth exceeds the hand-written loop's by less than a quarter of one copy
of the parameters, i.e. the shell keeps no extra copy of parameters or gradients.
Processes are interleaved (round by round, rotating order); glibc's mmap threshold is fixed
in them (``MALLOC_MMAP_THRESHOLD_``) so that freed tensors leave the RSS at once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import mebibytes, mebibytes_range
from benchmarks.results import Row, Section
from benchmarks.timing import Samples
from benchmarks.training_loops import LOOPS, TINY, ModelSize, make_batches

NAME = "memory"
FULL_SIZE = ModelSize("MLP 1024-4096-1024", 1024, 4096, 1024, 16)
SIZES = {"full": FULL_SIZE, "quick": TINY}
REPO_ROOT = Path(__file__).resolve().parent.parent


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far, in bytes (``ru_maxrss`` is in KiB on
    Linux and in bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def child(loop_name: str, size_name: str, windows: int) -> dict[str, int]:
    """The body of one measuring process: peak RSS before and after training."""
    import torch

    torch.set_num_threads(1)
    size = SIZES[size_name]
    loop = LOOPS[loop_name](size, make_batches(size))
    before = peak_rss_bytes()
    loop.run(windows)
    after = peak_rss_bytes()
    return {"before": before, "after": after}


def measure(loop_name: str, size_name: str, windows: int) -> dict[str, int]:
    """Run :func:`child` in a fresh interpreter and return what it printed."""
    env = dict(os.environ)
    # A fixed mmap threshold: every large tensor is its own mapping, returned to the system
    # when freed, so the peak RSS follows the live tensors rather than glibc's heap history
    # (its dynamic threshold otherwise makes the peak vary by tens of MiB from run to run).
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.memory",
            "--child",
            loop_name,
            "--size",
            size_name,
            "--windows",
            str(windows),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"memory child {loop_name!r} failed ({completed.returncode}):\n{completed.stderr}"
        )
    result: dict[str, int] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run(config: BenchConfig) -> Section:
    """Benchmark 6: rounds of fresh processes, one per loop."""
    size_name = "quick" if config.quick else "full"
    size = SIZES[size_name]
    windows = config.pick(3, 1)
    names = ["shell", "hand"]
    growth: dict[str, list[float]] = {name: [] for name in names}
    before: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(config.pick(3, 1)):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            result = measure(name, size_name, windows)
            growth[name].append(result["after"] - result["before"])
            before[name].append(result["before"])
    samples = {name: Samples(tuple(values)) for name, values in growth.items()}
    param_bytes = size.parameters * 4
    tolerance = max(param_bytes / 4, 2**20)
    extra = samples["shell"].median - samples["hand"].median
    rows = [
        Row(
            "peak RSS growth during training, shell vs hand-written",
            mebibytes_range(samples["shell"]),
            mebibytes_range(samples["hand"]),
            f"{mebibytes(extra)} more",
            f"extra < {mebibytes(tolerance)} (¼ of the parameters, ≥ 1 MiB)",
            extra < tolerance,
        )
    ]
    rows.append(
        Row(
            "peak RSS before training (interpreter, torch, model, data)",
            mebibytes_range(Samples(tuple(before["shell"]))),
            mebibytes_range(Samples(tuple(before["hand"]))),
        )
    )
    return Section(
        NAME,
        "6. Peak memory",
        f"{size.name} ({size.parameters:,} float32 parameters = {mebibytes(param_bytes)}), "
        f"AdamW, accum_grad 4, {windows} window(s), each loop in a fresh process "
        f"(ru_maxrss, MALLOC_MMAP_THRESHOLD_=128 KiB); median (min–max) over "
        f"{config.pick(3, 1)} round(s).",
        tuple(rows),
        ("ours (shell)", "baseline", "difference"),
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.memory --child LOOP``: one measuring process (prints JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--child", choices=sorted(LOOPS), required=True)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--windows", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(child(args.child, args.size, args.windows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
