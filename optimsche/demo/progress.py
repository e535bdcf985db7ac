"""A minimal progress bar on a text stream (stderr by default), with no dependency.

On a terminal the bar is redrawn in place (``\\r``, cut to the terminal's width) at most every
``min_interval`` seconds; on anything else (a pipe, a log file, pytest's capture) one line is
written per tenth of the run, so logs stay short. The line shows the position, the elapsed
time, the speed in micro-steps per second, and any fields the caller passes (losses, lrs).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

__all__ = ["ProgressBar"]

_BAR_WIDTH = 24


def _format_value(value: float) -> str:
    """A number in at most 4 significant digits (scientific notation for small lrs)."""
    return f"{value:.3e}" if value != 0 and abs(value) < 1e-2 else f"{value:.4f}"


class ProgressBar:
    """Progress of ``total`` micro-steps, written to ``stream``.

    ``update(done, fields)`` reports that ``done`` micro-steps of ``total`` are finished;
    ``close()`` draws the final state and ends the line. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "train",
        stream: TextIO | None = None,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if total < 1:
            raise ValueError(f"total must be >= 1, got {total!r}")
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self._clock = clock
        self._start = clock()
        self._last_draw = -float("inf")
        self._last_tenth = -1
        self._done = 0
        self._fields: Mapping[str, float] = {}
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty()) if callable(isatty) else False

    def line(self) -> str:
        """The current progress line (without ``\\r`` or newline)."""
        fraction = self._done / self.total
        filled = round(fraction * _BAR_WIDTH)
        elapsed = self._clock() - self._start
        speed = self._done / elapsed if elapsed > 0 else 0.0
        fields = "  ".join(f"{k} {_format_value(v)}" for k, v in self._fields.items())
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        return (
            f"{self.label} [{bar}] {self._done}/{self.total} {elapsed:5.1f}s "
            f"{speed:6.1f} it/s  {fields}".rstrip()
        )

    def _fitted_line(self) -> str:
        """:meth:`line` cut to the terminal's width (a wrapped line could not be redrawn)."""
        width = shutil.get_terminal_size((120, 24)).columns - 1
        return self.line()[: max(width, 20)]

    def update(self, done: int, fields: Mapping[str, float] | None = None) -> None:
        """Record that ``done`` micro-steps are finished, with the latest ``fields``; redraw
        when due (terminal: every ``min_interval`` s; otherwise: every tenth of the run)."""
        self._done = min(max(done, 0), self.total)
        if fields is not None:
            self._fields = dict(fields)
        if self.interactive:
            now = self._clock()
            if now - self._last_draw >= self.min_interval or self._done == self.total:
                self._last_draw = now
                self.stream.write("\r" + self._fitted_line() + "\x1b[K")
                self.stream.flush()
            return
        tenth = self._done * 10 // self.total
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (terminal only; logs are already complete)."""
        if self.interactive:
            self.stream.write("\r" + self._fitted_line() + "\x1b[K\n")
            self.stream.flush()
