"""The terminal plotter: what each pixel column shows, labels, ASCII fallback, bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimsche.cli.terminal_plot import plot_curve

BRAILLE_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def _pixels(text: str, width: int, height: int) -> dict[int, set[int]]:
    """Lit pixel rows (0 = bottom) by pixel column, decoded from a braille plot."""
    lines = text.split("\n")[:height]
    start = max(line.find("┤") for line in lines) + 1
    lit: dict[int, set[int]] = {}
    for cell_row, line in enumerate(lines):
        body = line[start:].ljust(width)
        for cell_col, char in enumerate(body):
            bits = ord(char) - 0x2800 if char != " " else 0
            for dot_col in range(2):
                for dot_row in range(4):
                    if bits & BRAILLE_BITS[dot_col][dot_row]:
                        row = height * 4 - 1 - (cell_row * 4 + dot_row)
                        lit.setdefault(cell_col * 2 + dot_col, set()).add(row)
    return lit


@settings(max_examples=60, deadline=None)
@given(
    ys=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=300),
    width=st.integers(8, 40),
    height=st.integers(2, 10),
)
def test_each_column_is_one_run_through_its_points_joined_to_the_previous(
    ys: list[float], width: int, height: int
) -> None:
    xs = [float(i) for i in range(len(ys))]
    text = plot_curve(xs, ys, width=width, height=height)
    lit = _pixels(text, width, height)
    columns, rows = 2 * width, 4 * height
    low, high = min(ys), max(ys)
    if high == low:
        pad = abs(high) or 1.0
        low, high = low - pad, high + pad
    points: dict[int, list[int]] = {}
    for x, y in zip(xs, ys, strict=True):
        column = round(x / (xs[-1] or 1.0) * (columns - 1))
        points.setdefault(column, []).append(round((y - low) / (high - low) * (rows - 1)))
    assert set(lit) == set(points)
    previous_last = None
    for column in sorted(points):
        run = sorted(lit[column])
        assert run == list(range(run[0], run[-1] + 1)), "a column is one vertical run"
        expected = set(points[column]) | ({previous_last} if previous_last is not None else set())
        assert run[0] == min(expected) and run[-1] == max(expected)
        previous_last = points[column][-1]


def test_layout_labels_and_axis() -> None:
    text = plot_curve([1, 2, 3, 4], [0.0, 2.0, 1.0, 4.0], width=20, height=6)
    lines = text.split("\n")
    assert len(lines) == 6 + 2
    assert lines[0].startswith("4 ┤") and lines[5].startswith("0 ┤")
    assert lines[3].startswith("2 ┤")  # the middle label
    assert lines[6] == "  └" + "─" * 20
    assert lines[7].split() == ["1", "2.5", "4"]


def test_ascii_fallback_uses_ascii_only() -> None:
    ys = [math.sin(i / 5) for i in range(100)]
    text = plot_curve(list(range(100)), ys, width=30, height=5, unicode=False)
    assert text.isascii()
    assert ":" in text or "'" in text or "." in text
    assert text.split("\n")[-2].strip().startswith("+--")


def test_constant_curve_is_one_flat_line_with_one_label() -> None:
    text = plot_curve([1, 2, 3], [0.5, 0.5, 0.5], width=10, height=3)
    labelled = [line for line in text.split("\n") if "┤" in line]
    assert labelled == [labelled[0]] and labelled[0].startswith("0.5 ┤")


def test_custom_formats() -> None:
    text = plot_curve(
        [1, 1000],
        [1e-4, 3e-4],
        width=10,
        height=2,
        y_format=lambda v: f"{v:.1e}",
        x_format=lambda v: f"{v:.0f}",
    )
    assert text.split("\n")[0].startswith("3.0e-04 ┤")
    assert text.split("\n")[-1].split() == ["1", "1000"]


@pytest.mark.parametrize(
    ("xs", "ys", "kwargs", "message"),
    [
        ([], [], {}, "nothing to plot"),
        ([1, 2], [1.0], {}, "same length, got 2 and 1"),
        ([1, 2], [1.0, math.nan], {}, "must be finite"),
        ([2, 1], [1.0, 2.0], {}, "sorted in increasing order"),
        ([1, 2], [1.0, 2.0], {"width": 4}, "at least 8 x 2 characters, got 4 x 12"),
    ],
)
def test_bad_input(xs: list[float], ys: list[float], kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plot_curve(xs, ys, **kwargs)  # type: ignore[arg-type]
