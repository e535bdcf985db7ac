"""The same training work written three ways: the shell, the best hand-written loop, and the
transformers/accelerate-style loop people write today.

The work: an MLP regressed with a mean squared error, AdamW (weight decay 0.01), gradient
accumulation over :data:`ACCUM` micro-steps, the total gradient norm clipped to :data:`CLIP`,
and the lr of update ``k`` (1-based) set to ``warmup_cosine(k, peak=PEAK, warmup=WARMUP,
steps=TOTAL)``. Each loop object owns its model, optimizer and micro-step counter, and keeps
training across calls of :meth:`run`, so repeats of a benchmark continue one run.

* :class:`ShellLoop`: ``OptimScheduler(optimizer=AdamW, model=model, schedule=...,
  accum_grad=4, grad_clip=1.0)``, one ``step(loss)`` per micro-step;
  :class:`RestrictedShellLoop` the same without ``model=`` (a restricted backward).
* :class:`HandLoop`: the fastest plain loop doing the same updates: ``(loss / 4).backward()``;
  at a window's end write the lr into the param groups, ``clip_grad_norm_``, ``step``,
  ``zero_grad(set_to_none=True)``. No finiteness check (the shell has one: that host sync is
  part of the overhead measured).
* :class:`HFStyleLoop`: ``LambdaLR`` (multiplier of the base lr, stepped after each update),
  a disabled ``GradScaler`` (the CPU/fp32 path of a mixed-precision-ready loop),
  ``scaler.scale(loss / accum).backward()``, ``unscale_``, ``clip_grad_norm_``,
  ``scaler.step``, ``scaler.update``, ``scheduler.step``, ``zero_grad``.

All three give the same parameters (checked by :func:`check_same_parameters`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs
import torch
from torch import Tensor, nn
from torch.nn import functional
from torch.optim.lr_scheduler import LambdaLR

import schedules
from optimsche import OptimScheduler

ACCUM = 4
CLIP = 1.0
PEAK = 1e-3
WARMUP = 20
TOTAL = 2000
WEIGHT_DECAY = 0.01
BATCHES = 8
"""Distinct micro-batches per model size, cycled."""


@attrs.frozen
class ModelSize:
    """An MLP ``d_in -> hidden -> d_out`` (tanh) trained on batches of ``batch`` rows."""

    name: str
    d_in: int
    hidden: int
    d_out: int
    batch: int

    @property
    def parameters(self) -> int:
        """Number of parameters of the MLP."""
        return self.d_in * self.hidden + self.hidden + self.hidden * self.d_out + self.d_out


TINY = ModelSize("tiny MLP 16-32-1", 16, 32, 1, 8)
MEDIUM = ModelSize("medium MLP 256-512-256", 256, 512, 256, 32)
LARGE = ModelSize("large MLP 512-2048-512", 512, 2048, 512, 64)
SIZES = (TINY, MEDIUM, LARGE)
"""From overhead-dominated (tiny) to compute-dominated (large)."""


def schedule() -> Callable[[int], float]:
    """The lr schedule of update ``k``: ``warmup_cosine(k, PEAK, WARMUP, TOTAL)``."""
    return functools.partial(schedules.warmup_cosine, peak=PEAK, warmup=WARMUP, steps=TOTAL)


def make_model(size: ModelSize, seed: int = 0) -> nn.Sequential:
    """The MLP of ``size`` with weights drawn from ``seed`` (same seed, same weights)."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(size.d_in, size.hidden), nn.Tanh(), nn.Linear(size.hidden, size.d_out)
    )
    torch.random.set_rng_state(generator_state)
    return model


