"""The records a benchmark returns: one :class:`Row` per figure, grouped in a :class:`Section`."""

from __future__ import annotations

import attrs


@attrs.frozen
class Row:
    """One figure of a benchmark, ready to print.

    * ``case``: what was measured (``"tiny MLP: shell vs hand-written loop"``);
    * ``ours``/``baseline``: the two measured values, formatted (median and min–max);
    * ``ratio``: ``ours / baseline`` formatted, or ``""`` where no ratio makes sense;
    * ``goal``: the target in words (``"ratio ≤ 1.03"``), ``""`` for a figure without one;
    * ``met``: whether the goal was met, ``None`` for a figure without a goal.
    """

    case: str
    ours: str
    baseline: str
    ratio: str = ""
    goal: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        """``"yes"``, ``"NO"`` or ``"—"`` (no goal)."""
        if self.met is None:
            return "—"
        return "yes" if self.met else "NO"


@attrs.frozen
class Section:
    """The result of one benchmark: a title, what it compares, its rows and notes.

    ``columns`` names the ``ours``/``baseline``/``ratio`` columns for this benchmark (their
    meaning differs: seconds, graphs, bytes, relative errors).
    """

    key: str
    title: str
    description: str
    rows: tuple[Row, ...]
    columns: tuple[str, str, str] = ("ours", "baseline", "ours / baseline")
    notes: tuple[str, ...] = ()

    @property
    def goals_missed(self) -> tuple[Row, ...]:
        """The rows whose goal was not met."""
        return tuple(row for row in self.rows if row.met is False)
