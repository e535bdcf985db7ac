"""``run_demo``: the ``optimsche demo`` command's work, from flags to exit code."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from optimsche.config.error import ConfigError
from optimsche.demo.config import check_fits_model, load_demo_config
from optimsche.demo.curves import CURVES_PNG, write_curves
from optimsche.demo.model import LOSS_NAMES
from optimsche.demo.output_folder import default_output_folder
from optimsche.demo.summary import describe_run, format_summary
from optimsche.demo.training import DemoResult, DemoSettings, build_model, train_demo
from optimsche.testing.local_processes import DEFAULT_COLLECTIVE_TIMEOUT_S, run_local_processes
from schedules.validation import require_count

__all__ = ["run_demo"]

_SECONDS_PER_STEP_LIMIT = 1.0
"""Generous per-micro-step allowance for the ``--ddp`` processes' time limit."""


def _prepare_out(out: Path) -> None:
    """Create the output folder, or raise ``ConfigError`` saying why it cannot be used."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out {out}: exists and is not a folder") from None
    except OSError as error:
        raise ConfigError(f"--out {out}: cannot create the folder ({error.strerror})") from None


def run_demo(
    steps: int | None = None,
    out: Path | None = None,
    config: Path | None = None,
    ddp: int = 0,
    collective_timeout_s: float = DEFAULT_COLLECTIVE_TIMEOUT_S,
) -> int:
    """Train the demo model on the sequence-reversal task and report; return the exit code.

    ``steps``: micro-steps (``None``: the default, 1000). ``out``: folder for ``curves.png``
    and the checkpoints (created; ``None``: the user's cache,
    :func:`~optimsche.demo.output_folder.default_output_folder`). ``config``: a YAML file with
    the user's ``optim_sches``
    (and optionally ``experiment``) to run on the demo model instead of the embedded default;
    it must fit the demo model (first-level modules ``encoder``/``decoder``, losses
    ``encoder_loss``/``decoder_loss``/``loss``). ``ddp``: 0 runs in this process; ``N >= 1``
    runs ``N`` gloo processes on 127.0.0.1 wrapped in DDP, each on its own data shard (rank 0
    prints and writes). ``collective_timeout_s``: under ``--ddp``, the process group's
    ``timeout`` (default 60 s, not torch's 30 minutes): a rank that waits that long in one
    all-reduce or barrier for the others fails, and the run reports it instead of hanging.

    Prints the plan and the summary on stdout, the progress bar on stderr. Returns 0 when the
    run finished and the resume check found the reloaded run bit-identical (and, under DDP,
    every rank ends with the same parameters), 1 otherwise. Bad arguments, configurations
    and output folders raise :class:`~optimsche.config_error.ConfigError` (a ``ValueError``)
    before any training.
    """
    if steps is not None:
        try:
            require_count("--steps", steps)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if isinstance(ddp, bool) or not isinstance(ddp, int) or ddp < 0:
        raise ConfigError(
            f"--ddp must be 0 (one process, no DDP) or a number of processes >= 1, got {ddp!r}"
        )
    if isinstance(collective_timeout_s, bool) or not (
        isinstance(collective_timeout_s, int | float) and 0 < collective_timeout_s < math.inf
    ):
        raise ConfigError(
            f"collective_timeout_s must be a number of seconds > 0, got {collective_timeout_s!r}"
        )
    settings = DemoSettings() if steps is None else DemoSettings(steps=steps)
    demo_config = load_demo_config(config)
    model = build_model(settings)
    check_fits_model(demo_config, model, LOSS_NAMES)
    parameters = sum(p.numel() for p in model.parameters())
    del model
    out = default_output_folder() if out is None else Path(out)
    _prepare_out(out)
    print(describe_run(settings, demo_config, parameters, ddp), flush=True)

    start = time.perf_counter()
    threads = torch.get_num_threads()
    try:
        if ddp:
            results: list[DemoResult] = run_local_processes(
                train_demo,
                ddp,
                settings,
                demo_config,
                out,
                True,
                timeout_s=120.0 + _SECONDS_PER_STEP_LIMIT * settings.steps,
                threads=settings.threads,
                collective_timeout_s=collective_timeout_s,
            )
        else:
            results = [train_demo(0, 1, settings, demo_config, out, False)]
    finally:
        torch.set_num_threads(threads)
    lead = results[0]

    written = [path for result in results for path in result.files]
    notes: list[str] = []
    title = (
        f"optimsche demo: {settings.steps} micro-steps"
        + (f", {ddp} DDP processes" if ddp else "")
        + f" ({demo_config.source})"
    )
    png = out / CURVES_PNG
    shown = [spec.optim_loss or "loss" for spec in demo_config.optim_sches.optimizers]
    marks = {"checkpoint, reload": lead.resume.step_num}
    if write_curves(lead.history, png, title, list(dict.fromkeys(shown)), marks):
        written.insert(0, png)
    else:
        notes.append("matplotlib is not installed: no curves.png (pip install 'optimsche[plot]')")
    ranks_agree = len({result.digest for result in results}) == 1
    if ddp:
        notes.append(
            f"{ddp} ranks end with {'identical' if ranks_agree else 'DIFFERENT'} parameters; "
            "losses shown are rank 0's shard"
        )
    wall_time = time.perf_counter() - start
    print(format_summary(lead, settings, wall_time, written, notes), flush=True)
    resumed = all(result.resume.identical for result in results)
    return 0 if resumed and ranks_agree else 1
