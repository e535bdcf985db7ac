"""Generate combinators.json once from the anchors themselves: optax (jax x64) and timm.

Run in a throwaway environment holding torch, jax, optax and timm (never a dependency of the
project or its tests):  python generate_combinators.py combinators.json
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from typing import Any


def _import_timm_scheduler() -> Any:
    """timm's package __init__ needs torchvision; its scheduler does not: import just that."""
    spec = importlib.util.find_spec("timm")
    assert spec is not None and spec.origin is not None
    package = types.ModuleType("timm")
    package.__path__ = [os.path.dirname(spec.origin)]
    sys.modules["timm"] = package
    return importlib.import_module("timm.scheduler.cosine_lr"), importlib.import_module(
        "timm.version"
    )


def leaf(fn: str, **kwargs: Any) -> dict[str, Any]:
    return {"leaf": fn, "kwargs": kwargs}


def comb(name: str, **kwargs: Any) -> dict[str, Any]:
    return {"combinator": name, **kwargs}


def main(out: Path) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax
    import torch

    cosine_lr, timm_version = _import_timm_scheduler()
    cases: list[dict[str, Any]] = []

    def optax_case(expr: dict[str, Any], fn: Any, steps: list[int], anchor: str) -> None:
        expected = [float(fn(jnp.asarray(s, dtype=jnp.int64))) for s in steps]
        cases.append(
            {
                "expr": expr,
                "steps": steps,
                "expected": expected,
                "anchor": f"optax {optax.__version__} (jax x64): {anchor}",
            }
        )

    def timm_case(expr: dict[str, Any], steps: list[int], anchor: str, **kwargs: Any) -> None:
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=kwargs.pop("lr"))
        scheduler = cosine_lr.CosineLRScheduler(optimizer, **kwargs)
        expected = [scheduler._get_lr(t)[0] for t in steps]
        cases.append(
            {
                "expr": expr,
                "steps": steps,
                "expected": expected,
                "anchor": f"timm {timm_version.__version__}: {anchor}",
            }
        )

    # 1. linear warmup joined to cosine decay
    peak, warmup, decay, alpha = 0.8, 7, 30, 0.05
    optax_case(
        comb(
            "join",
            schedules=[
                leaf("linear", start=0.0, end=peak, steps=warmup),
                leaf("cosine", peak=peak, steps=decay, final=alpha * peak),
            ],
            boundaries=[warmup],
        ),
        optax.join_schedules(
            [
                optax.linear_schedule(0.0, peak, warmup),
                optax.cosine_decay_schedule(peak, decay, alpha),
            ],
            [warmup],
        ),
        [*range(0, 45), 100, 10**6],
        "join_schedules([linear_schedule(0.0, 0.8, 7), cosine_decay_schedule(0.8, 30, 0.05)], [7])",
    )

    # 2. three parts: constant, linear decay, exponential decay with staircase
    optax_case(
        comb(
            "join",
            schedules=[
                leaf("constant", value=0.5),
                leaf("linear", start=0.5, end=0.1, steps=8, begin=2),
                leaf("exponential", start=0.1, rate=0.5, steps=3, staircase=True),
            ],
            boundaries=[5, 20],
        ),
        optax.join_schedules(
            [
                optax.constant_schedule(0.5),
                optax.linear_schedule(0.5, 0.1, 8, transition_begin=2),
                optax.exponential_decay(0.1, 3, 0.5, staircase=True),
            ],
            [5, 20],
        ),
        [*range(0, 40), 1000],
        "join_schedules([constant_schedule(0.5), linear_schedule(0.5, 0.1, 8, "
        "transition_begin=2), exponential_decay(0.1, 3, 0.5, staircase=True)], [5, 20])",
    )

    # 3. optax.sgdr_schedule: a join of warmup-cosine cycles at cumulative boundaries
    sgdr_kwargs = [
        {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 3, "decay_steps": 10,
         "end_value": 0.1},
        {"init_value": 0.1, "peak_value": 0.6, "warmup_steps": 2, "decay_steps": 15,
         "end_value": 0.0},
    ]  # fmt: skip
    optax_case(
        comb(
            "join",
            schedules=[
                leaf("warmup_cosine", peak=1.0, warmup=3, steps=10, start=0.0, final=0.1),
                leaf("warmup_cosine", peak=0.6, warmup=2, steps=15, start=0.1, final=0.0),
            ],
            boundaries=[10],
        ),
        optax.sgdr_schedule(sgdr_kwargs),
        list(range(0, 30)),
        f"sgdr_schedule({sgdr_kwargs})",
    )

    # 4. parts that do not meet: pins that schedules[i+1] runs from s == boundaries[i]
    optax_case(
        comb(
            "join",
            schedules=[
                leaf("linear", start=1.0, end=0.5, steps=10),
                leaf("linear", start=0.3, end=0.0, steps=5),
                leaf("constant", value=0.05),
            ],
            boundaries=[4, 9],
        ),
        optax.join_schedules(
            [
                optax.linear_schedule(1.0, 0.5, 10),
                optax.linear_schedule(0.3, 0.0, 5),
                optax.constant_schedule(0.05),
            ],
            [4, 9],
        ),
        list(range(0, 14)),
        "join_schedules([linear_schedule(1.0, 0.5, 10), linear_schedule(0.3, 0.0, 5), "
        "constant_schedule(0.05)], [4, 9])",
    )

    # 5./6. timm CosineLRScheduler with a warmup prefix
    timm_case(
        comb(
            "warmup",
            schedule=leaf("cosine", peak=0.4, steps=20, final=0.01),
            steps=5,
            start=0.001,
        ),
        [*range(0, 35), 500],
        "CosineLRScheduler(SGD(lr=0.4), t_initial=20, lr_min=0.01, warmup_t=5, "
        "warmup_lr_init=0.001, warmup_prefix=True)._get_lr(t)",
        lr=0.4, t_initial=20, lr_min=0.01, warmup_t=5, warmup_lr_init=0.001,
        warmup_prefix=True,
    )  # fmt: skip
    timm_case(
        comb(
            "warmup",
            schedule=leaf(
                "cosine_restarts", peak=0.2, period=6, mult=2.0, final=0.002, decay=0.5
            ),
            steps=4,
            start=0.0,
        ),
        list(range(0, 60)),
        "CosineLRScheduler(SGD(lr=0.2), t_initial=6, lr_min=0.002, cycle_mul=2.0, "
        "cycle_decay=0.5, cycle_limit=100, warmup_t=4, warmup_lr_init=0.0, "
        "warmup_prefix=True)._get_lr(t)",
        lr=0.2, t_initial=6, lr_min=0.002, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=100,
        warmup_t=4, warmup_lr_init=0.0, warmup_prefix=True,
    )  # fmt: skip

    out.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
