"""Draw every schedule family of ``schedules`` into ``docs/gallery.png``.

Run: ``python docs/make_gallery.py`` (needs matplotlib: ``pip install -e ".[plot]"``).
Each panel evaluates the schedule once on a tensor of steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import schedules  # noqa: E402

P = functools.partial
GALLERY: list[tuple[str, Callable[[torch.Tensor], torch.Tensor], int]] = [
    ("constant(value=1)", P(schedules.constant, value=1.0), 100),
    ("linear(1→0.1, steps=80, begin=10)", P(schedules.linear, start=1.0, end=0.1, steps=80, begin=10), 100),
    ("polynomial(power=2)", P(schedules.polynomial, start=1.0, end=0.05, steps=80, power=2.0), 100),
    ("exponential(rate=0.5, steps=20)", P(schedules.exponential, start=1.0, rate=0.5, steps=20), 100),
    ("exponential(staircase)", P(schedules.exponential, start=1.0, rate=0.5, steps=20, staircase=True), 100),
    ("step_decay(every=25, γ=0.5)", P(schedules.step_decay, start=1.0, every=25, gamma=0.5), 100),
    ("multistep([30,60,80], γ=0.3)", P(schedules.multistep, start=1.0, milestones=[30, 60, 80], gamma=0.3), 100),
    ("cosine(steps=80, final=0.1)", P(schedules.cosine, peak=1.0, steps=80, final=0.1), 100),
    ("warmup_cosine(warmup=15, steps=90)", P(schedules.warmup_cosine, peak=1.0, warmup=15, steps=90), 100),
    ("cosine_restarts(period=10, mult=2, decay=0.7)", P(schedules.cosine_restarts, peak=1.0, period=10, mult=2.0, decay=0.7), 150),
    ("noam(d_model=512, warmup=4000)", P(schedules.noam, d_model=512, warmup=4000), 40000),
    ("inverse_sqrt(warmup=4000)", P(schedules.inverse_sqrt, peak=1.0, warmup=4000), 40000),
    ("tri_stage(10, 30, 40)", P(schedules.tri_stage, peak=1.0, warmup=10, hold=30, decay=40), 100),
    ("warmup_stable_decay(cosine)", P(schedules.warmup_stable_decay, peak=1.0, warmup=10, stable=50, decay=30, shape="cosine"), 100),
    ("warmup_stable_decay(1-sqrt)", P(schedules.warmup_stable_decay, peak=1.0, warmup=10, stable=50, decay=30, shape="1-sqrt"), 100),
    ("one_cycle(steps=100)", P(schedules.one_cycle, peak=1.0, steps=100), 100),
    ("one_cycle(three_phase)", P(schedules.one_cycle, peak=1.0, steps=100, three_phase=True), 100),
    ("cyclic(triangular2)", P(schedules.cyclic, base=0.1, peak=1.0, up=10, mode="triangular2"), 100),
    ("cyclic(exp_range, γ=0.98)", P(schedules.cyclic, base=0.1, peak=1.0, up=10, mode="exp_range", gamma=0.98), 100),
    ("piecewise_constant", P(schedules.piecewise_constant, boundaries=[20, 50, 70], values=[1.0, 0.5, 0.8, 0.1]), 100),
    ("piecewise_linear", P(schedules.piecewise_linear, points=[(0, 0.2), (20, 1.0), (60, 0.6), (90, 0.0)]), 100),
    ("warmup(cosine, steps=10)", schedules.warmup(P(schedules.cosine, peak=1.0, steps=80), steps=10), 100),
    ("join([linear, cosine], [20])", schedules.join([P(schedules.linear, start=0.0, end=1.0, steps=20), P(schedules.cosine, peak=1.0, steps=80)], [20]), 100),
    ("accumulate(cosine, accum_grad=8)", schedules.accumulate(P(schedules.cosine, peak=1.0, steps=12), 8), 100),
]


def main() -> None:
    columns = 4
    rows = -(-len(GALLERY) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.4 * rows))
    for axis, (title, schedule, horizon) in zip(axes.flat, GALLERY, strict=False):
        steps = torch.arange(horizon + 1)
        axis.plot(steps.numpy(), schedule(steps).numpy(), linewidth=1.5)
        axis.set_title(title, fontsize=9)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(GALLERY):]:
        axis.axis("off")
    figure.tight_layout()
    out = Path(__file__).with_name("gallery.png")
    figure.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
