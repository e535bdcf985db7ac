"""Benchmark: host-device syncs per update, with a fused optimizer, fp32 and fp16.

Every loop trains the tiny MLP of :mod:`benchmarks.training_loops` with
``AdamW(fused=True)``, accumulation over ``ACCUM`` micro-steps and the norm clipped to
``CLIP``; one window holds a NaN loss. The host reads are counted with
:func:`optimsche.testing.host_syncs.counting_host_syncs` (Python-level ``item``/``tolist``/
``bool``/``float``... and the reads only the dispatcher sees) over ``WINDOWS`` windows after
a first one (the first update creates the optimizer's state). The loops:

* ours, the shell: ``OptimScheduler(optimizer=fused AdamW, accum_grad, grad_clip, use_amp)``;
* ours, the device-side skip (:func:`optimsche.update.device_skip.update_on_device`) in a
  hand-built loop (what the shell's update runs once wired to it);
* hand loop: ``clip_grad_norm_``, ``step`` (fp16: ``scaler.step``), no finiteness check;
* hand loop with a skip check: ``if torch.isfinite(norm): step``;
* an HF-Trainer-style loop: Trainer's defaults, ``logging_nan_inf_filter``
  (``torch.isnan(loss) or torch.isinf(loss)`` on each micro-step), ``clip_grad_norm_``, and
  the logged ``grad_norm.item()`` and loss ``.item()`` (logging at every update here).

Goal: 0 syncs per update with the fused optimizer. The third column says whether the NaN
window left the parameters finite (skipped) or not.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.bench_config import BenchConfig
from benchmarks.results import Row, Section
from benchmarks.training_loops import (
    ACCUM,
    CLIP,
    PEAK,
    TINY,
    WEIGHT_DECAY,
    make_batches,
    make_model,
)
from optimsche import OptimScheduler
from optimsche.testing.host_syncs import counting_host_syncs
from optimsche.update.device_skip import update_on_device

NAME = "host_syncs_per_update"
WINDOWS = 6
"""Windows counted (after a first one); :data:`NAN_WINDOW` among them holds a NaN loss."""
NAN_WINDOW = 3

Step = Callable[[Tensor, bool], None]
"""One micro-step of a loop: its batch's loss (forward done) and whether it ends a window."""


def _fused_adamw(model: nn.Module) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=PEAK, weight_decay=WEIGHT_DECAY, fused=True)


def _scaler(fp16: bool) -> torch.amp.GradScaler | None:
    return torch.amp.GradScaler("cpu", init_scale=2.0**10) if fp16 else None


def shell_loop(model: nn.Module, fp16: bool) -> Step:
    sche = OptimScheduler(
        optimizer=_fused_adamw(model), accum_grad=ACCUM, grad_clip=CLIP, use_amp=fp16 and "fp16"
    )

    def step(loss: Tensor, ends_window: bool) -> None:
        sche.step(loss)

    return step


def device_skip_loop(model: nn.Module, fp16: bool) -> Step:
    optimizer, scaler = _fused_adamw(model), _scaler(fp16)
    window: list[Tensor] = []

    def step(loss: Tensor, ends_window: bool) -> None:
        window.append(loss.detach())
        scaled = loss / ACCUM
        (scaled if scaler is None else scaler.scale(scaled)).backward()  # type: ignore[no-untyped-call]
        if ends_window:
            loss_sum = torch.stack(window).sum()
            update_on_device(optimizer, loss_sum=loss_sum, scaler=scaler, grad_clip=CLIP)
            optimizer.zero_grad(set_to_none=True)
            window.clear()

    return step


def hand_loop(model: nn.Module, fp16: bool, check: bool) -> Step:
    optimizer, scaler = _fused_adamw(model), _scaler(fp16)

    def step(loss: Tensor, ends_window: bool) -> None:
        scaled = loss / ACCUM
        (scaled if scaler is None else scaler.scale(scaled)).backward()  # type: ignore[no-untyped-call]
        if ends_window:
            if scaler is not None:
                scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            if not check or torch.isfinite(norm):
                if scaler is None:
                    optimizer.step()
                else:
                    scaler.step(optimizer)
            if scaler is not None:
                scaler.update()
            optimizer.zero_grad(set_to_none=True)

    return step


