"""The ``optimsche`` command (also ``python -m optimsche``).

Subcommands:

* ``show CONFIG [--steps N] [--accum-grad A] [--ft-factor F]``: for each optimizer of an
  ``optim_sches`` config, a table of the lr at the key steps of the run and a terminal plot
  of the whole curve. No model is built (see :mod:`optimsche.cli.lr_curves`). ``--steps``
  counts micro-steps (default: guessed from the schedules, see
  :mod:`optimsche.cli.schedule_horizon`); ``--accum-grad`` and ``--ft-factor`` default to the
  config's ``experiment`` section when it has one, else 1. ``show --schedule EXPR``: the
  same for one schedule expression.
* ``plot CONFIG -o lr.png`` or ``plot --schedule 'cosine(peak=0.1, steps=1000)' -o lr.png``:
  the same curves as an image (needs matplotlib, the ``plot`` extra). The schedule
  expression is parsed, never evaluated (:mod:`optimsche.config.schedule_expression`). At
  most :data:`~optimsche.cli.lr_curves.MAX_POINTS` steps are evaluated, evenly spaced,
  whatever the horizon.
* A config is code: its ``type:`` and ``optim_type:`` may name modules to import. ``show``
  and ``plot`` import only from ``schedules``, ``optimsche`` and ``torch`` unless given
  ``--allow-imports`` (:func:`optimsche.dotted_import.imports_limited_to`).
* ``demo [--steps N] [--out DIR] [--config FILE] [--ddp N]``: train the demo model
  (:func:`optimsche.demo.run_demo`).

``optimsche --version`` prints the installed package's version.

Exit status: 0 on success, 2 for bad usage, 1 for any other error (a bad config file, a
missing dependency, a schedule whose arithmetic overflows); errors are one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from optimsche.cli.lr_curves import LrCurve, expression_curve, lr_curves
from optimsche.cli.schedule_horizon import expression_horizon
from optimsche.cli.show import render_show
from optimsche.config.durations import RunLengths, run_lengths
from optimsche.config.error import ConfigError
from optimsche.config.experiment_document import find_optim_sches
from optimsche.config.loading import load_config
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.records import ExperimentSettings
from optimsche.config.schedule_expression import parse_schedule_expression
from optimsche.dotted_import import imports_limited_to
from schedules.validation import require_count, require_int, require_positive

PROG = "optimsche"

T = TypeVar("T")


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


def _argument_type(
    parse: Callable[[str], object], check: Callable[[str, object], T], expected: str
) -> Callable[[str], T]:
    """An argparse ``type=``: ``text`` parsed by ``parse`` (``int``, ``float``) and checked by
    ``check`` (a :mod:`schedules.validation` ``require_*``); a failure reads ``"expected
    <expected>, got '<text>'"``."""

    def convert(text: str) -> T:
        try:
            return check("value", parse(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    return convert


_positive_int = _argument_type(int, require_count, "a positive integer")
_non_negative_int = _argument_type(
    int, lambda name, value: require_int(name, value, 0), "an integer >= 0"
)
_positive_float = _argument_type(float, require_positive, "a positive number")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``optimsche`` command."""
    parser = _Parser(
        prog=PROG,
        description="Optimizer + learning-rate schedule in one object: inspect configs, "
        "plot schedules, run the demo.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    show = commands.add_parser(
        "show",
        help="print the lr of each optimizer of a config: key steps and a terminal plot",
        description="For each optimizer of an optim_sches config (or for one --schedule "
        "expression): a table of the lr at the key steps (first, peak, ends of phases, "
        "last) and a terminal plot of the whole curve. No model is built.",
    )
    show.add_argument("config", type=Path, nargs="?", metavar="CONFIG", help="a YAML config")
    show.add_argument(
        "--schedule",
        metavar="EXPR",
        help="show one schedule instead of a config, e.g. "
        "'warmup(cosine(peak=1e-3, steps=10000), steps=500)'",
    )
    _add_run_options(show)

    plot = commands.add_parser(
        "plot",
        help="save the lr curves of a config, or of one schedule, as an image",
        description="Draw the lr curves with matplotlib (pip install 'optimsche[plot]').",
    )
    plot.add_argument("config", type=Path, nargs="?", metavar="CONFIG", help="a YAML config")
    plot.add_argument(
        "--schedule",
        metavar="EXPR",
        help="plot one schedule instead of a config, e.g. "
        "'warmup_cosine(peak=3e-4, warmup=2000, steps=100000)' or "
        "'join([constant(value=1e-3), cosine(peak=1e-3, steps=9000)], boundaries=[1000])'",
    )
    plot.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="image")
    _add_run_options(plot)

    demo = commands.add_parser(
        "demo",
        help="train a small encoder-decoder Transformer with two optimizers",
        description="Train the demo model on a synthetic task with the SpeeChain two-optimizer "
        "config (or your own optim_sches), with a checkpoint reloaded half-way.",
    )
    demo.add_argument("--steps", type=_positive_int, metavar="N", help="training micro-steps")
    demo.add_argument(
        "--out", type=Path, default=Path("optimsche-demo"), metavar="DIR", help="output folder"
    )
    demo.add_argument("--config", type=Path, metavar="FILE", help="your own optim_sches YAML")
    demo.add_argument(
        "--ddp",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="N gloo processes on 127.0.0.1 (0: none); a collective waits at most 60 s",
    )
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--steps", type=_positive_int, metavar="N", help="micro-steps to show (default: guessed)"
    )
    parser.add_argument(
        "--accum-grad", type=_positive_int, metavar="A", help="micro-steps per update window"
    )
    parser.add_argument(
        "--ft-factor", type=_positive_float, metavar="F", help="multiply every lr by F"
    )
    parser.add_argument(
        "--updates-per-epoch",
        type=_positive_int,
        metavar="N",
        help="updates in one epoch: draws a schedule that reads the epoch clock (on('epoch', "
        "...), eden(...)) against updates, update r in epoch (r - 1) // N + 1; resolves "
        "lengths in 'ep' (and 'ba' on the epoch clock)",
    )
    parser.add_argument(
        "--horizon",
        type=_positive_int,
        metavar="H",
        help="the run's length in updates: resolves lengths in '%%' and 'dur' (warmup='5%%'); "
        "with --schedule, the updates drawn when --steps is not given",
    )
    parser.add_argument(
        "--allow-imports",
        action="store_true",
        help="let the config's type/optim_type import modules outside schedules, optimsche "
        "and torch (a config is code: only for configs you trust)",
    )


ALLOWED_IMPORT_ROOTS = ("schedules", "optimsche", "torch")
"""The packages a config may import from without ``--allow-imports``."""


def package_version() -> str:
    """The installed ``optimsche`` distribution's version (``importlib.metadata``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("optimsche")
    except PackageNotFoundError:
        return "(not installed: version unknown)"


def _import_policy(args: argparse.Namespace) -> contextlib.AbstractContextManager[None]:
    if args.allow_imports:
        return contextlib.nullcontext()
    return imports_limited_to(ALLOWED_IMPORT_ROOTS)


def _settings(document: Mapping[str, Any], args: argparse.Namespace) -> ExperimentSettings:
    """accum_grad and ft_factor: the flags, else the document's ``experiment`` section (the
    top level of a whole SpeeChain experiment configuration)."""
    if "optim_sches" in document:
        section = document.get("experiment", {})
    else:
        section = find_optim_sches(document).run_settings
    if not isinstance(section, Mapping):
        raise ConfigError(f"experiment: must be a mapping, got {section!r}")
    accum_grad = args.accum_grad if args.accum_grad is not None else section.get("accum_grad", 1)
    ft_factor = args.ft_factor if args.ft_factor is not None else section.get("ft_factor", 1.0)
    return ExperimentSettings(accum_grad=accum_grad, ft_factor=ft_factor)


def _config_curves(path: Path, args: argparse.Namespace) -> list[LrCurve]:
    """The lr curves of the config file at ``path``; errors name the file."""
    try:
        document = load_config(path)
        with _import_policy(args), run_lengths(_run_lengths(args)):
            records = parse_optim_sches(document)
        settings = _settings(document, args)
        return lr_curves(records, settings, args.steps, updates_per_epoch=args.updates_per_epoch)
    except ConfigError as error:
        message = str(error)
        if message.startswith(str(path)):
            raise
        raise ConfigError(f"{path}: {message}") from None


def _run_lengths(args: argparse.Namespace) -> RunLengths:
    """What ``--horizon`` and ``--updates-per-epoch`` say of the run, for lengths with units."""
    return RunLengths(horizon=args.horizon, updates_per_epoch=args.updates_per_epoch)


def _curves(command: str, args: argparse.Namespace) -> list[LrCurve]:
    """The curves ``show``/``plot`` draw: of the CONFIG, or of the one ``--schedule``."""
    if (args.config is None) == (args.schedule is None):
        raise UsageError(f"{PROG} {command}: error: give CONFIG or --schedule EXPR (exactly one)")
    if args.schedule is None:
        return _config_curves(args.config, args)
    if args.accum_grad is not None or args.ft_factor is not None:
        raise UsageError(
            f"{PROG} {command}: error: --accum-grad and --ft-factor apply to a CONFIG only"
        )
    with run_lengths(_run_lengths(args)):
        expression = parse_schedule_expression(args.schedule)
    if expression.kind == "rule" or not callable(expression.schedule):
        raise ConfigError(
            f"schedule {expression.text!r}: {expression.name} is not a schedule (it gives no "
            f"value per step)"
        )
    steps = args.steps or args.horizon or expression_horizon(expression, args.updates_per_epoch)
    return [expression_curve(expression, steps, updates_per_epoch=args.updates_per_epoch)]


def _run_show(args: argparse.Namespace) -> int:
    curves = _curves("show", args)
    print(render_show(curves, unicode=_stdout_takes_unicode()))
    return 0


def _run_plot(args: argparse.Namespace) -> int:
    from optimsche.cli import plot as plot_command

    plot_command.save_curves_plot(_curves("plot", args), args.output)
    print(f"wrote {args.output}")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    try:
        from optimsche.demo import run_demo
    except ImportError as error:
        raise RuntimeError(f"the demo is not available in this installation ({error})") from None
    return int(run_demo(steps=args.steps, out=args.out, config=args.config, ddp=args.ddp))


def _stdout_takes_unicode() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "┤⣿─".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``optimsche`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit status (0 success, 1 error, 2 usage)."""
    from optimsche.cli.plot import PlotUnavailable

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handlers = {"show": _run_show, "plot": _run_plot, "demo": _run_demo}
        return handlers[args.command](args)
    except UsageError as error:
        print(_one_line(error), file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help and --version
        code = exit_.code
        return code if isinstance(code, int) else 0 if code is None else 1
    except (ConfigError, ValueError, OSError, PlotUnavailable, RuntimeError) as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except (ArithmeticError, MemoryError, RecursionError) as error:
        # a schedule whose formula overflows or divides by zero for these hyperparameters
        kind = type(error).__name__
        print(
            f"{PROG}: error: {kind}: {_one_line(error)} (check the hyperparameters)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