def make_batches(
    size: ModelSize, count: int = BATCHES, seed: int = 1
) -> list[tuple[Tensor, Tensor]]:
    """``count`` regression batches ``(x, y)`` for ``size``, drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(size.batch, size.d_in, generator=generator),
            torch.randn(size.batch, size.d_out, generator=generator),
        )
        for _ in range(count)
    ]


def _adamw(model: nn.Module, lr: float) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)


class TrainingLoop(Protocol):
    """A training run that can be continued window by window."""

    @property
    def model(self) -> nn.Module:
        """The model being trained."""

    def run(self, windows: int) -> None:
        """Run ``windows`` more accumulation windows (``windows · ACCUM`` micro-steps)."""


class ShellLoop:
    """The work driven by :class:`optimsche.OptimScheduler`, built with ``model=`` (the shell
    owns the whole model, so its backward is a plain one, as the hand-written loop's)."""

    restricted = False
    """Whether the shell is built with ``optimizer=`` alone: its backward is then restricted
    to the optimizer's parameters (``inputs=``), since what the loss reaches is unknown."""

    def __init__(self, size: ModelSize, batches: Sequence[tuple[Tensor, Tensor]]) -> None:
        self.model = make_model(size)
        self.batches = list(batches)
        self.sche = OptimScheduler(
            optimizer=_adamw(self.model, PEAK),
            model=None if self.restricted else self.model,
            schedule=schedule(),
            accum_grad=ACCUM,
            grad_clip=CLIP,
        )
        self.micro = 0

    def run(self, windows: int) -> None:
        """Run ``windows`` windows: one ``sche.step(loss)`` per micro-step."""
        model, sche, batches = self.model, self.sche, self.batches
        for _ in range(windows * ACCUM):
            x, y = batches[self.micro % len(batches)]
            self.micro += 1
            sche.step(functional.mse_loss(model(x), y))


class RestrictedShellLoop(ShellLoop):
    """:class:`ShellLoop` built with ``optimizer=`` alone (no ``model=``): the same updates,
    each backward restricted to the optimizer's parameters."""

    restricted = True


class HandLoop:
    """The best hand-written loop doing the same updates as :class:`ShellLoop`."""

    def __init__(self, size: ModelSize, batches: Sequence[tuple[Tensor, Tensor]]) -> None:
        self.model = make_model(size)
        self.batches = list(batches)
        self.optimizer = _adamw(self.model, PEAK)
        self.params = list(self.model.parameters())
        self.schedule = schedule()
        self.micro = 0

    def run(self, windows: int) -> None:
        """Run ``windows`` windows of the plain loop."""
        model, optimizer, params, batches = self.model, self.optimizer, self.params, self.batches
        for _ in range(windows * ACCUM):
            x, y = batches[self.micro % len(batches)]
            self.micro += 1
            (functional.mse_loss(model(x), y) / ACCUM).backward()  # type: ignore[no-untyped-call]
            if self.micro % ACCUM == 0:
                lr = self.schedule(self.micro // ACCUM)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                torch.nn.utils.clip_grad_norm_(params, CLIP)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)


class HFStyleLoop:
    """The transformers/accelerate-style loop: LambdaLR + GradScaler + manual accumulation.

    ``LambdaLR`` multiplies the base lr (``PEAK``) by a factor of its 0-based epoch counter,
    as ``get_cosine_schedule_with_warmup`` does; the factor here is ``warmup_cosine(e + 1,
    peak=1)`` so that update ``k`` gets the same lr as the other loops.
    """

    def __init__(self, size: ModelSize, batches: Sequence[tuple[Tensor, Tensor]]) -> None:
        self.model = make_model(size)
        self.batches = list(batches)
        self.optimizer = _adamw(self.model, PEAK)
        self.scheduler = LambdaLR(
            self.optimizer,
            lambda epoch: schedules.warmup_cosine(epoch + 1, peak=1.0, warmup=WARMUP, steps=TOTAL),
        )
        self.scaler = torch.amp.GradScaler("cpu", enabled=False)
        self.micro = 0

    def run(self, windows: int) -> None:
        """Run ``windows`` windows of the loop as written with transformers/accelerate."""
        model, optimizer, scaler, batches = self.model, self.optimizer, self.scaler, self.batches
        for _ in range(windows * ACCUM):
            x, y = batches[self.micro % len(batches)]
            self.micro += 1
            loss = functional.mse_loss(model(x), y)
            scaler.scale(loss / ACCUM).backward()  # type: ignore[no-untyped-call]
            if self.micro % ACCUM == 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
                scaler.step(optimizer)
                scaler.update()
                self.scheduler.step()
                optimizer.zero_grad()


LOOPS: dict[str, Callable[[ModelSize, Sequence[tuple[Tensor, Tensor]]], TrainingLoop]] = {
    "shell": ShellLoop,
    "shell, optimizer= only": RestrictedShellLoop,
    "hand": HandLoop,
    "hf-style": HFStyleLoop,
}
"""The loops by name (the memory benchmark's child processes pick one by name)."""


def max_abs_difference(a: nn.Module, b: nn.Module) -> float:
    """The largest absolute difference between the parameters of two models."""
    return max(
        float((p.detach() - q.detach()).abs().max())
        for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


def check_same_parameters(size: ModelSize, windows: int) -> dict[str, float]:
    """Run every loop ``windows`` windows from the same start; return each loop's largest
    parameter difference from :class:`HandLoop` (0.0 means bit for bit).

    Raises ``AssertionError`` when the shell is not bit-identical to the hand-written loop or
    the transformers-style loop differs by more than ``1e-6`` relative (its lr is a product
    ``base_lr · factor``, which may round differently): the loops would not do the same work.
    """
    batches = make_batches(size)
    loops = {name: make(size, batches) for name, make in LOOPS.items()}
    for loop in loops.values():
        loop.run(windows)
    reference = loops["hand"].model
    differences = {name: max_abs_difference(loop.model, reference) for name, loop in loops.items()}
    for name in ("shell", "shell, optimizer= only"):
        shell_params = list(loops[name].model.parameters())
        if not all(
            torch.equal(p, q) for p, q in zip(shell_params, reference.parameters(), strict=True)
        ):
            raise AssertionError(
                f"{size.name}: the parameters of {name!r} differ from the hand-written loop's "
                f"after {windows} windows (max |Δ| = {differences[name]:.3g}): not the same work"
            )
    for p, q in zip(loops["hf-style"].model.parameters(), reference.parameters(), strict=True):
        if not torch.allclose(p, q, rtol=1e-6, atol=1e-9):
            raise AssertionError(
                f"{size.name}: the transformers-style loop's parameters differ from the "
                f"hand-written loop's (max |Δ| = {differences['hf-style']:.3g})"
            )
    return differences


def windows_per_round(size: ModelSize, target_s: float) -> int:
    """How many windows one round of a loop should run to last about ``target_s`` of CPU
    time (measured on the hand-written loop, after its first-call costs)."""
    loop = HandLoop(size, make_batches(size))
    loop.run(1)
    start = time.process_time()
    loop.run(2)
    per_window = (time.process_time() - start) / 2
    return max(1, round(target_s / per_window))