def hf_style_loop(model: nn.Module, fp16: bool) -> Step:
    optimizer, scaler = _fused_adamw(model), _scaler(fp16)
    logged: list[float] = []
    tr_loss = torch.zeros(())

    def step(loss: Tensor, ends_window: bool) -> None:
        nonlocal tr_loss
        scaled = loss / ACCUM
        (scaled if scaler is None else scaler.scale(scaled)).backward()  # type: ignore[no-untyped-call]
        step_loss = loss.detach()
        if torch.isnan(step_loss) or torch.isinf(step_loss):  # logging_nan_inf_filter
            tr_loss = tr_loss + tr_loss / 2
        else:
            tr_loss = tr_loss + step_loss
        if ends_window:
            if scaler is not None:
                scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
            optimizer.zero_grad(set_to_none=True)
            logged.append(grad_norm.item())  # logs["grad_norm"]
            logged.append(tr_loss.item() / ACCUM)  # logs["loss"]
            tr_loss = torch.zeros(())

    return step


LOOPS: dict[str, tuple[str, Callable[[nn.Module, bool], Step], bool]] = {
    "shell": ("ours: the shell (OptimScheduler)", shell_loop, True),
    "device": ("ours: update_on_device in a hand-built loop", device_skip_loop, True),
    "hand": (
        "hand loop: clip_grad_norm_ + step, no finiteness check",
        lambda m, fp16: hand_loop(m, fp16, check=False),
        False,
    ),
    "hand-check": (
        "hand loop with a skip check: if isfinite(norm): step",
        lambda m, fp16: hand_loop(m, fp16, check=True),
        False,
    ),
    "hf-style": (
        "HF-Trainer-style: nan/inf loss filter, grad_norm.item(), loss.item() logged",
        hf_style_loop,
        False,
    ),
}
"""name -> (what it is, its maker, whether the 0-sync goal applies to it)."""


def count_reads(make: Callable[[nn.Module, bool], Step], fp16: bool) -> tuple[Counter[str], bool]:
    """The host reads of ``WINDOWS`` windows (after a first, uncounted one), by kind, and
    whether the parameters are finite at the end (the NaN window skipped)."""
    model = make_model(TINY)
    batches = make_batches(TINY, count=ACCUM)
    step = make(model, fp16)

    def window(index: int) -> None:
        for micro, (x, y) in enumerate(batches, start=1):
            with torch.autocast("cpu", dtype=torch.float16, enabled=fp16):
                loss = functional.mse_loss(model(x).float(), y)
            if index == NAN_WINDOW and micro == 2:
                loss = loss * math.nan
            step(loss, micro == ACCUM)

    window(0)
    with counting_host_syncs() as syncs:
        for index in range(1, WINDOWS + 1):
            window(index)
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return Counter(syncs.reads), finite


def run(config: BenchConfig) -> Section:
    """Count each loop's reads in fp32 and fp16 (module doc)."""
    rows = []
    for fp16 in (False, True):
        precision = "fp16 (GradScaler)" if fp16 else "fp32"
        for description, make, has_goal in LOOPS.values():
            reads, finite = count_reads(make, fp16)
            per_update = sum(reads.values()) / WINDOWS
            kinds = ", ".join(f"{kind} ×{n / WINDOWS:.3g}" for kind, n in sorted(reads.items()))
            rows.append(
                Row(
                    f"{precision}: {description}",
                    f"{per_update:.3g}",
                    kinds or "none",
                    "yes" if finite else "no (parameters NaN)",
                    "0 per update" if has_goal else "",
                    per_update == 0 if has_goal else None,
                )
            )
    return Section(
        NAME,
        "9. Host syncs per update (fused AdamW)",
        f"Host-device syncs per update (a window of {ACCUM} micro-steps) with "
        f"AdamW(fused=True), counted by optimsche.testing.host_syncs over {WINDOWS} windows "
        f"after the first, one of them with a NaN loss.",
        tuple(rows),
        columns=("host syncs per update", "reads per update, by kind", "NaN window skipped"),
        notes=(
            f"Tiny MLP, accum_grad {ACCUM}, clip {CLIP}; the first window (not counted) "
            f"creates the optimizer's state, which the device-side skip decides on the host. "
            f"Counts are exact (no timing): the same on any machine. The HF-style loop logs "
            f"at every update (Trainer's logging_steps=1); its per-micro-step filter reads "
            f"twice per finite loss, once per NaN one. The fp16 hand loop skips the NaN window "
            f"without a read: GradScaler.step hands found_inf to a fused optimizer. The shell "
            f"takes the device path by itself with a fused optimizer stepped as it is "
            f"(optimsche.update.device_skip; a logger given to step() or num_items read once).",
        ),
    )
