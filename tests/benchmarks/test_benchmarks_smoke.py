"""Smoke tests of the benchmark suite: every benchmark runs in its quick mode and reports rows.

No timing is asserted (the figures of a quick run on a shared machine mean little); what is
checked is that each benchmark runs end to end, returns well-formed rows, and that the
runner writes a Markdown report. The measurement helpers are checked on known inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.bench_config import BenchConfig
from benchmarks.markdown_report import markdown_section, render_markdown, text_section
from benchmarks.results import Row, Section
from benchmarks.run import NAMES, benchmark, main
from benchmarks.timing import Samples, interleaved, paired


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_each_benchmark_runs_quick_and_produces_rows(name: str) -> None:
    section = benchmark(name)(BenchConfig(quick=True))
    assert section.key == name
    assert section.rows, f"{name} produced no row"
    for row in section.rows:
        assert row.case
        assert row.ours or row.baseline, f"{name}: row {row.case!r} holds no figure"
        assert (row.met is None) == (row.goal in ("", "reported")), row
    assert f"## {section.title}" in markdown_section(section)
    assert section.rows[0].case in text_section(section)


def test_schedule_cost_skips_optax_rows_cleanly_without_optax(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import benchmarks.schedule_cost as schedule_cost
    from benchmarks.optional_optax import SKIPPED

    monkeypatch.setattr(schedule_cost, "load_optax", lambda: None)
    section = schedule_cost.run(BenchConfig(quick=True))
    assert section.rows
    assert not any("optax" in row.case for row in section.rows)
    assert SKIPPED in section.notes


def test_unknown_benchmark_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="shell_overhead"):
        benchmark("no_such_benchmark")


def test_runner_writes_markdown_with_machine_and_command(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    assert main(["--quick", "--only", "token_exact", "--output", str(output)]) == 0
    text = output.read_text()
    assert "**Machine:**" in text and "torch" in text
    assert "`python -m benchmarks --quick --only token_exact`" in text
    assert "5. Token-exact accumulation" in text
    assert "| met |" in text


def test_interleaved_rotates_the_order_and_discards_warmup_rounds() -> None:
    order: list[str] = []

    def measure(name: str, value: float) -> Callable[[], float]:
        def run() -> float:
            order.append(name)
            return value

        return run

    samples = interleaved(
        {"a": measure("a", 1.0), "b": measure("b", 3.0)},
        rounds=3,
        warmup_rounds=1,
    )
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert samples["a"].values == (1.0, 1.0, 1.0)
    assert samples["b"].median == 3.0


def test_samples_statistics_and_pairing() -> None:
    a = Samples((3.0, 1.0, 2.0))
    b = Samples((1.0, 2.0, 4.0))
    assert (a.median, a.minimum, a.maximum) == (2.0, 1.0, 3.0)
    assert paired(a, b).values == (3.0, 0.5, 0.5)
    assert paired(a, b, op="difference").values == (2.0, -1.0, -2.0)
    assert a.scaled(2.0).values == (6.0, 2.0, 4.0)
    with pytest.raises(ValueError, match="same number of rounds"):
        paired(a, Samples((1.0,)))
    with pytest.raises(ValueError, match="at least one value"):
        Samples(())


def test_goal_summary_counts_missed_goals() -> None:
    section = Section(
        "demo",
        "Demo",
        "two figures",
        (
            Row("fast", "1 s", "2 s", "0.5", "ratio ≤ 1", True),
            Row("slow", "3 s", "2 s", "1.5", "ratio ≤ 1", False),
            Row("info | with a pipe", "x", ""),
        ),
    )
    text = render_markdown([section], "a machine", "python -m benchmarks", 1.0)
    assert "**Goals:** 1 of 2 met." in text
    assert "| NO |" in text
    assert "info \\| with a pipe" in text
