"""The steps worth a row in a table of a learning-rate curve, found from the curve alone.

Given the values ``ys`` of a curve at successive points, the key points are:

* the first and the last point;
* the peak (the first maximum) and, when it is not at an end, the lowest point;
* every vertex where the regime changes: the slope ``d[i] = ys[i+1] - ys[i]`` changes
  between rising, flat and falling (``rise → decay``, ``hold → decay``, ``decay → hold``,
  ...), or keeps its sign but bends sharply: the change of slope ``|d[i] - d[i-1]|`` is more
  than ``kink`` times the changes at both neighbouring points (a join of two linear pieces).
  Smooth curves (cosine, exponential, inverse square root) bend a little at every point and
  have no vertex.

A slope counts as flat when it is within ``flat_tol`` times the larger ``|y|`` at its two
ends (so a decay keeps counting as one however small its values get). When more
than ``max_points`` are found, the first, last, peak and lowest are kept and the others are
thinned evenly.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

_REGIME_NAMES = {1: "rise", 0: "hold", -1: "decay"}


@attrs.frozen
class KeyPoint:
    """Index ``index`` of the curve is a key point; ``label`` says why ("first, peak")."""

    index: int
    label: str


def _regime(slope: float, tolerance: float) -> int:
    if slope > tolerance:
        return 1
    if slope < -tolerance:
        return -1
    return 0


def key_points(
    ys: Sequence[float],
    *,
    max_points: int = 14,
    flat_tol: float = 1e-12,
    kink: float = 10.0,
) -> list[KeyPoint]:
    """The key points of the curve ``ys``, sorted by index (see the module docs)."""
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    n = len(ys)
    if n == 0:
        return []
    labels: dict[int, list[str]] = {}

    def mark(index: int, label: str) -> None:
        labels.setdefault(index, []).append(label)

    mark(0, "first")
    peak = max(range(n), key=lambda i: (ys[i], -i))
    lowest = min(range(n), key=lambda i: (ys[i], i))
    mark(peak, "peak")
    slopes = [ys[i + 1] - ys[i] for i in range(n - 1)]
    steepest = max((abs(d) for d in slopes), default=0.0)
    regimes = [_regime(d, flat_tol * max(abs(ys[i]), abs(ys[i + 1]))) for i, d in enumerate(slopes)]
    bends = [0.0, *(abs(slopes[i] - slopes[i - 1]) for i in range(1, n - 1)), 0.0]

    def sharp(i: int) -> bool:
        neighbours = max(bends[i - 1], bends[i + 1])
        return bends[i] > 1e-6 * steepest and bends[i] > kink * neighbours

    changes: list[int] = []
    for i in range(1, n - 1):
        before, after = regimes[i - 1], regimes[i]
        if before != after:
            changes.append(i)
            if i != peak:
                mark(i, f"{_REGIME_NAMES[before]} → {_REGIME_NAMES[after]}")
        elif before != 0 and sharp(i):
            changes.append(i)
            pace = "faster" if abs(slopes[i]) > abs(slopes[i - 1]) else "slower"
            mark(i, f"{_REGIME_NAMES[after]} ({pace})")
    if lowest not in (0, n - 1) and ys[lowest] < ys[0] and ys[lowest] < ys[-1]:
        mark(lowest, "lowest")
    if n > 1:
        mark(n - 1, "last")
    must_keep = {0, n - 1, peak, lowest}
    optional = sorted(set(labels) - must_keep)
    room = max_points - len(must_keep & set(labels))
    if len(optional) > room:
        step = len(optional) / room
        optional = [optional[int(k * step)] for k in range(room)]
    chosen = sorted((must_keep & set(labels)) | set(optional))
    return [KeyPoint(index=i, label=", ".join(labels[i])) for i in chosen]
