"""Where the time goes, for figures that miss their goal: short profile summaries for notes.

* :func:`python_profile`: cProfile of a Python callable, on the process's CPU clock (the
  machine is shared: wall time would charge other processes' time to whatever C call was
  running); the functions with the largest own time (``tottime``), as shares of the total.
* :func:`torch_op_profile`: ``torch.profiler`` of a callable; the aten operators with the
  largest self CPU time, as shares of the total, with their call counts.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable
from pathlib import Path

import torch


def _short(filename: str, line: int, name: str) -> str:
    if filename == "~" or filename.startswith("<"):
        return name.strip("<>").replace("built-in method ", "")
    parts = Path(filename).parts
    tail = "/".join(parts[-2:]) if len(parts) >= 2 else filename
    return f"{tail}:{line}({name})"


def python_profile(work: Callable[[], object], limit: int = 6) -> str:
    """Run ``work()`` under cProfile; ``"name share%, ..."`` for the ``limit`` functions with
    the largest own time."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    work()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    rows = [
        (tottime, _short(filename, line, name))
        for (filename, line, name), (_, _, tottime, _, _) in entries.items()
    ]
    total = sum(t for t, _ in rows) or 1.0
    rows.sort(reverse=True)
    return ", ".join(f"{name} {100 * t / total:.0f}%" for t, name in rows[:limit])


def python_profile_share(work: Callable[[], object], path_part: str) -> float:
    """The share of ``work()``'s own time (cProfile ``tottime``) spent in functions whose file
    path contains ``path_part`` (e.g. ``"optimsche/"``)."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    work()
    profiler.disable()
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = inside = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in entries.items():
        total += tottime
        if path_part in filename:
            inside += tottime
    return inside / total if total else 0.0


def torch_op_profile(work: Callable[[], object], limit: int = 6) -> str:
    """Run ``work()`` under ``torch.profiler`` (CPU); ``"op ×calls share%, ..."`` for the
    ``limit`` operators with the largest self CPU time."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        work()
    events = [e for e in profiler.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return ", ".join(
        f"{e.key} ×{e.count} {100 * e.self_cpu_time_total / total:.0f}%" for e in events[:limit]
    )
