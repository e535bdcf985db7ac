"""``optimsche lr-find``: an lr range test (:func:`optimsche.lr_range.lr_range_test`) on the
demo model and data, printing the suggested lr, a terminal plot of the smoothed loss against
the lr and, with ``--out``, saving the matplotlib figure.

The model, the task, the batch size and the ``optim_sches`` are the demo's
(:mod:`optimsche.demo`; ``--config`` for your own ``optim_sches`` on the demo model): every
optimizer of the group is swept together, the recorded loss being the sum of their losses per
token. Torch and the demo are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

COMMAND = "lr-find"
"""The subcommand's name."""


def add_parser(commands: Any) -> None:
    """Add the ``lr-find`` subcommand to ``commands`` (the ``add_subparsers`` of the
    ``optimsche`` parser)."""
    from optimsche.cli.commands import _argument_type, _positive_float, _positive_int
    from schedules.validation import require_int

    at_least_two = _argument_type(
        int, lambda name, value: require_int(name, value, 2), "an integer >= 2"
    )
    parser = commands.add_parser(
        COMMAND,
        help="run an lr range test on the demo model and print the suggested lr",
        description="Sweep the lr from --min-lr to --max-lr over --updates updates of the demo "
        "model (its optim_sches, accumulation and data), stop when the loss diverges, and "
        "suggest the lr where the smoothed loss falls fastest. Nothing is saved but the plot.",
    )
    parser.add_argument("--min-lr", type=_positive_float, default=1e-7, metavar="LR")
    parser.add_argument("--max-lr", type=_positive_float, default=10.0, metavar="LR")
    parser.add_argument(
        "--updates", type=at_least_two, default=100, metavar="N", help="updates of the sweep"
    )
    parser.add_argument("--mode", choices=("exponential", "linear"), default="exponential")
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        metavar="B",
        help="sequences per micro-batch",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="your own optim_sches YAML")
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="save the plot (needs the plot extra)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the ``lr-find`` subcommand; return the exit status (0)."""
    import attrs
    import torch

    from optimsche.config.building import build_optim_sches
    from optimsche.demo.config import check_fits_model, load_demo_config
    from optimsche.demo.model import LOSS_NAMES
    from optimsche.demo.training import DemoSettings, build_model
    from optimsche.lr_range import lr_range_test

    if args.max_lr <= args.min_lr:
        raise ValueError(f"--max-lr must be > --min-lr ({args.min_lr!r}), got {args.max_lr!r}")
    settings = DemoSettings(batch_size=args.batch_size)
    config = load_demo_config(args.config)
    torch.set_num_threads(settings.threads)
    model = build_model(settings)
    check_fits_model(config, model, LOSS_NAMES)
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    batches = (settings.task.train_batch(settings.batch_size, n) for n in range(1, 1 << 62))
    result = lr_range_test(
        group,
        batches,
        model,
        num_items=lambda batch: batch.num_items,
        min_lr=args.min_lr,
        max_lr=args.max_lr,
        num_updates=args.updates,
        mode=args.mode,
    )
    names = ", ".join(group)
    print(
        f"lr range test on the demo model ({names}; accum_grad "
        f"{attrs.asdict(config.experiment)['accum_grad']}, {settings.batch_size} sequences per "
        f"micro-batch)"
    )
    print(
        f"{len(result.lrs)} of {result.num_updates} updates, lr {result.lrs[0]:.3g} .. "
        f"{result.lrs[-1]:.3g}, stopped: {result.stop_reason}"
    )
    suggested = result.suggested_lr
    if suggested is None:
        print("suggested lr: none (too few points: raise --updates or lower --min-lr)")
    else:
        print(f"suggested lr: {suggested:.3g} (steepest descent of the smoothed loss)")
    print(_terminal_plot(result))
    if args.out is not None:
        result.plot(args.out)
        print(f"wrote {args.out}")
    return 0


def _terminal_plot(result: Any) -> str:
    """The smoothed loss against the lr (log axis for an exponential sweep), as text."""
    from optimsche.cli.commands import _stdout_takes_unicode
    from optimsche.cli.terminal_plot import plot_curve

    log_axis = result.mode == "exponential"
    points = [
        (math.log10(lr) if log_axis else lr, loss)
        for lr, loss in zip(result.lrs, result.smoothed, strict=True)
        if math.isfinite(loss)
    ]
    if len(points) < 2:
        return ""
    return plot_curve(
        [x for x, _ in points],
        [y for _, y in points],
        unicode=_stdout_takes_unicode(),
        y_format=lambda v: f"{v:.3g}",
        x_format=(lambda v: f"{10**v:.1e}") if log_axis else (lambda v: f"{v:.3g}"),
    )
