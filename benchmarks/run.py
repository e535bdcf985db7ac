"""Run the benchmarks, print their tables, and write them as Markdown.

``python -m benchmarks`` (or ``python benchmarks/run.py``) runs all of them and writes
``benchmarks/RESULTS.md``; ``--quick`` runs each in a tiny configuration that only checks it
works (nothing is written unless ``--output`` is given); ``--only NAME[,NAME]`` picks some.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.bench_config import BenchConfig
    from benchmarks.results import Section

NAMES = (
    "shell_overhead",
    "compile_recompiles",
    "schedule_cost",
    "ddp_allreduce",
    "token_exact",
    "memory",
    "group_hyperparameters",
    "group_two_optimizers",
    "host_syncs_per_update",
    "checkpoint_digest_cost",
)
"""The benchmarks in the order they run (module names in this package)."""

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"


def benchmark(name: str) -> Callable[[BenchConfig], Section]:
    """The ``run`` function of the benchmark module ``name``."""
    import importlib

    if name not in NAMES:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(NAMES)}")
    module = importlib.import_module(f"benchmarks.{name}")
    run: Callable[[BenchConfig], Section] = module.run
    return run


def failed_section(name: str, error: BaseException) -> Section:
    """The section that stands for a benchmark that raised: its error, as a missed goal."""
    from benchmarks.results import Row, Section

    message = f"{type(error).__name__}: {error}".splitlines()[0]
    return Section(
        name,
        f"{name} (FAILED)",
        "The benchmark raised an error; see the traceback printed by the run.",
        (Row("the benchmark ran", message, "", "", "runs", False),),
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: ``--quick``, ``--only``, ``--output``, ``--threads``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few rounds")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated benchmarks to run (default: all of {', '.join(NAMES)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"Markdown file to write (default: {DEFAULT_OUTPUT.name} in a full run, none "
        f"with --quick)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: stable timings on a shared machine)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {unknown}; choose from {', '.join(NAMES)}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    args.names = names
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; exit status 1 if one of them failed (missed goals are
    reported, not failures)."""
    args = parse_args(argv)
    import torch

    from benchmarks.bench_config import BenchConfig
    from benchmarks.machine import describe_machine
    from benchmarks.markdown_report import render_markdown, text_section

    torch.set_num_threads(args.threads)
    config = BenchConfig(quick=args.quick)
    machine = describe_machine()
    print(f"Machine: {machine}", flush=True)
    sections = []
    failures = 0
    started = time.perf_counter()
    for name in args.names:
        print(f"\n[{name}] running...", file=sys.stderr, flush=True)
        section_start = time.perf_counter()
        try:
            section = benchmark(name)(config)
        except Exception as error:
            traceback.print_exc()
            section = failed_section(name, error)
            failures += 1
        sections.append(section)
        print(f"[{name}] {time.perf_counter() - section_start:.0f} s", file=sys.stderr, flush=True)
        print("\n" + text_section(section), flush=True)
    elapsed = time.perf_counter() - started
    output = args.output if args.output is not None else (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        command = "python -m benchmarks" + (" " + " ".join(argv_of(argv)) if argv_of(argv) else "")
        output.write_text(render_markdown(sections, machine, command, elapsed))
        print(f"\nwrote {output}", flush=True)
    return 1 if failures else 0


def argv_of(argv: Sequence[str] | None) -> list[str]:
    """The arguments as given (``sys.argv[1:]`` when ``argv`` is None), without ``--output``
    and its value (a local path)."""
    given = list(sys.argv[1:] if argv is None else argv)
    kept: list[str] = []
    skip = False
    for arg in given:
        if skip:
            skip = False
            continue
        if arg == "--output":
            skip = True
            continue
        if arg.startswith("--output="):
            continue
        kept.append(arg)
    return kept


if __name__ == "__main__":
    if not __package__:  # run as a script: python benchmarks/run.py
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    raise SystemExit(main())
