"""Generate metric_rules.json: what the anchors' own metric schedulers did on fixed metrics.

Run once in a throwaway venv (never by the tests):

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install torch==2.13.0 transformers
    python3 -m venv /tmp/sb && /tmp/sb/bin/pip install --no-deps speechbrain && \
        /tmp/sb/bin/pip install hyperpyyaml torchaudio scipy
    SPEECHBRAIN_SITE=/tmp/sb/lib/python3.11/site-packages \
        /tmp/tf/bin/python generate_metric_rules.py metric_rules.json

The SpeechBrain site is appended to ``sys.path`` (after the venv's torch 2.13.0) and
``speechbrain.nnet.schedulers`` is imported with the packages' ``__init__`` files bypassed
(they import torchaudio, whose build does not load with torch 2.13.0; the schedulers module
needs none of it). ESPnet is not
installable here: ``EspnetWarmupPlateau`` below is a reimplementation of
``espnet2.schedulers.warmup_reducelronplateau.WarmupReduceLROnPlateau`` written from its
source (read, not copied), driven as ESPnet's trainer drives it (a batch step after every
optimizer update, a metric step after every epoch).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import sys
import types
from importlib import metadata

import torch

SITE = os.environ["SPEECHBRAIN_SITE"]
sys.path.append(SITE)
for package in ["speechbrain", "speechbrain.utils", "speechbrain.nnet"]:
    module = types.ModuleType(package)
    module.__path__ = [os.path.join(SITE, *package.split("."))]
    sys.modules[package] = module

import transformers  # noqa: E402
from speechbrain.nnet.schedulers import NewBobScheduler  # noqa: E402
from speechbrain.nnet.schedulers import ReduceLROnPlateau as SbPlateau  # noqa: E402
from transformers.optimization import GreedyLR  # noqa: E402

N = 40


def _sequences() -> dict[str, list[float]]:
    rng = random.Random(18)
    noise = [1.0 + 0.1 * rng.uniform(-1, 1) for _ in range(N)]
    return {
        "plateau": [1.0] * N,
        "falling": [2.0 * 0.97**i for i in range(N)],
        "slow_fall": [1.0 - 0.001 * i for i in range(N)],
        "rising": [0.5 + 0.05 * i for i in range(N)],
        "noise": noise,
        "drift_noise": [v - 0.01 * i for i, v in enumerate(noise)],
        "oscillating": [1.0 + 0.2 * (-1) ** i for i in range(N)],
        "negative": [-1.0 - 0.01 * rng.uniform(-1, 1) * i for i in range(N)],
        "with_zero": [0.3, 0.0, 0.0, 0.1, 0.05] * (N // 5),
        "bursts": [(0.5 if (i // 5) % 2 else 1.0) - 0.002 * i for i in range(N)],
        "fall_then_flat": [max(1.0 - 0.1 * i, 0.3) for i in range(N)],
    }


def _optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def newbob_cases(seqs: dict[str, list[float]]) -> list[dict]:
    cases = []
    grid = itertools.product([0.5, 0.25], [0.0025, 0.05, -0.01], [0, 1, 3], [1.0, 0.8])
    for i, (factor, threshold, patient, initial) in enumerate(grid):
        for name in list(seqs)[i % 3 :: 3]:
            sb = NewBobScheduler(initial, factor, threshold, patient)
            values = [sb(metric)[1] for metric in seqs[name]]
            cases.append(
                {
                    "anchor": {
                        "initial_value": initial,
                        "annealing_factor": factor,
                        "improvement_threshold": threshold,
                        "patient": patient,
                    },
                    "sequence": name,
                    "values": values,
                    "patience_left": sb.current_patient,
                }
            )
    return cases


def sb_plateau_cases(seqs: dict[str, list[float]]) -> list[dict]:
    cases = []
    grid = itertools.product([1e-8, 0.2], [0.5, 0.1], [0, 2], [0, 3, 65])
    for i, (lr_min, factor, patience, dont_halve) in enumerate(grid):
        for name in list(seqs)[i % 2 :: 2]:
            lr = 0.8
            opt = _optimizer(lr)
            sb = SbPlateau(
                lr_min=lr_min, factor=factor, patience=patience, dont_halve_until_epoch=dont_halve
            )
            lrs = []
            for epoch, metric in enumerate(seqs[name], start=1):
                _, next_lr = sb([opt], epoch, metric)
                opt.param_groups[0]["lr"] = next_lr  # as speechbrain's update_learning_rate
                lrs.append(next_lr)
            cases.append(
                {
                    "anchor": {
                        "lr": lr,
                        "lr_min": lr_min,
                        "factor": factor,
                        "patience": patience,
                        "dont_halve_until_epoch": dont_halve,
                    },
                    "sequence": name,
                    "lrs": lrs,
                }
            )
    return cases


def greedy_cases(seqs: dict[str, list[float]]) -> list[dict]:
    cases = []
    grid = list(
        itertools.product(
            ["min", "max"],
            ["abs", "rel"],
            [0, 2],
            [0, 2],
            [0, 3],
            [False, True],
            [2, 500],
        )
    )
    for i, (mode, tmode, patience, cooldown, warmup, smooth, reset) in enumerate(grid):
        base = [0.1, 0.01][i % 2]
        factor = [0.5, 0.9, 0.95][i % 3]
        threshold = [1e-6, 1e-3, 0.0][i % 3]
        min_lr = [1e-3, base * 0.25][i % 2]
        max_lr = [1.0, base * 3][(i // 2) % 2]
        eps = [0.0, 1e-8][(i // 3) % 2] if base * 0.25 > 1e-6 else 0.0
        name = list(seqs)[i % len(seqs)]
        kwargs = {
            "mode": mode,
            "factor": factor,
            "patience": patience,
            "threshold": threshold,
            "threshold_mode": tmode,
            "cooldown": cooldown,
            "warmup": warmup,
            "min_lr": min_lr,
            "max_lr": max_lr,
            "eps": eps,
            "smooth": smooth,
            "window_size": 3,
            "reset_start": reset,
        }
        opt = _optimizer(base)
        sched = GreedyLR(opt, **kwargs)
        lrs, counters = [], []
        metrics = seqs[name] if mode == "min" else [-m for m in seqs[name]]
        for metric in metrics:
            sched.step(metric)
            lrs.append(opt.param_groups[0]["lr"])
            counters.append(
                [
                    sched.num_bad_epochs,
                    sched.num_good_epochs,
                    sched.cooldown_counter,
                    sched.warmup_counter,
                    sched.reset_start,
                ]
            )
        cases.append(
            {
                "anchor": kwargs,
                "base_lr": base,
                "sequence": name,
                "mode_sign": mode,
                "lrs": lrs,
                "counters": counters,
            }
        )
    return cases


class EspnetWarmupPlateau:
    """ESPnet's WarmupReduceLROnPlateau, reimplemented from its source (module doc)."""

    def __init__(
        self,
        lr,
        warmup_steps,
        mode,
        factor,
        patience,
        threshold,
        threshold_mode,
        cooldown,
        min_lr,
        eps,
    ):
        self.lr, self.base = lr, lr
        self.warmup_steps, self.step_num = warmup_steps, 0
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.cooldown_counter, self.min_lr, self.eps = cooldown, 0, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0

    def batch_step(self):
        self.step_num += 1
        if self.step_num <= self.warmup_steps:
            self.lr = self.base * self.warmup_steps**-1 * self.step_num

    def is_better(self, a, best):
        if self.mode == "min":
            bar = (
                best * (1.0 - self.threshold)
                if self.threshold_mode == "rel"
                else best - self.threshold
            )
            return a < bar
        bar = (
            best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold
        )
        return a > bar

    def metric_step(self, metric):
        if self.is_better(metric, self.best):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > self.eps:
                self.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0


