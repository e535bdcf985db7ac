"""Interleaved repeated measurements: every candidate once per round, in a rotating order.

The machine these benchmarks run on is shared and its load drifts, so a candidate is never
timed in one block after another: each *round* times every candidate once, the order rotating
from round to round (round ``r`` starts with candidate ``r mod k``), and the figures are the
median and the min–max over rounds. A ratio of two candidates is taken round by round
(:func:`paired`): both halves of a pair ran seconds apart, under nearly the same load.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

Measure = Callable[[], float]
"""One repeat of a candidate: runs its work and returns the seconds it took (it times itself,
so it can leave its own setup out)."""


@attrs.frozen
class Samples:
    """The values of one candidate over the rounds (seconds, bytes, a ratio...)."""

    values: tuple[float, ...]

    def __attrs_post_init__(self) -> None:
        if not self.values:
            raise ValueError("Samples needs at least one value, got none")

    @property
    def median(self) -> float:
        """The median over rounds (the figure reported)."""
        return float(statistics.median(self.values))

    @property
    def minimum(self) -> float:
        """The smallest value over rounds."""
        return min(self.values)

    @property
    def maximum(self) -> float:
        """The largest value over rounds."""
        return max(self.values)

    def scaled(self, factor: float) -> Samples:
        """Every value multiplied by ``factor`` (e.g. seconds per repeat -> µs per step)."""
        return Samples(tuple(v * factor for v in self.values))


Clock = Callable[[], float]

WALL: Clock = time.perf_counter
"""Wall time: for work that runs several threads or processes, or waits on them."""

CPU: Clock = time.process_time
"""CPU time of this process (all its threads): for single-threaded work on a shared machine,
where wall time would also count the time other processes held the core."""


def timed(work: Callable[[], object], clock: Clock = WALL) -> Measure:
    """A :data:`Measure` that runs ``work()`` and returns the time it took on ``clock``."""

    def measure() -> float:
        start = clock()
        work()
        return clock() - start

    return measure


def rotating(measures: Sequence[Measure]) -> Measure:
    """A :data:`Measure` that runs the next of ``measures`` at each call (round ``r`` runs
    ``measures[r mod k]``). Give a candidate several instances of its work (models and
    optimizers built alike): where tensors land in memory makes one instance of the same
    training loop a few percent faster or slower than another for its whole life (measured:
    two hand-written loops on one small GPT, 5 % apart), so a ratio of two single instances
    measures their layouts as much as their code; rotating through several averages that out
    of the medians."""
    if not measures:
        raise ValueError("rotating needs at least one measure, got none")
    calls = [0]

    def measure() -> float:
        index = calls[0] % len(measures)
        calls[0] += 1
        return measures[index]()

    return measure


def interleaved(
    candidates: Mapping[str, Measure], rounds: int, warmup_rounds: int = 1
) -> dict[str, Samples]:
    """Run ``rounds`` rounds of every candidate, rotating the order; return their samples.

    ``warmup_rounds`` rounds are run first and discarded (first-call costs, caches, lazy
    initialisation). The garbage collector is disabled during each measurement, as
    ``timeit`` does (a collection before each one would cost more than many measurements).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds!r}")
    if warmup_rounds < 0:
        raise ValueError(f"warmup_rounds must be >= 0, got {warmup_rounds!r}")
    names = list(candidates)
    if not names:
        raise ValueError("interleaved needs at least one candidate, got none")
    values: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup_rounds + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = _measure_once(candidates[name])
            if round_index >= warmup_rounds:
                values[name].append(seconds)
    return {name: Samples(tuple(v)) for name, v in values.items()}


def _measure_once(measure: Measure) -> float:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return measure()
    finally:
        if enabled:
            gc.enable()


def paired(numerator: Samples, denominator: Samples, op: str = "ratio") -> Samples:
    """Round-by-round ``numerator / denominator`` (``op="ratio"``) or ``numerator -
    denominator`` (``op="difference"``) of two candidates measured in the same rounds."""
    if len(numerator.values) != len(denominator.values):
        raise ValueError(
            f"paired samples need the same number of rounds, got {len(numerator.values)} and "
            f"{len(denominator.values)}"
        )
    pairs: Sequence[tuple[float, float]] = list(
        zip(numerator.values, denominator.values, strict=True)
    )
    if op == "ratio":
        return Samples(tuple(a / b for a, b in pairs))
    if op == "difference":
        return Samples(tuple(a - b for a, b in pairs))
    raise ValueError(f"op must be 'ratio' or 'difference', got {op!r}")
