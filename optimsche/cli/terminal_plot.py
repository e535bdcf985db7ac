"""A small line plot for the terminal, in Unicode braille or plain ASCII.

Braille cells hold 2 x 4 dots, so a ``width x height`` character plot has
``2·width x 4·height`` pixels; the ASCII fallback has ``width x 2·height`` (``'`` upper,
``.`` lower, ``:`` both). The curve is drawn column by column: each pixel column is filled
from the lowest to the highest value falling in it, joined to the previous column, so steps
and spikes stay visible however many points there are.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

_BRAILLE_BASE = 0x2800
# dot bits of a braille cell by (column, row from the top)
_BRAILLE_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def _default_format(value: float) -> str:
    return f"{value:.3g}"


def _pixel_columns(
    xs: Sequence[float], ys: Sequence[float], columns: int, rows: int, y_low: float, y_high: float
) -> list[tuple[int, int] | None]:
    """For each pixel column, the span of pixel rows (0 = bottom) the curve covers there."""
    x_low, x_high = xs[0], xs[-1]
    x_span = (x_high - x_low) or 1.0
    y_span = y_high - y_low

    def row_of(y: float) -> int:
        return min(rows - 1, max(0, round((y - y_low) / y_span * (rows - 1))))

    spans: list[tuple[int, int] | None] = [None] * columns
    first_last: list[tuple[int, int] | None] = [None] * columns
    for x, y in zip(xs, ys, strict=True):
        column = min(columns - 1, max(0, round((x - x_low) / x_span * (columns - 1))))
        row = row_of(y)
        span = spans[column]
        spans[column] = (row, row) if span is None else (min(span[0], row), max(span[1], row))
        ends = first_last[column]
        first_last[column] = (row, row) if ends is None else (ends[0], row)
    previous_last: int | None = None
    for column in range(columns):
        span, ends = spans[column], first_last[column]
        if span is None or ends is None:
            continue
        if previous_last is not None:  # join this column to the previous one
            spans[column] = (min(span[0], previous_last), max(span[1], previous_last))
        previous_last = ends[1]
    return spans


def plot_curve(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    width: int = 64,
    height: int = 12,
    unicode: bool = True,
    y_format: Callable[[float], str] = _default_format,
    x_format: Callable[[float], str] = _default_format,
) -> str:
    """The curve ``ys`` over increasing ``xs`` as lines of text (no trailing newline).

    The plot area is ``width x height`` characters, with y labels (max, middle, min) on the
    left and x labels (first, middle, last) below. ``unicode=False`` draws with ASCII only.
    Raises ``ValueError`` for empty or mismatched inputs, non-finite values, decreasing
    ``xs`` or a size under 8 x 2.
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys must have the same length, got {len(xs)} and {len(ys)}")
    if not xs:
        raise ValueError("nothing to plot: xs and ys are empty")
    if width < 8 or height < 2:
        raise ValueError(f"the plot must be at least 8 x 2 characters, got {width} x {height}")
    if not all(math.isfinite(v) for v in (*xs, *ys)):
        raise ValueError("xs and ys must be finite numbers")
    if any(b < a for a, b in itertools.pairwise(xs)):
        raise ValueError("xs must be sorted in increasing order")
    y_low, y_high = min(ys), max(ys)
    if y_high == y_low:
        pad = abs(y_high) or 1.0
        y_low, y_high = y_low - pad, y_high + pad
    dots_x, dots_y = (2, 4) if unicode else (1, 2)
    columns, rows = width * dots_x, height * dots_y
    spans = _pixel_columns(xs, ys, columns, rows, y_low, y_high)
    grid = [[0] * width for _ in range(height)]  # bitmask per cell, row 0 at the top
    for column, span in enumerate(spans):
        if span is None:
            continue
        for row in range(span[0], span[1] + 1):
            top_row = rows - 1 - row
            cell_row, dot_row = divmod(top_row, dots_y)
            cell_col, dot_col = divmod(column, dots_x)
            bit = _BRAILLE_BITS[dot_col][dot_row] if unicode else (1 << dot_row)
            grid[cell_row][cell_col] |= bit
    ascii_cells = {0: " ", 1: "'", 2: ".", 3: ":"}
    body = [
        "".join(
            chr(_BRAILLE_BASE + bits)
            if unicode and bits
            else (" " if unicode else ascii_cells[bits])
            for bits in line
        )
        for line in grid
    ]
    top, middle, bottom = y_format(max(ys)), y_format((min(ys) + max(ys)) / 2), y_format(min(ys))
    if min(ys) == max(ys):
        top = middle = bottom = ""
        labels = [""] * height
        labels[height // 2] = y_format(ys[0])
    else:
        labels = [""] * height
        labels[0], labels[-1] = top, bottom
        if height >= 5:
            labels[height // 2] = middle
    label_width = max(len(label) for label in labels)
    tick, axis, corner, rule = ("┤", "│", "└", "─") if unicode else ("+", "|", "+", "-")
    lines = [
        f"{label:>{label_width}} {tick if label else axis}{row}".rstrip()
        for label, row in zip(labels, body, strict=True)
    ]
    lines.append(" " * label_width + " " + corner + rule * width)
    first, mid, last = x_format(xs[0]), x_format((xs[0] + xs[-1]) / 2), x_format(xs[-1])
    x_axis = [" "] * (width + 1)
    # the ends first; the middle label only where it fits between them
    for text, at in ((first, 0), (last, width + 1 - len(last)), (mid, width // 2 - len(mid) // 2)):
        at = max(0, min(at, width + 1 - len(text)))
        if all(c == " " for c in x_axis[max(0, at - 1) : at + len(text) + 1]):
            x_axis[at : at + len(text)] = list(text)
    lines.append(" " * label_width + " " + "".join(x_axis).rstrip())
    return "\n".join(lines)
