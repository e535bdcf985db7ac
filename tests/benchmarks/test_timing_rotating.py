"""``benchmarks.timing.rotating``: one candidate timed as several instances, in turn."""

from __future__ import annotations

import pytest

from benchmarks.timing import interleaved, rotating


def test_each_call_runs_the_next_instance() -> None:
    calls: list[int] = []

    def instance(index: int) -> float:
        calls.append(index)
        return float(index)

    measure = rotating([lambda i=i: instance(i) for i in range(3)])  # type: ignore[misc]
    assert [measure() for _ in range(7)] == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]
    assert calls == [0, 1, 2, 0, 1, 2, 0]


def test_in_interleaved_rounds_every_instance_is_measured() -> None:
    seen: list[int] = []
    measure = rotating([lambda i=i: seen.append(i) or 1.0 for i in range(2)])  # type: ignore[misc]
    samples = interleaved({"a": measure}, rounds=4, warmup_rounds=0)
    assert samples["a"].values == (1.0, 1.0, 1.0, 1.0)
    assert seen == [0, 1, 0, 1]


def test_no_instances_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        rotating([])
