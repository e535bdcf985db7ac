"""Generate speechbrain.json: the lr SpeechBrain 1.1.2's own step schedulers set at each call,
for the SpeechBrain rows of docs/coming_from.md (same settings as there).

Run once (never by the tests), with speechbrain installed without its dependencies:

    python3 -m venv /tmp/sb && /tmp/sb/bin/pip install --no-deps speechbrain
    SPEECHBRAIN_SITE=/tmp/sb/lib/python3.11/site-packages \\
        /tmp/tf/bin/python generate_speechbrain.py speechbrain.json

(``/tmp/tf``: a venv with torch 2.13.0; ``speechbrain.nnet.schedulers`` is imported with the
packages' ``__init__`` files bypassed, as in metric_rule_vectors/generate_metric_rules.py.)
Each entry: the anchor's call as written in the table, and ``values[n - 1]``, the lr its
n-th call set (``StepScheduler``: the new value its call for epoch n returned).
"""

from __future__ import annotations

import json
import os
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

from speechbrain.nnet import schedulers as sb  # noqa: E402

CALLS = 40


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def _per_step(scheduler) -> list[float]:
    optimizer, values = _optimizer(), []
    for _ in range(CALLS):
        scheduler(optimizer)
        values.append(optimizer.param_groups[0]["lr"])
    return values


def main(path: str) -> None:
    rows = {
        "NoamScheduler(lr_initial=1.0, n_warmup_steps=4)": _per_step(
            sb.NoamScheduler(lr_initial=1.0, n_warmup_steps=4)
        ),
        "NoamScheduler(lr_initial=1.0, n_warmup_steps=4, model_size=256)": _per_step(
            sb.NoamScheduler(lr_initial=1.0, n_warmup_steps=4, model_size=256)
        ),
        "InverseSquareRootScheduler(warmup_steps=4)": _per_step(
            sb.InverseSquareRootScheduler(warmup_steps=4)
        ),
        "LinearWarmupScheduler(initial_value=1.0, num_warmup_steps=3, num_training_steps=10)": (
            _per_step(sb.LinearWarmupScheduler(1.0, num_warmup_steps=3, num_training_steps=10))
        ),
        "LinearNoamScheduler(lr_initial=0.8, n_warmup_steps=5, n_keep_steps=7)": _per_step(
            sb.LinearNoamScheduler(lr_initial=0.8, n_warmup_steps=5, n_keep_steps=7)
        ),
        "CyclicCosineScheduler(n_warmup_steps=5, lr_initial=0.3, total_steps=10)": _per_step(
            sb.CyclicCosineScheduler(n_warmup_steps=5, lr_initial=0.3, total_steps=10)
        ),
        "WarmAndExpDecayLRSchedule(lr=1.0, n_warmup_steps=3, total_steps=10, decay_factor=0.1)": (
            _per_step(sb.WarmAndExpDecayLRSchedule(1.0, 3, 10, decay_factor=0.1))
        ),
    }
    step = sb.StepScheduler(initial_value=1.0, decay_factor=0.5, decay_drop=2)
    rows["StepScheduler(initial_value=1.0, decay_factor=0.5, decay_drop=2)"] = [1.0] + [
        step(epoch)[1] for epoch in range(1, CALLS)
    ]
    out = {
        "anchor": {"speechbrain": metadata.version("speechbrain"), "torch": torch.__version__},
        "rows": rows,
    }
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
