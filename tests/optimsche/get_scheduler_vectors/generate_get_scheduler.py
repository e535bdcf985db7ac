"""Generate get_scheduler.json: the lr of every param group after construction and after every
``step()`` of transformers' own ``get_scheduler`` for every name of its ``SchedulerType``.

Run once in a throwaway venv (never by the tests):

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install torch==2.13.0 transformers
    /tmp/tf/bin/python generate_get_scheduler.py get_scheduler.json

Each case: ``name``, ``num_warmup_steps``, ``num_training_steps``, ``kwargs``
(scheduler_specific_kwargs), ``group_lrs`` (an SGD over one parameter per group, built with
``lr=defaults_lr``), ``metrics`` (for the metric-stepped names, one per step), ``steps`` and
``lrs`` (``lrs[k]``: every group's lr after ``k`` steps). ``errors``: calls that transformers
refuses, with the exception type.
"""

from __future__ import annotations

import json
import math
import sys
import warnings

import torch
import transformers
from transformers import get_scheduler
from transformers.trainer_utils import SchedulerType

GROUPS = [1e-3, 3e-4, 2e-3]
DEFAULT_LR = 1e-3
METRICS = [
    1.0,
    0.9,
    0.9,
    0.95,
    0.8,
    0.8,
    0.8,
    0.8,
    0.7,
    0.75,
    0.75,
    0.75,
    0.75,
    0.5,
    0.4,
    0.3,
    0.2,
    0.2,
    0.2,
    0.2,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.1,
    0.09,
    0.08,
    0.08,
    0.08,
]


def _optimizer(group_lrs: list[float]) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in group_lrs]
    return torch.optim.SGD(groups, lr=DEFAULT_LR)


CASES: list[tuple[str, int | None, int | None, dict]] = [
    ("constant", None, None, {}),
    ("constant", 5, 20, {}),
    ("constant_with_warmup", 0, None, {}),
    ("constant_with_warmup", 4, None, {}),
    ("constant_with_warmup", 1, 10, {}),
    ("linear", 0, 10, {}),
    ("linear", 3, 10, {}),
    ("linear", 5, 24, {}),
    ("linear", 10, 10, {}),
    ("cosine", 0, 12, {}),
    ("cosine", 4, 20, {}),
    ("cosine", 3, 15, {"num_cycles": 1.5}),
    ("cosine", 2, 9, {"num_cycles": 0.25}),
    ("cosine", 5, 4, {}),
    ("cosine_with_restarts", 4, 4, {"num_cycles": 2}),
    ("cosine_with_min_lr", 3, 3, {"min_lr_rate": 0.1, "num_cycles": 0.75}),
    ("cosine_with_restarts", 0, 12, {}),
    ("cosine_with_restarts", 3, 20, {"num_cycles": 3}),
    ("cosine_with_restarts", 2, 17, {"num_cycles": 2}),
    ("polynomial", 0, 10, {}),
    ("polynomial", 3, 12, {"lr_end": 1e-5, "power": 2.0}),
    ("polynomial", 4, 16, {"lr_end": 2e-4, "power": 0.5}),
    ("inverse_sqrt", 0, None, {}),
    ("inverse_sqrt", 4, None, {}),
    ("inverse_sqrt", 4, None, {"timescale": 10}),
    ("inverse_sqrt", 6, 30, {"timescale": 2}),
    ("cosine_with_min_lr", 3, 15, {"min_lr_rate": 0.1}),
    ("cosine_with_min_lr", 0, 10, {"min_lr": 1e-4}),
    ("cosine_with_min_lr", 2, 12, {"min_lr_rate": 0.2, "num_cycles": 1.0}),
    ("cosine_warmup_with_min_lr", 4, 16, {"min_lr_rate": 0.1}),
    ("cosine_warmup_with_min_lr", 5, 20, {"min_lr": 1e-4, "warmup_lr_rate": 0.05}),
    ("cosine_warmup_with_min_lr", 0, 10, {"min_lr_rate": 0.0}),
    ("warmup_stable_decay", 3, 20, {"num_decay_steps": 6}),
    (
        "warmup_stable_decay",
        4,
        None,
        {
            "num_decay_steps": 5,
            "num_stable_steps": 7,
            "warmup_type": "cosine",
            "decay_type": "linear",
        },
    ),
    (
        "warmup_stable_decay",
        5,
        24,
        {
            "num_decay_steps": 8,
            "warmup_type": "1-sqrt",
            "decay_type": "1-sqrt",
            "min_lr_ratio": 0.1,
        },
    ),
    (
        "warmup_stable_decay",
        0,
        12,
        {"num_decay_steps": 4, "decay_type": "cosine", "num_cycles": 1.0, "min_lr_ratio": 0.05},
    ),
    (
        "warmup_stable_decay",
        3,
        10,
        {
            "num_decay_steps": 5,
            "warmup_type": "linear",
            "decay_type": "linear",
            "min_lr_ratio": 0.2,
        },
    ),
    ("reduce_lr_on_plateau", None, None, {}),
    (
        "reduce_lr_on_plateau",
        None,
        None,
        {"patience": 1, "factor": 0.5, "min_lr": 2e-4, "cooldown": 1},
    ),
    (
        "reduce_lr_on_plateau",
        None,
        None,
        {
            "mode": "max",
            "patience": 0,
            "factor": 0.5,
            "threshold_mode": "abs",
            "threshold": 0.01,
            "eps": 0.0,
        },
    ),
    ("greedy", None, None, {"patience": 1, "min_lr": 1e-4, "max_lr": 4e-3}),
    (
        "greedy",
        None,
        None,
        {
            "patience": 0,
            "factor": 0.8,
            "min_lr": [1e-4, 1e-4, 1e-4],
            "max_lr": 5e-3,
            "cooldown": 1,
            "warmup": 1,
        },
    ),
    (
        "greedy",
        None,
        None,
        {
            "patience": 2,
            "smooth": True,
            "window_size": 4,
            "min_lr": 5e-4,
            "max_lr": 1e-2,
            "threshold_mode": "rel",
            "threshold": 1e-3,
        },
    ),
]