def espnet_cases(seqs: dict[str, list[float]]) -> list[dict]:
    cases = []
    grid = itertools.product([(7, 20), (5, 5), (4, 1), (10, 95)], [0, 2], [0, 2], ["min", "max"])
    for i, ((per_epoch, warmup_steps), patience, cooldown, mode) in enumerate(grid):
        base, factor, min_lr = 0.5, [0.1, 0.5][i % 2], [0.0, 0.02][(i // 2) % 2]
        name = list(seqs)[i % len(seqs)]
        metrics = seqs[name] if mode == "min" else [-m for m in seqs[name]]
        espnet = EspnetWarmupPlateau(
            base, warmup_steps, mode, factor, patience, 1e-4, "rel", cooldown, min_lr, 0.0
        )
        update_lrs = []
        for metric in metrics[:20]:
            for _ in range(per_epoch):
                update_lrs.append(espnet.lr)  # the lr of this optimizer update
                espnet.batch_step()
            espnet.metric_step(metric)
        cases.append(
            {
                "anchor": {
                    "lr": base,
                    "warmup_steps": warmup_steps,
                    "mode": mode,
                    "factor": factor,
                    "patience": patience,
                    "threshold": 1e-4,
                    "threshold_mode": "rel",
                    "cooldown": cooldown,
                    "min_lr": min_lr,
                    "eps": 0.0,
                },
                "batches_per_epoch": per_epoch,
                "sequence": name,
                "mode_sign": mode,
                "update_lrs": update_lrs,
            }
        )
    return cases


def main(path: str) -> None:
    seqs = _sequences()
    out = {
        "anchors": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "speechbrain": metadata.version("speechbrain"),
            "espnet": "reimplemented from espnet2/schedulers/warmup_reducelronplateau.py",
        },
        "sequences": seqs,
        "newbob": newbob_cases(seqs),
        "speechbrain_plateau": sb_plateau_cases(seqs),
        "greedy": greedy_cases(seqs),
        "espnet_warmup_plateau": espnet_cases(seqs),
    }
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
