"""The text a demo run prints: what it will do (before) and what it achieved (after)."""

from __future__ import annotations

from pathlib import Path

from optimsche.demo.config import DemoConfig
from optimsche.demo.plural import plural
from optimsche.demo.training import DemoResult, DemoSettings

__all__ = ["describe_run", "format_summary"]

_TIMING_ORDER = ("training", "of which resume check", "evaluation")


def _percent(value: float) -> str:
    """``value`` in ``[0, 1]`` as a percentage, with more digits for tiny values."""
    percent = 100.0 * value
    return f"{percent:.1f} %" if percent >= 0.1 or percent == 0 else f"{percent:.2g} %"


def describe_run(settings: DemoSettings, config: DemoConfig, parameters: int, ddp: int) -> str:
    """The lines printed before training: task, model, configuration, run size."""
    task, size = settings.task, settings.size
    optimizers = []
    for spec in config.optim_sches.optimizers:
        modules = ", ".join(spec.updated_modules) if spec.updated_modules else "whole model"
        every = f", every {spec.step_per_update} windows" if spec.step_per_update > 1 else ""
        optimizers.append(
            f"  {spec.name}: {spec.type_name} {spec.optim_type} on {spec.optim_loss or 'loss'} "
            f"-> {modules}{every}"
        )
    experiment = config.experiment
    processes = f"{ddp} gloo processes (DDP, one data shard each)" if ddp else "1 process"
    return "\n".join(
        [
            f"optimsche demo: reverse sequences of {task.min_len}..{task.max_len} tokens "
            f"({task.num_symbols} symbols) with an encoder-decoder Transformer "
            f"(d_model {size.d_model}, {size.encoder_layers}+{size.decoder_layers} layers, "
            f"{parameters:,} parameters)",
            f"config: {config.source}",
            *optimizers,
            f"run: {settings.steps} micro-steps of {settings.batch_size} sequences, "
            f"accum_grad {experiment.accum_grad}, grad_clip {experiment.grad_clip}, "
            f"token-exact num_items, {processes}, seed {settings.seed}",
        ]
    )


def format_summary(
    result: DemoResult,
    settings: DemoSettings,
    wall_time: float,
    written: list[Path],
    notes: list[str],
) -> str:
    """The summary printed after training: held-out accuracy against chance, updates and
    skips per optimizer, final lrs, times, files written, and any ``notes``."""
    lines = ["summary"]
    evaluation = result.evaluation
    if evaluation is not None:
        lines += [
            f"  held-out accuracy ({evaluation.sequences} sequences never seen in training):",
            f"    decoder, greedy decoding:  token {_percent(evaluation.decoder.token):>7}   "
            f"exact match {_percent(evaluation.decoder.sequence):>7}",
            f"    encoder, auxiliary head:   token {_percent(evaluation.encoder.token):>7}   "
            f"exact match {_percent(evaluation.encoder.sequence):>7}",
            f"    chance (uniform guess):    token {_percent(evaluation.chance.token):>7}   "
            f"exact match {_percent(evaluation.chance.sequence):>7}",
        ]
    history = result.history
    for name in history.updates:
        reasons = sorted(set(history.skip_reasons.get(name, [])))
        why = f" ({', '.join(reasons)})" if reasons else ""
        points = history.lrs.get(name)
        last_lr = f"final lr {points[-1][1]:.3e}" if points else "no update yet"
        lines.append(
            f"  {name}: {plural(history.updates[name], 'update')}, {history.skips[name]} "
            f"skipped{why}, {last_lr}"
        )
    for name in ("encoder_loss", "decoder_loss"):
        values = history.losses.get(name)
        if values:
            tail = values[-max(1, len(values) // 20) :]
            lines.append(
                f"  {name} per token: {values[0]:.3f} at the start, "
                f"{sum(tail) / len(tail):.4f} over the last {len(tail)} micro-steps"
            )
    resume = result.resume
    lines.append(
        f"  resume check: {'identical' if resume.identical else 'DIFFERENT'} "
        f"(checkpoint at micro-step {resume.step_num}, "
        f"{plural(resume.compared_steps, 'micro-step')} compared)"
    )
    timings = result.timings
    parts = [f"{name} {timings[name]:.1f} s" for name in _TIMING_ORDER if name in timings]
    lines.append(f"  wall time {wall_time:.1f} s ({', '.join(parts)})")
    if written:
        lines.append("  wrote " + ", ".join(str(path) for path in written))
    lines += [f"  note: {note}" for note in notes]
    return "\n".join(lines)
