"""The PNG of ``optimsche plot``: learning-rate curves drawn with matplotlib.

matplotlib is optional (the ``plot`` extra); without it :class:`PlotUnavailable` says how to
install it. Figures are drawn on matplotlib's Agg canvas without ``pyplot``, so nothing
global changes and no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimsche.cli.key_steps import key_points
from optimsche.cli.lr_curves import LrCurve


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _figure(rows: int) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "optimsche plot needs matplotlib: pip install 'optimsche[plot]'"
        ) from None
    figure = Figure(figsize=(8.0, 2.2 + 2.4 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _draw(
    axes: Any, xs: Sequence[float], ys: Sequence[float], title: str, ylabel: str = "lr"
) -> None:
    axes.plot(xs, ys, linewidth=1.5, color="tab:blue")
    for point in key_points(ys):
        x, y = xs[point.index], ys[point.index]
        axes.plot([x], [y], marker="o", markersize=3.5, color="tab:red")
        axes.annotate(
            f"{point.label}\n{y:.3g}",
            (x, y),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
            color="dimgray",
        )
    axes.set_title(title, fontsize=9, loc="left")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))


def _save(figure: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.savefig(path, dpi=120)
    except (OSError, ValueError) as error:
        raise OSError(f"{path}: cannot write the plot ({error})") from None


def save_curves_plot(curves: list[LrCurve], path: Path) -> None:
    """One panel per optimizer for its lr, then one for each of its scheduled
    hyperparameters (labelled ``<key>: <schedule>``), against the training step, key points
    marked; saved as an image at ``path`` (the format follows the suffix, PNG for ``.png``)."""
    rows: list[tuple[LrCurve, str, tuple[float, ...], str]] = []
    for curve in curves:
        rows.append((curve, "lr", curve.lrs, f"{curve.name}: {curve.summary}"))
        for extra in curve.hyperparameters:
            title = f"{curve.name} · {extra.key}: {extra.label}"
            rows.append((curve, extra.key, extra.values, title))
    figure = _figure(len(rows))
    panels = figure.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (curve, key, values, title) in zip(panels, rows, strict=True):
        _draw(axes, [float(s) for s in curve.steps], list(values), title, ylabel=key)
    panels[-1].set_xlabel("step")
    _save(figure, path)
