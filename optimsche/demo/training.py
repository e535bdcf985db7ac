"""The demo's training run: train, checkpoint half-way, resume from the file, check, finish.

One call of :func:`train_demo` is one process of the run (rank ``rank`` of ``world_size``;
``distributed=False`` for a plain single-process run). Micro-steps are numbered from 1:

1. steps ``1 .. half`` on the first model and group, where ``half = steps // 2 + 1`` (for
   ``steps >= 3``; else ``steps // 2``): with an even ``steps`` and ``accum_grad = 2`` it falls
   inside an accumulation window, so the checkpoint must carry the partial gradients too;
2. the checkpoint of step ``half`` is written (``checkpoint-half.pt``; under DDP each rank
   writes its own, see :func:`rank_file_name`);
3. the *live* objects go on for ``resume_check_steps`` micro-steps and their parameters are
   kept; then a fresh model (initialised from another seed) and a fresh group are built, the
   checkpoint is loaded into them (``torch.load(weights_only=True)``) and they run the same
   micro-steps: the parameters must be bit-identical (:class:`ResumeCheck`);
4. the reloaded objects finish the run, the final checkpoint is written and rank 0 scores the
   model on held-out data.

The data of micro-step ``n`` on rank ``r`` is ``task.train_batch(batch_size, n, r)``, so both
paths of step 3 see the same batches, and each rank of a data-parallel run its own shard.
"""

from __future__ import annotations

import ctypes
import hashlib
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import attrs
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from optimsche.config.building import build_optim_sches
from optimsche.demo.checkpoint import load_checkpoint, save_checkpoint
from optimsche.demo.config import DemoConfig, check_fits_model
from optimsche.demo.evaluation import Evaluation, evaluate
from optimsche.demo.history import History
from optimsche.demo.int_field import int_at_least
from optimsche.demo.model import LOSS_NAMES, ModelSize, ReversalTransformer
from optimsche.demo.plural import plural
from optimsche.demo.progress import ProgressBar
from optimsche.demo.task import ReversalTask
from optimsche.group import OptimSchedulerGroup
from optimsche.parallel.distributed import unwrap
from schedules import real_step

__all__ = [
    "FINAL_CHECKPOINT",
    "HALF_CHECKPOINT",
    "DemoResult",
    "DemoSettings",
    "ResumeCheck",
    "build_model",
    "checkpoint_step",
    "rank_file_name",
    "train_demo",
]

HALF_CHECKPOINT = "checkpoint-half.pt"
"""File name of the half-way checkpoint in the output folder."""

FINAL_CHECKPOINT = "checkpoint-final.pt"
"""File name of the checkpoint written at the end of the run."""


@attrs.frozen
class DemoSettings:
    """The sizes of a demo run: micro-steps, sequences per micro-batch, held-out sequences,
    seed, micro-steps compared by the resume check, torch threads, task and model."""

    steps: int = attrs.field(default=1000, validator=int_at_least(1))
    batch_size: int = attrs.field(default=32, validator=int_at_least(1))
    held_out: int = attrs.field(default=500, validator=int_at_least(1))
    seed: int = 0
    resume_check_steps: int = attrs.field(default=16, validator=int_at_least(1))
    threads: int = attrs.field(default=1, validator=int_at_least(1))
    task: ReversalTask = attrs.field(factory=ReversalTask)
    size: ModelSize = attrs.field(factory=ModelSize)


@attrs.frozen
class ResumeCheck:
    """Outcome of the resume check: the checkpoint's micro-step, the micro-steps run by both
    the live and the reloaded objects, the parameters compared, those that differ, and the
    optimizer updates inside the compared micro-steps."""

    step_num: int
    compared_steps: int
    parameters: int
    differing: tuple[str, ...]
    updates: int

    @property
    def identical(self) -> bool:
        """True iff every parameter was bit-identical."""
        return not self.differing


