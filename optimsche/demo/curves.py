"""The PNG of a demo run: loss curves (per token) and learning-rate curves against micro-steps.

matplotlib is optional (the ``plot`` extra): without it :func:`write_curves` writes nothing and
returns ``False``. The figure is drawn with the object-oriented API on an Agg canvas, so no
global pyplot state or display is touched.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

from optimsche.demo.history import History

__all__ = ["CURVES_PNG", "matplotlib_available", "moving_average", "write_curves"]

CURVES_PNG = "curves.png"
"""File name of the curves image in the output folder."""


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` values: ``m_i = mean(v[max(0, i-window+1) .. i])``."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window!r}")
    out: list[float] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def write_curves(
    history: History,
    path: Path,
    title: str,
    loss_names: Sequence[str],
    marks: Mapping[str, int] | None = None,
) -> bool:
    """Draw the curves of ``history`` into the PNG ``path``; ``False`` (and no file) when
    matplotlib is missing.

    Left: the losses ``loss_names`` per token, raw (faint) and as a trailing moving average
    over ~1/50 of the run, on a log scale. Right: each optimizer's lr at its updates. ``marks``
    (label -> micro-step, e.g. the checkpoint) are drawn as vertical lines on both.
    """
    if not matplotlib_available():
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, lr_axes = figure.subplots(1, 2)
    window = max(1, len(history.steps) // 50)
    for name in loss_names:
        values = history.losses.get(name)
        if not values:
            continue
        (line,) = loss_axes.plot(history.steps, values, alpha=0.25, linewidth=0.8)
        loss_axes.plot(
            history.steps, moving_average(values, window), color=line.get_color(), label=name
        )
    loss_axes.set_yscale("log")
    loss_axes.set_xlabel("micro-step")
    loss_axes.set_ylabel("loss per token")
    loss_axes.set_title("training losses")
    loss_axes.legend()
    styles = ("-", "--", ":", "-.")
    for index, (name, points) in enumerate(history.lrs.items()):
        if points:
            steps, lrs = zip(*points, strict=True)
            lr_axes.step(
                steps,
                lrs,
                where="post",
                linestyle=styles[index % len(styles)],
                label=f"{name} ({len(points)} updates)",
            )
    for label, step in (marks or {}).items():
        for axes in (loss_axes, lr_axes):
            axes.axvline(step, color="grey", linewidth=0.8, linestyle=":")
        lr_axes.annotate(
            label,
            (step, 0.02),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=8,
            color="grey",
            ha="right",
            va="bottom",
        )
    lr_axes.set_xlabel("micro-step")
    lr_axes.set_ylabel("learning rate")
    lr_axes.set_title("learning rate at each update")
    lr_axes.legend()
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
    return True
