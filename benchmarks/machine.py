"""One line that says what machine and software a benchmark run measured."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

from benchmarks.optional_optax import optax_versions


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> str:
    """The 1-minute load average (how busy the shared machine was), or ``"n/a"``."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (OSError, AttributeError):
        return "n/a"


def describe_machine() -> str:
    """CPU model and core count, OS, Python, torch (and its threads), jax/optax if present,
    and the load average when this is called."""
    versions = optax_versions()
    optax_part = (
        f"optax {versions[0]} / jax {versions[1]}" if versions is not None else "optax absent"
    )
    return (
        f"{cpu_model()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {sys.version.split()[0]}; torch {torch.__version__} "
        f"({torch.get_num_threads()} intra-op threads); {optax_part}; "
        f"load average {load_average()} at start"
    )