@attrs.frozen
class DemoResult:
    """What one process of the run returns (picklable): its curves and counters, the resume
    check, the held-out scores (rank 0 only), timings in seconds, the parameter count, a
    SHA-256 digest of the final parameters (equal on every rank of a DDP run), the files it
    wrote, and the world size."""

    history: History
    resume: ResumeCheck
    evaluation: Evaluation | None
    timings: dict[str, float]
    parameters: int
    digest: str
    files: tuple[Path, ...]
    world_size: int


def rank_file_name(name: str, rank: int) -> str:
    """``name`` for rank 0 (and single-process runs); ``stem.rank<r>.suffix`` for rank ``r``.

    Every rank of a DDP run writes and reloads its *own* half-way checkpoint: inside an
    accumulation window each rank's partial gradients are its own (not yet all-reduced), so
    one rank's file would give the other ranks the wrong window sum.
    """
    if rank == 0:
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}.rank{rank}{dot}{suffix}"


def checkpoint_step(steps: int) -> int:
    """The micro-step of the half-way checkpoint: ``steps // 2 + 1`` for ``steps >= 3``, else
    ``steps // 2`` (always ``< steps``, so at least one micro-step follows it)."""
    return steps // 2 + 1 if steps >= 3 else steps // 2


def build_model(settings: DemoSettings) -> ReversalTransformer:
    """The demo model for ``settings.task``, initialised from ``torch.manual_seed(seed)``."""
    torch.manual_seed(settings.seed)
    return ReversalTransformer(settings.task.vocab_size, settings.task.width, settings.size)


def _build(
    settings: DemoSettings, config: DemoConfig, distributed: bool, seed_offset: int = 0
) -> tuple[nn.Module, OptimSchedulerGroup]:
    """A model (wrapped in DDP when ``distributed``) and its group built from ``config``."""
    model: nn.Module = build_model(attrs.evolve(settings, seed=settings.seed + seed_offset))
    check_fits_model(config, model, LOSS_NAMES)
    if distributed:
        model = DistributedDataParallel(model)
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    return model, group


def _train(
    model: nn.Module,
    group: OptimSchedulerGroup,
    settings: DemoSettings,
    steps: Iterable[int],
    rank: int,
    history: History,
    bar: ProgressBar | None,
) -> None:
    """Run ``steps`` micro-steps: forward (under the group's autocast), ``group.step`` with the
    micro-batch's token count as ``num_items``, record, redraw the bar.

    Under DDP nothing more is needed: the group arms each forward's gradient sync itself
    (:mod:`optimsche.parallel.ddp_sync_rule`), also in the windows the encoder's optimizer sits out
    (``step_per_update: 2``), where it runs the forward unsynced and the decoder's optimizer
    all-reduces its own gradients."""
    autocast = next(iter(group.values())).autocast
    shown = tuple(dict.fromkeys(_optimized_losses(group)))
    for step_num in steps:
        batch = settings.task.train_batch(settings.batch_size, step_num, rank)
        with autocast():
            losses = model(batch)
        reports = group.step(losses, step_num=step_num, num_items=batch.num_items)
        history.record(step_num, losses, batch.num_items, reports)
        if bar is not None:
            bar.update(step_num, history.latest(shown))


def _optimized_losses(group: OptimSchedulerGroup) -> list[str]:
    """The loss each optimizer of ``group`` trains on, in group order."""
    return [member.optim_loss or "loss" for member in group.values()]


def _parameters(model: nn.Module) -> dict[str, Tensor]:
    """Detached copies of the (unwrapped) model's parameters, by name."""
    return {name: p.detach().clone() for name, p in unwrap(model).named_parameters()}


def _digest(model: nn.Module) -> str:
    """SHA-256 of the model's parameter bytes, in ``named_parameters`` order (read from CPU
    memory directly: torch does not require numpy)."""
    sha = hashlib.sha256()
    for _, p in unwrap(model).named_parameters():
        flat = p.detach().to("cpu").contiguous()
        sha.update(ctypes.string_at(flat.data_ptr(), flat.nbytes))
    return sha.hexdigest()