ERRORS: list[tuple[str, int | None, int | None, dict]] = [
    ("linear", None, 10, {}),
    ("linear", 3, None, {}),
    ("cosine", 3, None, {}),
    ("constant_with_warmup", None, 10, {}),
    ("inverse_sqrt", None, None, {}),
    ("polynomial", 2, 10, {"lr_end": 1e-2}),
    ("cosine_with_min_lr", 2, 10, {}),
    ("cosine_with_min_lr", 2, 10, {"min_lr": 1e-4, "min_lr_rate": 0.1}),
    ("warmup_stable_decay", 2, None, {"num_decay_steps": 3}),
    ("warmup_stable_decay", 2, 10, {"num_decay_steps": 3, "warmup_type": "exp"}),
    ("warmup_stable_decay", 2, 10, {"num_decay_steps": 3, "decay_type": "exp"}),
    ("cosinus", 2, 10, {}),
    ("cosine", 2, 10, {"num_cycle": 1}),
    ("greedy", None, None, {"factor": 1.5}),
]


def _lrs(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


def main(path: str) -> None:
    warnings.simplefilter("ignore")
    cases = []
    for name, warmup, training, kwargs in CASES:
        optimizer = _optimizer(GROUPS)
        scheduler = get_scheduler(name, optimizer, warmup, training, dict(kwargs))
        metric_stepped = name in ("reduce_lr_on_plateau", "greedy")
        steps = len(METRICS) if metric_stepped else (training or 20) + 6
        lrs = [_lrs(optimizer)]
        for k in range(steps):
            optimizer.step()
            if metric_stepped:
                scheduler.step(METRICS[k])
            else:
                scheduler.step()
            lrs.append(_lrs(optimizer))
        cases.append(
            {
                "name": name,
                "num_warmup_steps": warmup,
                "num_training_steps": training,
                "kwargs": kwargs,
                "group_lrs": GROUPS,
                "defaults_lr": DEFAULT_LR,
                "metrics": METRICS if metric_stepped else None,
                "steps": steps,
                "lrs": lrs,
            }
        )
    errors = []
    for name, warmup, training, kwargs in ERRORS:
        try:
            get_scheduler(name, _optimizer(GROUPS), warmup, training, dict(kwargs))
        except Exception as error:
            errors.append(
                {
                    "name": name,
                    "num_warmup_steps": warmup,
                    "num_training_steps": training,
                    "kwargs": kwargs,
                    "error": type(error).__name__,
                    "message": str(error),
                }
            )
        else:
            raise AssertionError(f"transformers accepted {name} {kwargs}")
    out = {
        "anchor": {"transformers": transformers.__version__, "torch": torch.__version__},
        "scheduler_types": [member.value for member in SchedulerType],
        "cases": cases,
        "errors": errors,
    }
    assert all(math.isfinite(lr) for case in cases for row in case["lrs"] for lr in row)
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
