"""optax and jax are optional: benchmarks that compare against them skip those rows cleanly.

Install them with the ``bench`` extra (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import importlib
from importlib import metadata
from types import ModuleType


def optax_versions() -> tuple[str, str] | None:
    """``(optax version, jax version)`` when both are installed, else ``None`` (nothing is
    imported)."""
    try:
        return metadata.version("optax"), metadata.version("jax")
    except metadata.PackageNotFoundError:
        return None


def load_optax() -> tuple[ModuleType, ModuleType] | None:
    """``(optax, jax)`` imported, or ``None`` when either is missing or fails to import."""
    if optax_versions() is None:
        return None
    try:
        optax = importlib.import_module("optax")
        jax = importlib.import_module("jax")
    except ImportError:
        return None
    return optax, jax


SKIPPED = "optax not installed (pip install -e '.[bench]'): row skipped"
"""The note a section carries when its optax rows were skipped."""
