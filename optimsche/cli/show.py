"""The text of ``optimsche show``: for each optimizer, a table of its lr at the key steps of
the run and a terminal plot of the whole curve.

For each optimizer::

    encoder_optim: noam.NoamLr · Adam · loss encoder_loss · updates encoder · ...
    10000 updates in 20000 steps

         step  real step         lr  at
            2          2  2.762e-07  first
         4000       4000  5.524e-04  peak
        20000      20000  2.470e-04  last

    <plot of lr against the step>

Each scheduled hyperparameter of the entry (``hyperparameters:``) follows with its own table
and plot, titled ``<name> · <key>: <schedule>``.

The key steps come from the curve itself (:func:`optimsche.key_steps.key_points`): first,
peak, the ends of phases (``rise → hold``, ``hold → decay``, ...), lowest, last.
"""

from __future__ import annotations

from optimsche.cli.key_steps import key_points
from optimsche.cli.lr_curves import LrCurve
from optimsche.cli.terminal_plot import plot_curve


def format_lr(lr: float) -> str:
    """A learning rate as the table prints it: ``1.234e-04``."""
    return f"{lr:.3e}"


def _table_and_plot(
    steps: tuple[int, ...],
    real_steps: tuple[int, ...],
    values: tuple[float, ...],
    column: str,
    *,
    unicode: bool,
    width: int,
    height: int,
) -> list[str]:
    """The key-step table (``step``, ``real step``, ``column``, ``at``) and the terminal plot
    of ``values`` against ``steps``."""
    rows = [("step", "real step", column, "at")]
    for point in key_points(values):
        i = point.index
        rows.append((str(steps[i]), str(real_steps[i]), format_lr(values[i]), point.label))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    lines = []
    for row in rows:
        cells = [f"{row[c]:>{widths[c]}}" for c in range(3)]
        lines.append(("  ".join(cells) + "  " + row[3]).rstrip())
    lines.append("")
    lines.append(
        plot_curve(
            [float(s) for s in steps],
            list(values),
            width=width,
            height=height,
            unicode=unicode,
            y_format=lambda v: f"{v:.2e}",
            x_format=lambda v: f"{v:.0f}",
        )
    )
    return lines


def render_curve(curve: LrCurve, *, unicode: bool = True, width: int = 64, height: int = 12) -> str:
    """The table and the plot of one optimizer's curve (see the module docs), then one table
    and plot for each of its scheduled hyperparameters, titled ``<key>: <schedule>``."""
    lines = [f"{curve.name}: {curve.summary}"]
    total = curve.steps[-1] if curve.steps else 0
    if not curve.lrs:
        lines.append("no update within the run: raise --steps")
        return "\n".join(lines)
    sampled = f" (plotted from {len(curve.lrs)} evenly spaced updates)" if curve.sampled else ""
    plural = "update" if curve.updates == 1 else "updates"
    lines.append(f"{curve.updates} {plural}, the last at step {total}{sampled}")
    lines.append("")
    panels = [("lr", curve.lrs)] + [(e.key, e.values) for e in curve.hyperparameters]
    for number, (column, values) in enumerate(panels):
        if number:
            extra = curve.hyperparameters[number - 1]
            lines.extend(["", f"{curve.name} · {extra.key}: {extra.label}", ""])
        lines.extend(
            _table_and_plot(
                curve.steps,
                curve.real_steps,
                values,
                column,
                unicode=unicode,
                width=width,
                height=height,
            )
        )
    return "\n".join(lines)


def render_show(curves: list[LrCurve], *, unicode: bool = True) -> str:
    """``optimsche show``'s output for all ``curves``, separated by blank lines."""
    return "\n\n".join(render_curve(curve, unicode=unicode) for curve in curves)
