"""How a benchmark run was asked for: the full run, or the quick one (tiny sizes, few rounds)."""

from __future__ import annotations

import attrs


@attrs.frozen
class BenchConfig:
    """``quick``: a fast run that checks every benchmark works (figures are rough), as the
    smoke test and ``python -m benchmarks --quick`` use it."""

    quick: bool = False

    def rounds(self, full: int) -> int:
        """Rounds of interleaved measurement: ``full`` in a full run, 3 in a quick one."""
        return min(3, full) if self.quick else full

    def pick(self, full: int, quick: int) -> int:
        """``full`` in a full run, ``quick`` in a quick one (sizes, step counts)."""
        return quick if self.quick else full
