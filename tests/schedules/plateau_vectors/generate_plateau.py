"""Generate plateau.json once from torch's own ``ReduceLROnPlateau``.

Run in a throwaway environment holding only torch (never needed by the tests, which read the
JSON):  python generate_plateau.py plateau.json

Every case steps one ``ReduceLROnPlateau`` on an SGD optimizer with one parameter (lr
``base_lr``) through one metric sequence, and records after each ``step(metric)`` the lr and
the scheduler's ``num_bad_epochs`` and ``cooldown_counter``, and at the end its ``best`` and
``last_epoch``; the lrs are stored run-length encoded (``[[lr, steps], ...]``). Two sets:

* ``grid``: every mode x threshold_mode x patience (0, 2, 5) x cooldown (0, 3) x min_lr
  (0, 0.05 · base_lr), with factor, threshold and base_lr cycling through a few values, on
  every sequence, with torch's ``eps=0`` (torch's eps has no counterpart in optimsche, see
  schedules/reduce_on_plateau.py);
* ``torch_defaults``: torch's defaults (factor 0.1, threshold 1e-4, cooldown 0, min_lr 0,
  eps 1e-8) with only mode, threshold_mode and patience set, on runs whose lr stays far above
  eps; the generator checks that an eps=0 twin of each such run gives the same lrs.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import torch

LENGTH = 30


def sequences() -> dict[str, list[float]]:
    rng = random.Random(20240611)
    t = range(LENGTH)
    return {
        "plateau": [1.0] * LENGTH,
        "falling": [0.9**i for i in t],
        "rising": [1.0 + 0.1 * i for i in t],
        "improve_then_plateau": [max(1.0 - 0.2 * i, 0.4) for i in t],
        "noise": [math.exp(-0.02 * i) + rng.gauss(0.0, 0.03) for i in t],
        # steps of 5e-5: below both thresholds used (1e-4 and 1e-2), relative and absolute
        "falling_within_threshold": [1.0 - 5e-5 * i for i in t],
        "rising_within_threshold": [1.0 + 5e-5 * i for i in t],
        "oscillating": [1.0 if i % 4 < 2 else 0.5 + 0.01 * i for i in t],
        # a negative best moves the "rel" bar the other way (torch's arithmetic, kept)
        "negative_noise": [-1.0 - 0.01 * i + rng.gauss(0.0, 0.02) for i in t],
        "bursts": [1.0 / (1 + i // 7) + 0.001 * (i % 7) for i in t],
    }


def run(
    metrics: list[float], base_lr: float, **kwargs: Any
) -> tuple[list[float], list[int], list[int], float, int]:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    lrs, bad, cooldown = [], [], []
    for metric in metrics:
        scheduler.step(metric)
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        bad.append(int(scheduler.num_bad_epochs))
        cooldown.append(int(scheduler.cooldown_counter))
    return lrs, bad, cooldown, float(scheduler.best), int(scheduler.last_epoch)


def run_lengths(values: list[float]) -> list[list[float | int]]:
    """``[[value, times], ...]``: each value with the number of steps in a row it holds."""
    runs: list[list[float | int]] = []
    for value in values:
        if runs and runs[-1][0] == value:
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return runs


def case(
    rule: dict[str, Any],
    base_lr: float,
    sequence: str,
    metrics: list[float],
    torch_kwargs: dict[str, Any],
    eps: float | None,
) -> dict[str, Any]:
    lrs, bad, cooldown, best, last_epoch = run(metrics, base_lr, **torch_kwargs)
    return {
        "rule": rule,
        "base_lr": base_lr,
        "eps": eps,
        "sequence": sequence,
        "lrs": run_lengths(lrs),
        "num_bad_epochs": bad,
        "cooldown_counter": cooldown,
        "best": best,
        "last_epoch": last_epoch,
    }


def main(out: Path) -> None:
    seqs = sequences()
    factors, thresholds, base_lrs = (0.5, 0.1, 0.9), (1e-4, 1e-2), (1.0, 0.1, 3e-4)
    grid = []
    axes = itertools.product(("min", "max"), ("rel", "abs"), (0, 2, 5), (0, 3), (0.0, 0.05))
    for i, (mode, threshold_mode, patience, cooldown, min_scale) in enumerate(axes):
        factor, threshold = factors[i % 3], thresholds[(i // 3) % 2]
        base_lr = base_lrs[(i // 2) % 3]
        rule = {
            "factor": factor,
            "patience": patience,
            "threshold": threshold,
            "threshold_mode": threshold_mode,
            "mode": mode,
            "cooldown": cooldown,
            "min_scale": min_scale,
        }
        torch_kwargs = {
            "mode": mode,
            "factor": factor,
            "patience": patience,
            "threshold": threshold,
            "threshold_mode": threshold_mode,
            "cooldown": cooldown,
            "min_lr": min_scale * base_lr,
            "eps": 0.0,
        }
        for name, metrics in seqs.items():
            grid.append(case(rule, base_lr, name, metrics, torch_kwargs, 0.0))
    defaults = []
    for mode, threshold_mode, patience in itertools.product(
        ("min", "max"), ("rel", "abs"), (5, 10)
    ):
        rule = {"mode": mode, "threshold_mode": threshold_mode, "patience": patience}
        for name, metrics in seqs.items():
            made = case(rule, 0.1, name, metrics, dict(rule), None)
            twin = run_lengths(run(metrics, 0.1, **rule, eps=0.0)[0])
            if twin != made["lrs"]:
                raise SystemExit(f"eps mattered for {rule} on {name}: pick other runs")
            defaults.append(made)
    document = {
        "anchor": f"torch {torch.__version__} torch.optim.lr_scheduler.ReduceLROnPlateau",
        "sequences": seqs,
        "grid": grid,
        "torch_defaults": defaults,
    }
    out.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"{len(grid)} grid cases, {len(defaults)} default cases -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
