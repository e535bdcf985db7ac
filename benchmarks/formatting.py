"""Human-readable figures: durations, byte counts and ratios, with their min–max range."""

from __future__ import annotations

from benchmarks.timing import Samples


def seconds(value: float) -> str:
    """A duration with a unit that keeps 3 significant digits (ns, µs, ms or s)."""
    magnitude = abs(value)
    if magnitude >= 1.0:
        return f"{value:.3g} s"
    if magnitude >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    if magnitude >= 1e-6:
        return f"{value * 1e6:.3g} µs"
    return f"{value * 1e9:.3g} ns"


def seconds_range(samples: Samples) -> str:
    """``median (min–max)`` of durations, e.g. ``"1.2 ms (1.1–1.4 ms)"``."""
    return f"{seconds(samples.median)} ({seconds(samples.minimum)}–{seconds(samples.maximum)})"


def micros_range(samples: Samples) -> str:
    """``median (min–max)`` in microseconds, signed (for overheads that may be negative)."""
    return (
        f"{samples.median * 1e6:+.1f} µs ({samples.minimum * 1e6:+.1f}…"
        f"{samples.maximum * 1e6:+.1f})"
    )


def ratio_range(samples: Samples) -> str:
    """``median (min–max)`` of ratios with 3 decimals, e.g. ``"1.012 (0.990–1.040)"``."""
    return f"{samples.median:.3f} ({samples.minimum:.3f}–{samples.maximum:.3f})"


def mebibytes(value: float) -> str:
    """A byte count in MiB with one decimal."""
    return f"{value / 2**20:.1f} MiB"


def mebibytes_range(samples: Samples) -> str:
    """``median (min–max)`` of byte counts in MiB."""
    return (
        f"{mebibytes(samples.median)} ({samples.minimum / 2**20:.1f}–{samples.maximum / 2**20:.1f})"
    )