def _barrier(distributed: bool) -> None:
    """Wait for every rank (a no-op outside a process group)."""
    if distributed:
        dist.barrier()


def train_demo(
    rank: int,
    world_size: int,
    settings: DemoSettings,
    config: DemoConfig,
    out: Path,
    distributed: bool,
) -> DemoResult:
    """One process of the demo run (module docstring); rank 0 draws the progress bar on stderr,
    prints the checkpoint and resume-check lines on stdout, writes the files and evaluates."""
    torch.set_num_threads(settings.threads)
    lead = rank == 0
    timings: dict[str, float] = {}
    start = time.perf_counter()
    history = History()
    half = checkpoint_step(settings.steps)
    check_end = min(settings.steps, half + settings.resume_check_steps)

    model, group = _build(settings, config, distributed)
    bar = ProgressBar(settings.steps, stream=sys.stderr) if lead else None
    _train(model, group, settings, range(1, half + 1), rank, history, bar)
    half_path = out / rank_file_name(HALF_CHECKPOINT, rank)
    save_checkpoint(half_path, model, group, half)

    check_start = time.perf_counter()
    live_history = History()
    _train(model, group, settings, range(half + 1, check_end + 1), rank, live_history, None)
    live = _parameters(model)
    del model, group
    model, group = _build(settings, config, distributed, seed_offset=1)
    loaded_step = load_checkpoint(half_path, model, group)
    timings["of which resume check"] = time.perf_counter() - check_start
    _train(model, group, settings, range(loaded_step + 1, check_end + 1), rank, history, bar)
    reloaded = _parameters(model)
    resume = ResumeCheck(
        step_num=loaded_step,
        compared_steps=check_end - loaded_step,
        parameters=sum(p.numel() for p in reloaded.values()),
        differing=tuple(name for name, p in reloaded.items() if not torch.equal(p, live[name])),
        updates=sum(live_history.updates.values()),
    )
    if lead:
        bar_break = "\n" if bar is not None and bar.interactive else ""
        verdict = "identical" if resume.identical else f"DIFFERENT ({', '.join(resume.differing)})"
        accum_grad = config.experiment.accum_grad
        inside = (
            f", inside window {real_step(loaded_step, accum_grad)} (its partial gradients are "
            "saved too)"
            if loaded_step % accum_grad
            else ""
        )
        others = f" (and one per other rank: {world_size} files)" if world_size > 1 else ""
        print(
            f"{bar_break}checkpoint at micro-step {loaded_step}{inside} -> {half_path}{others}\n"
            f"reloaded into a fresh model and group: resume check: {verdict} "
            f"({resume.parameters:,} parameters after {plural(resume.compared_steps, 'micro-step')}"
            f" and {plural(resume.updates, 'update')}, live vs reloaded)",
            flush=True,
        )

    _train(model, group, settings, range(check_end + 1, settings.steps + 1), rank, history, bar)
    if bar is not None:
        bar.close()
    timings["training"] = time.perf_counter() - start
    files: list[Path] = [half_path]
    evaluation: Evaluation | None = None
    if lead:
        final_path = out / FINAL_CHECKPOINT
        save_checkpoint(final_path, model, group, settings.steps)
        files.append(final_path)
        eval_start = time.perf_counter()
        evaluation = evaluate(
            _plain(model), settings.task, settings.task.held_out_batch(settings.held_out)
        )
        timings["evaluation"] = time.perf_counter() - eval_start
    _barrier(distributed)
    return DemoResult(
        history=history,
        resume=resume,
        evaluation=evaluation,
        timings=timings,
        parameters=resume.parameters,
        digest=_digest(model),
        files=tuple(files),
        world_size=world_size,
    )


def _plain(model: nn.Module) -> ReversalTransformer:
    """The demo model inside a possible DDP wrapper."""
    inner = unwrap(model)
    if not isinstance(inner, ReversalTransformer):  # pragma: no cover - built by _build
        raise TypeError(f"expected the demo model, got {type(inner).__name__}")
    return inner
