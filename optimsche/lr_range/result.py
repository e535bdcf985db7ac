"""What an lr range test returns: the points of the sweep, why it stopped, the suggestion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from optimsche.lr_range.suggestion import default_skip_begin, steepest_descent

STOP_COMPLETED = "completed"
"""``LrRangeResult.stop_reason`` when every planned update ran."""

STOP_DIVERGED = "diverged"
"""... when the smoothed loss rose above ``diverge`` times the best smoothed loss so far."""

STOP_NONFINITE = "nonfinite"
"""... when an update's loss (or gradient norm) was inf or NaN."""

STOP_OUT_OF_BATCHES = "out of batches"
"""... when a one-pass iterator of batches ran out before the planned updates."""


@attrs.frozen(kw_only=True)
class LrRangeResult:
    """The record of :func:`~optimsche.lr_range.lr_range_test`, one entry per update run.

    * ``lrs[k]``: the lr of update ``k`` (the sweep's value: the reference param group's lr,
      see :mod:`optimsche.lr_range.stand_in`);
    * ``losses[k]``: the loss of that update's window (the mean over its micro-steps, or the
      sum over items divided by the items with ``num_items``; a group's members' summed;
      averaged over ranks under DDP), measured before the update at ``lrs[k]``, as fastai and
      Lightning record it;
    * ``smoothed[k]``: the bias-corrected moving average of ``losses[: k + 1]``
      (:mod:`optimsche.lr_range.smoothing`);
    * ``skipped[k]``: ``None``, or why the update was not applied (``StepReport.skipped``:
      ``"amp_overflow"`` while the fp16 scaler finds its scale, ``"nonfinite"``);
    * ``stop_reason``: ``"completed"``, ``"diverged"``, ``"nonfinite"`` or ``"out of batches"``;
    * ``suggested_lr``: :meth:`suggest` with its default trims (``None`` when too few points).
    """

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    skipped: tuple[str | None, ...]
    stop_reason: str
    mode: str
    min_lr: float
    max_lr: float
    num_updates: int

    @property
    def suggested_lr(self) -> float | None:
        """The lr of the steepest descent of the smoothed loss, default trims."""
        return self.suggest()

    def suggestion_index(self, skip_begin: int | None = None, skip_end: int = 1) -> int | None:
        """The index of :attr:`suggested_lr` in :attr:`lrs`
        (:func:`~optimsche.lr_range.suggestion.steepest_descent`; ``skip_begin=None``: a tenth
        of the points)."""
        begin = default_skip_begin(len(self.lrs)) if skip_begin is None else skip_begin
        return steepest_descent(
            self.lrs,
            self.smoothed,
            log_axis=self.mode == "exponential",
            skip_begin=begin,
            skip_end=skip_end,
        )

    def suggest(self, skip_begin: int | None = None, skip_end: int = 1) -> float | None:
        """The lr at :meth:`suggestion_index` (``None`` when fewer than 2 points are left)."""
        index = self.suggestion_index(skip_begin, skip_end)
        return None if index is None else self.lrs[index]

    def plot(self, path: str | Path | None = None) -> Any:
        """A matplotlib ``Figure`` of the raw and smoothed losses against the lr (log scale for
        an exponential sweep), the suggestion marked; saved to ``path`` when given. Needs
        matplotlib (``pip install 'optimsche[plot]'``)."""
        from optimsche.lr_range.plot import range_test_figure

        return range_test_figure(self, None if path is None else Path(path))
