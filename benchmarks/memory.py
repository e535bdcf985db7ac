"""Benchmark 6: peak memory (RSS) of a training run with the shell vs the hand-written loops.

Each measurement is a fresh Python process (``python -m benchmarks.memory --child LOOP``)
that imports torch, builds the model, optimizer and batches of :mod:`benchmarks.training_loops`
(the loops of benchmark 1), reads its peak RSS (:func:`peak_rss_bytes`), trains
a few windows and reads the peak again. The figure is the growth of the peak during training
(gradients, AdamW's state, activations), so the interpreter and torch themselves cancel out.
Goal: the shell's growth exceeds the hand-written loop's by less than a quarter of one copy
of the parameters, i.e. the shell keeps no extra copy of parameters or gradients.
Processes are interleaved (round by round, rotating order; a quick run starts a round's
processes at once); glibc's mmap threshold is fixed
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
    """This process's peak resident set size so far, in bytes.

    On Linux ``VmHWM`` of ``/proc/self/status``: the high-water mark of this process's own
    address space. (``ru_maxrss`` is not used there: it survives ``exec``, so a child started
    from a large parent starts with the parent's peak.) Elsewhere ``ru_maxrss`` (KiB, bytes
    on macOS).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
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


def _command(loop_name: str, size_name: str, windows: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.memory",
        "--child",
        loop_name,
        "--size",
        size_name,
        "--windows",
        str(windows),
    ]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    # A fixed mmap threshold: every large tensor is its own mapping, returned to the system
    # when freed, so the peak RSS follows the live tensors rather than glibc's heap history
    # (its dynamic threshold otherwise makes the peak vary by tens of MiB from run to run).
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    return env


def measure(
    loop_names: list[str], size_name: str, windows: int, parallel: bool
) -> list[dict[str, int]]:
    """Run :func:`child` for each loop in a fresh interpreter (one after the other, or all at
    once when ``parallel``) and return what each printed."""
    results = []
    processes: list[tuple[str, subprocess.Popen[str]]] = []
    for name in loop_names:
        process = subprocess.Popen(
            _command(name, size_name, windows),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=_environment(),
        )
        processes.append((name, process))
        if not parallel:
            results.append(_answer(name, process))
    if parallel:
        results = [_answer(name, process) for name, process in processes]
    return results


def _answer(name: str, process: subprocess.Popen[str]) -> dict[str, int]:
    stdout, stderr = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"memory child {name!r} failed ({process.returncode}):\n{stderr}")
    result: dict[str, int] = json.loads(stdout.strip().splitlines()[-1])
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
        order = names[shift:] + names[:shift]
        for name, result in zip(
            order, measure(order, size_name, windows, parallel=config.quick), strict=True
        ):
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
            f"{extra / 2**20:+.1f} MiB",
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
        f"(peak RSS: VmHWM, MALLOC_MMAP_THRESHOLD_=128 KiB); median (min–max) over "
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
