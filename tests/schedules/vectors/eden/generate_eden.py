"""Generate ``eden_icefall.json``: the lr icefall's Eden and Eden2 schedulers set for each
update of a short training run, reimplemented from icefall's source (k2-fsa/icefall,
``egs/librispeech/ASR/zipformer/optim.py``, classes ``LRScheduler``, ``Eden``, ``Eden2``, and
the loop of ``zipformer/train.py``) because icefall (and its lhotse/k2 dependencies) cannot be
installed here. Written from reading that source, not copied; run once, numbers committed.

What the reimplementation keeps of icefall:

* the scheduler state is ``batch`` and ``epoch`` (both 0 at construction); ``step_batch(n)``
  sets ``batch = n``, ``step_epoch(n)`` sets ``epoch = n``, and each recomputes every param
  group's lr as ``base_lr · get_lr factor``;
* Eden's factor ``((batch² + lr_batches²)/lr_batches²)^-0.25 · ((epoch² + lr_epochs²)/
  lr_epochs²)^-0.25`` times the warmup factor ``1`` if ``batch >= warmup_batches`` else
  ``warmup_start + (1 - warmup_start)·batch/warmup_batches``; Eden2's ``((batch² +
  lr_batches²)/lr_batches²)^-0.5`` times the same warmup factor;
* train.py: ``for epoch in range(1, num_epochs + 1): scheduler.step_epoch(epoch - 1)``, then
  for each batch ``batch_idx_train += 1`` ... ``scheduler.step_batch(batch_idx_train)`` before
  ``optimizer.step()``: the lr an update uses is the one set just before it.

Each case: ``{"name", "kwargs" (of schedules.eden), "base_lr", "updates": [[update, epoch,
lr], ...]}`` with ``update`` 1-based (the shell's real step) and ``epoch`` 1-based (the
shell's ``epoch_num``, SpeeChain's).

Run: ``python tests/schedules/vectors/eden/generate_eden.py`` (plain Python, no project import).
"""

from __future__ import annotations

import json
from pathlib import Path


class _IcefallLikeScheduler:
    def __init__(self, base_lr: float, factor):  # type: ignore[no-untyped-def]
        self.base_lr = base_lr
        self.factor = factor
        self.batch = 0
        self.epoch = 0
        self.lr = base_lr

    def step_batch(self, batch: int) -> None:
        self.batch = batch
        self.lr = self.base_lr * self.factor(self.batch, self.epoch)

    def step_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.lr = self.base_lr * self.factor(self.batch, self.epoch)


def _warmup(batch: float, warmup_batches: float, warmup_start: float) -> float:
    if batch >= warmup_batches:
        return 1.0
    return warmup_start + (1.0 - warmup_start) * (batch / warmup_batches)


def eden_factor(lr_batches: float, lr_epochs: float, warmup_batches: float, warmup_start: float):  # type: ignore[no-untyped-def]
    def factor(batch: float, epoch: float) -> float:
        decay = ((batch**2 + lr_batches**2) / lr_batches**2) ** -0.25 * (
            ((epoch**2 + lr_epochs**2) / lr_epochs**2) ** -0.25
        )
        return decay * _warmup(batch, warmup_batches, warmup_start)

    return factor


def eden2_factor(lr_batches: float, warmup_batches: float, warmup_start: float):  # type: ignore[no-untyped-def]
    def factor(batch: float, epoch: float) -> float:
        decay = ((batch**2 + lr_batches**2) / lr_batches**2) ** -0.5
        return decay * _warmup(batch, warmup_batches, warmup_start)

    return factor


def run(scheduler: _IcefallLikeScheduler, epochs: int, per_epoch: int) -> list[list[float]]:
    """The lr of the updates kept: the first 20, every 10th, the first and last of each epoch."""
    updates: list[list[float]] = []
    batch_idx_train = 0
    for epoch in range(1, epochs + 1):
        scheduler.step_epoch(epoch - 1)
        for i in range(per_epoch):
            batch_idx_train += 1
            scheduler.step_batch(batch_idx_train)
            keep = batch_idx_train <= 20 or batch_idx_train % 10 == 0 or i in (0, per_epoch - 1)
            if keep:
                updates.append([batch_idx_train, epoch, scheduler.lr])  # the optimizer step's lr
    return updates


def main() -> None:
    cases = []
    for lr_batches, lr_epochs, warmup_batches, warmup_start, epochs, per_epoch, base_lr in [
        (5000.0, 3.5, 500.0, 0.5, 8, 900, 0.045),  # zipformer's defaults (base_lr 0.045)
        (100.0, 2.0, 30.0, 0.1, 6, 40, 1.0),
        (7.5, 1.0, 0.0, 0.5, 4, 10, 0.5),  # no warmup
    ]:
        factor = eden_factor(lr_batches, lr_epochs, warmup_batches, warmup_start)
        cases.append(
            {
                "name": "Eden",
                "kwargs": {
                    "lr_batches": lr_batches,
                    "lr_epochs": lr_epochs,
                    "warmup_batches": warmup_batches,
                    "warmup_start": warmup_start,
                },
                "base_lr": base_lr,
                "updates": run(_IcefallLikeScheduler(base_lr, factor), epochs, per_epoch),
            }
        )
    for lr_batches, warmup_batches, warmup_start, epochs, per_epoch, base_lr in [
        (5000.0, 500.0, 0.5, 3, 2000, 0.04),
        (50.0, 20.0, 0.25, 2, 60, 1.0),
    ]:
        factor = eden2_factor(lr_batches, warmup_batches, warmup_start)
        cases.append(
            {
                "name": "Eden2",
                "kwargs": {
                    "lr_batches": lr_batches,
                    "warmup_batches": warmup_batches,
                    "warmup_start": warmup_start,
                },
                "base_lr": base_lr,
                "updates": run(_IcefallLikeScheduler(base_lr, factor), epochs, per_epoch),
            }
        )
    out = Path(__file__).with_name("eden_icefall.json")
    out.write_text(json.dumps(cases, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({sum(len(c['updates']) for c in cases)} updates)")


if __name__ == "__main__":
    main()
