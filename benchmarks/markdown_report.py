"""The results as text: a Markdown document (``benchmarks/RESULTS.md``) and a terminal table."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.results import Row, Section


def _cells(section: Section, row: Row) -> list[str]:
    return [row.case, row.ours, row.baseline, row.ratio, row.goal, row.verdict]


def _headers(section: Section) -> list[str]:
    return ["case", *section.columns, "goal", "met"]


def _used_columns(section: Section) -> list[int]:
    """Indices of the columns that hold something in some row (empty ones are left out)."""
    table = [_cells(section, row) for row in section.rows]
    return [i for i in range(len(_headers(section))) if i == 0 or any(cells[i] for cells in table)]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_section(section: Section) -> str:
    """One section: a heading, what it compares, the table, and its notes."""
    used = _used_columns(section)
    headers = _headers(section)
    lines = [f"## {section.title}", "", section.description, ""]
    lines.append("| " + " | ".join(_escape(headers[i]) for i in used) + " |")
    lines.append("|" + "|".join("---" for _ in used) + "|")
    for row in section.rows:
        cells = _cells(section, row)
        lines.append("| " + " | ".join(_escape(cells[i]) for i in used) + " |")
    if section.notes:
        lines.append("")
        lines.extend(f"- {note}" for note in section.notes)
    return "\n".join(lines)


def goals_summary(sections: Sequence[Section]) -> str:
    """A Markdown table of every figure that has a goal, and whether it met it."""
    lines = ["| benchmark | figure | goal | met |", "|---|---|---|---|"]
    for section in sections:
        for row in section.rows:
            if row.met is not None:
                lines.append(
                    f"| {_escape(section.title)} | {_escape(row.case)} | {_escape(row.goal)} "
                    f"| {row.verdict} |"
                )
    return "\n".join(lines)


def render_markdown(
    sections: Sequence[Section], machine: str, command: str, elapsed_s: float
) -> str:
    """The whole document: machine, command, method, the goals at a glance, each section."""
    missed = sum(len(section.goals_missed) for section in sections)
    with_goal = sum(1 for s in sections for row in s.rows if row.met is not None)
    parts = [
        "# Benchmark results",
        "",
        f"- **Machine:** {machine}",
        f"- **Command:** `{command}` ({elapsed_s:.0f} s)",
        "- **Method:** each benchmark runs its baseline in the same process (or the same "
        "set of processes), interleaved round by round in a rotating order; figures are "
        "medians with the min–max over rounds, ratios are taken round by round. The machine "
        "is shared with other jobs, so timings are noisy: compare the medians, and read the "
        "ranges as the noise.",
        f"- **Goals:** {with_goal - missed} of {with_goal} met.",
        "",
        "### Goals",
        "",
        goals_summary(sections),
        "",
    ]
    for section in sections:
        parts.extend([markdown_section(section), ""])
    return "\n".join(parts)


def text_section(section: Section) -> str:
    """One section as an aligned plain-text table for the terminal."""
    used = _used_columns(section)
    headers = _headers(section)
    table = [[headers[i] for i in used]] + [
        [_cells(section, row)[i] for i in used] for row in section.rows
    ]
    widths = [max(len(line[c]) for line in table) for c in range(len(used))]
    lines = [section.title, "=" * len(section.title), section.description]
    for index, line in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.extend(f"* {note}" for note in section.notes)
    return "\n".join(lines)
