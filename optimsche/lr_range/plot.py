"""The figure of an lr range test: losses against the lr, the suggestion marked; the y axis
ends at the smoothed loss's top (a divergent raw loss beyond it is cut).

matplotlib is optional (the ``plot`` extra): without it
:class:`~optimsche.cli.plot.PlotUnavailable` says how to install it. The figure is drawn on
matplotlib's Agg canvas without ``pyplot``, so nothing global changes and no display is needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimsche.cli.plot import PlotUnavailable

if TYPE_CHECKING:
    from optimsche.lr_range.result import LrRangeResult


def range_test_figure(result: LrRangeResult, path: Path | None) -> Any:
    """The figure of :meth:`LrRangeResult.plot` (saved to ``path`` when given)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "LrRangeResult.plot needs matplotlib: pip install 'optimsche[plot]'"
        ) from None
    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    finite = [i for i, loss in enumerate(result.losses) if math.isfinite(loss)]
    axes.plot(
        [result.lrs[i] for i in finite],
        [result.losses[i] for i in finite],
        color="tab:gray",
        alpha=0.4,
        linewidth=1.0,
        label="loss",
    )
    axes.plot(result.lrs, result.smoothed, color="tab:blue", linewidth=1.6, label="smoothed")
    index = result.suggestion_index()
    if index is not None:
        lr = result.lrs[index]
        axes.plot([lr], [result.smoothed[index]], marker="o", color="tab:red")
        axes.axvline(
            lr, color="tab:red", linestyle="--", linewidth=1.0, label=f"suggested {lr:.3g}"
        )
    if result.mode == "exponential":
        axes.set_xscale("log")
    smoothed = [v for v in result.smoothed if math.isfinite(v)]
    low = min([result.losses[i] for i in finite] + smoothed, default=0.0)
    if smoothed and max(smoothed) > low:
        # up to the smoothed curve's top: a divergent raw loss would flatten everything else
        margin = 0.05 * (max(smoothed) - low)
        axes.set_ylim(low - margin, max(smoothed) + margin)
    axes.set_xlabel("learning rate")
    axes.set_ylabel("loss")
    axes.set_title(
        f"lr range test: {len(result.lrs)} of {result.num_updates} updates, {result.stop_reason}",
        fontsize=9,
        loc="left",
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            figure.savefig(path, dpi=120)
        except (OSError, ValueError) as error:
            raise OSError(f"{path}: cannot write the plot ({error})") from None
    return figure
