"""Generate leaves.json and combinators.json once from the anchors themselves: timm, transformers,
optax (jax x64), torch and ESPnet.

Run in a throwaway environment holding torch, timm, transformers, jax and optax (never a
dependency of the project or its tests), with ESPnet's wheel unpacked but not installed (all of
espnet would pull in far more than its scheduler needs; only one module file is imported):

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install timm transformers optax jax
    /tmp/peers-venv/bin/pip install torch==2.13.0  # last: timm's torchvision pulls a newer one
    pip download --no-deps espnet -d /tmp/espnet-dl
    python3 -m zipfile -e /tmp/espnet-dl/espnet-*.whl /tmp/espnet-dl/x
    /tmp/peers-venv/bin/python generate_peer_vectors.py /tmp/espnet-dl/x .

Every expected number is what the anchor itself returns (timm ``step(t)`` then the optimizer's
lr, torch ``scheduler.step()`` then ``get_last_lr()``, transformers' ``LambdaLR`` likewise,
optax's schedule called on an int64 count, ESPnet's ``step()`` then the optimizer's lr).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import types
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# The scale functions of the CyclicLR cases, by the names leaves.json gives them. The tests
# define the same formulas (tests/schedules/test_peer_anchors.py::SCALE_FNS).
SCALE_FNS: dict[str, Callable[[Any], Any]] = {
    "reciprocal": lambda x: 1.0 / x,
    "geometric_0.8": lambda x: 0.8**x,
    "hyperbolic_10": lambda x: 1.0 / (1.0 + x / 10.0),
}


def _package_stub(name: str, path: str) -> None:
    """Register ``name`` as a namespace-like package at ``path`` without running its __init__
    (timm's needs torchvision, espnet2's needs all of espnet; their schedulers need neither)."""
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package


def _import_timm() -> tuple[Any, str]:
    spec = importlib.util.find_spec("timm")
    assert spec is not None and spec.origin is not None
    _package_stub("timm", os.path.dirname(spec.origin))
    scheduler = importlib.import_module("timm.scheduler")
    return scheduler, importlib.metadata.version("timm")


def _import_espnet(unpacked_wheel: Path) -> tuple[Any, str]:
    _package_stub("espnet2", str(unpacked_wheel / "espnet2"))
    _package_stub("espnet2.schedulers", str(unpacked_wheel / "espnet2" / "schedulers"))
    module = importlib.import_module("espnet2.schedulers.cosine_anneal_warmup_restart")
    (dist_info,) = unpacked_wheel.glob("espnet-*.dist-info")
    version = dist_info.name.removeprefix("espnet-").removesuffix(".dist-info")
    return module, version


def leaf(fn: str, **kwargs: Any) -> dict[str, Any]:
    return {"leaf": fn, "kwargs": kwargs}


def comb(name: str, **kwargs: Any) -> dict[str, Any]:
    return {"combinator": name, **kwargs}


def main(unpacked_espnet_wheel: Path, out_dir: Path) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax
    import torch
    import transformers
    from transformers import optimization

    # the anchors are stepped without an optimizer step, on purpose: only their lr is read
    warnings.filterwarnings("ignore", message="Detected call of")
    timm_scheduler, timm_version = _import_timm()
    espnet_module, espnet_version = _import_espnet(unpacked_espnet_wheel)
    torch_version = torch.__version__
    leaves: list[dict[str, Any]] = []
    combinators: list[dict[str, Any]] = []

    def sgd(lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)

    def timm_values(cls: str, lr: float, steps: Iterable[int], **kwargs: Any) -> list[float]:
        optimizer = sgd(lr)
        # timm's subclasses do not pass noise_type on to Scheduler.__init__, which stores it
        # as this attribute; set it the same way
        noise_type = kwargs.pop("noise_type", "normal")
        scheduler = getattr(timm_scheduler, cls)(optimizer, **kwargs)
        scheduler.noise_type = noise_type
        values = []
        for t in steps:
            scheduler.step(t)  # t_in_epochs=True: the lr (noise included) for epoch t
            values.append(float(optimizer.param_groups[0]["lr"]))
        return values

    def torch_values(scheduler: Any, optimizer: Any, steps: list[int]) -> list[float]:
        """The lr at each of ``steps`` (sorted), stepping the scheduler from its start."""
        values, current = [], 0
        for target in steps:
            while current < target:
                scheduler.step()
                current += 1
            values.append(float(optimizer.param_groups[0]["lr"]))
        return values

    def add_leaf(fn: str, kwargs: dict[str, Any], steps: list[int], expected: list[float],
                 anchor: str, callables: list[str] | None = None) -> None:  # fmt: skip
        case: dict[str, Any] = {"fn": fn, "kwargs": kwargs, "steps": steps}
        if callables:
            case["callables"] = callables
        case.update(expected=expected, anchor=anchor)
        leaves.append(case)

    def add_comb(
        expr: dict[str, Any], steps: list[int], expected: list[float], anchor: str
    ) -> None:
        combinators.append({"expr": expr, "steps": steps, "expected": expected, "anchor": anchor})

    # -- timm k_decay: CosineLRScheduler / PolyLRScheduler (one cycle) ---------------------------
    for k in (0.5, 2.0):
        steps = [*range(0, 25), 1000]
        add_leaf(
            "cosine",
            {"peak": 0.4, "steps": 20, "final": 0.01, "k_decay": k},
            steps,
            timm_values("CosineLRScheduler", 0.4, steps, t_initial=20, lr_min=0.01, k_decay=k),
            f"timm {timm_version} CosineLRScheduler(SGD(lr=0.4), t_initial=20, lr_min=0.01, "
            f"k_decay={k}).step(t)",
        )
    for k, power in ((0.5, 2.0), (3.0, 0.5)):
        steps = [*range(0, 20), 500]
        add_leaf(
            "polynomial",
            {"start": 0.2, "end": 0.002, "steps": 16, "power": power, "k_decay": k},
            steps,
            timm_values(
                "PolyLRScheduler", 0.2, steps, t_initial=16, lr_min=0.002, power=power, k_decay=k
            ),
            f"timm {timm_version} PolyLRScheduler(SGD(lr=0.2), t_initial=16, lr_min=0.002, "
            f"power={power}, k_decay={k}).step(t)",
        )

    # -- timm TanhLRScheduler (one cycle) ---------------------------------------------------------
    for lb, ub, lr_min, t_initial in ((-7.0, 3.0, 0.001, 30), (-4.0, 5.0, 0.0, 12)):
        steps = [*range(0, t_initial + 4), 10**4]
        add_leaf(
            "tanh_decay",
            {"peak": 0.5, "steps": t_initial, "final": lr_min, "lower": lb, "upper": ub},
            steps,
            timm_values(
                "TanhLRScheduler", 0.5, steps, t_initial=t_initial, lb=lb, ub=ub, lr_min=lr_min
            ),
            f"timm {timm_version} TanhLRScheduler(SGD(lr=0.5), t_initial={t_initial}, lb={lb}, "
            f"ub={ub}, lr_min={lr_min}).step(t)",
        )

    # -- optax piecewise_interpolate_schedule("cosine") ------------------------------------------
    for init, scales in ((1.0, {4: 0.1, 8: 0.01}), (0.3, {3: 2.0, 10: 0.25, 11: 0.5})):
        points, value = [[0, init]], init
        for boundary, factor in sorted(scales.items()):
            value *= factor
            points.append([boundary, value])
        fn = optax.piecewise_interpolate_schedule("cosine", init, scales)
        steps = [*range(0, max(scales) + 4), 10**6]
        add_leaf(
            "piecewise_linear",
            {"points": points, "interpolation": "cosine"},
            steps,
            [float(fn(jnp.asarray(s, dtype=jnp.int64))) for s in steps],
            f"optax {optax.__version__} (jax {jax.__version__}, x64) "
            f"piecewise_interpolate_schedule('cosine', init_value={init}, "
            f"boundaries_and_scales={scales})",
        )

    # -- transformers get_cosine_schedule_with_warmup(num_cycles) --------------------------------
    def transformers_values(
        factory: Any, lr: float, steps: list[int], **kwargs: Any
    ) -> list[float]:
        optimizer = sgd(lr)
        return torch_values(factory(optimizer, **kwargs), optimizer, steps)

    for cycles in (0.25, 1.0, 1.5, 0.5):
        steps = list(range(0, 31))  # within num_training_steps: past it transformers keeps cycling
        add_leaf(
            "warmup_cosine",
            {"peak": 0.3, "warmup": 5, "steps": 30, "cycles": cycles},
            steps,
            transformers_values(
                optimization.get_cosine_schedule_with_warmup, 0.3, steps,
                num_warmup_steps=5, num_training_steps=30, num_cycles=cycles,
            ),
            f"transformers {transformers.__version__} get_cosine_schedule_with_warmup(SGD(lr=0.3), "
            f"num_warmup_steps=5, num_training_steps=30, num_cycles={cycles})",
        )  # fmt: skip
    steps = list(range(0, 41))
    add_leaf(
        "warmup_cosine",
        {"peak": 0.3, "warmup": 8, "steps": 40, "final": 0.03, "cycles": 1.5},
        steps,
        transformers_values(
            optimization.get_cosine_with_min_lr_schedule_with_warmup, 0.3, steps,
            num_warmup_steps=8, num_training_steps=40, num_cycles=1.5, min_lr_rate=0.1,
        ),
        f"transformers {transformers.__version__} get_cosine_with_min_lr_schedule_with_warmup("
        "SGD(lr=0.3), num_warmup_steps=8, num_training_steps=40, num_cycles=1.5, "
        "min_lr_rate=0.1)",
    )  # fmt: skip

    # -- transformers get_inverse_sqrt_schedule(timescale) ---------------------------------------
    for timescale in (25, 4, None):
        steps = [*range(0, 61), 1000, 10**5]
        kwargs = {"peak": 0.01, "warmup": 10}
        if timescale is not None:
            kwargs["timescale"] = timescale
        add_leaf(
            "inverse_sqrt",
            kwargs,
            steps,
            transformers_values(
                optimization.get_inverse_sqrt_schedule, 0.01, steps,
                num_warmup_steps=10, timescale=timescale,
            ),
            f"transformers {transformers.__version__} get_inverse_sqrt_schedule(SGD(lr=0.01), "
            f"num_warmup_steps=10, timescale={timescale})",
        )  # fmt: skip

    # -- torch CyclicLR(scale_fn, scale_mode) ----------------------------------------------------
    for name, mode, up, down in (
        ("reciprocal", "cycle", 4, 6),
        ("geometric_0.8", "cycle", 5, None),
        ("hyperbolic_10", "iterations", 3, 7),
    ):
        optimizer = sgd(0.1)
        scheduler = torch.optim.lr_scheduler.CyclicLR(
            optimizer, base_lr=0.1, max_lr=1.0, step_size_up=up, step_size_down=down,
            scale_fn=SCALE_FNS[name], scale_mode=mode, cycle_momentum=False,
        )  # fmt: skip
        steps = list(range(0, 50))
        kwargs = {"base": 0.1, "peak": 1.0, "up": up, "scale_fn": name, "scale_mode": mode}
        if down is not None:
            kwargs["down"] = down
        add_leaf(
            "cyclic",
            kwargs,
            steps,
            torch_values(scheduler, optimizer, steps),
            f"torch {torch_version} CyclicLR(SGD(lr=0.1), base_lr=0.1, max_lr=1.0, "
            f"step_size_up={up}, step_size_down={down}, scale_fn={name}, scale_mode={mode!r}, "
            "cycle_momentum=False)",
            callables=["scale_fn"],
        )

    # -- ESPnet CosineAnnealingWarmupRestarts ----------------------------------------------------
    # (period, mult, warmup, max_lr, min_lr, gamma, last step): every cycle reached has an
    # integer annealing length (period - warmup) · mult**i, where ESPnet's int() is exact.
    for period, mult, warmup, max_lr, min_lr, gamma, last in (
        (10, 2.0, 3, 1.0, 0.1, 0.5, 120),
        (8, 1.0, 2, 0.05, 0.001, 0.8, 50),
        (5, 3.0, 1, 0.2, 0.0, 1.0, 90),
        (10, 1.5, 2, 0.6, 0.01, 0.9, 72),  # lengths 10, 14, 20, 29; cycle 4 (2 + 40.5) not reached
    ):
        optimizer = sgd(max_lr)
        scheduler = espnet_module.CosineAnnealingWarmupRestarts(
            optimizer, first_cycle_steps=period, cycle_mult=mult, max_lr=max_lr,
            min_lr=min_lr, warmup_steps=warmup, gamma=gamma,
        )  # fmt: skip
        steps = list(range(0, last + 1))
        add_leaf(
            "cosine_restarts",
            {
                "peak": max_lr,
                "period": period,
                "mult": mult,
                "final": min_lr,
                "decay": gamma,
                "warmup": warmup,
            },
            steps,
            torch_values(scheduler, optimizer, steps),
            f"ESPnet {espnet_version} espnet2.schedulers.cosine_anneal_warmup_restart."
            f"CosineAnnealingWarmupRestarts(SGD, first_cycle_steps={period}, cycle_mult={mult}, "
            f"max_lr={max_lr}, min_lr={min_lr}, warmup_steps={warmup}, gamma={gamma}), "
            "the lr after s calls of step()",
        )

    # -- timm warmup_prefix=False: the warmup overlays the schedule ------------------------------
    steps = [*range(0, 25), 400]
    add_comb(
        comb(
            "warmup",
            schedule=leaf("cosine", peak=0.4, steps=20, final=0.01),
            steps=5,
            start=0.001,
            prefix=False,
        ),
        steps,
        timm_values(
            "CosineLRScheduler", 0.4, steps, t_initial=20, lr_min=0.01, warmup_t=5,
            warmup_lr_init=0.001, warmup_prefix=False,
        ),
        f"timm {timm_version} CosineLRScheduler(SGD(lr=0.4), t_initial=20, lr_min=0.01, "
        "warmup_t=5, warmup_lr_init=0.001, warmup_prefix=False).step(t)",
    )  # fmt: skip
    steps = [*range(0, 20), 300]
    add_comb(
        comb(
            "warmup",
            schedule=leaf("polynomial", start=0.2, end=0.0, steps=16, power=2.0, k_decay=0.5),
            steps=6,
            start=0.0,
            prefix=False,
        ),
        steps,
        timm_values(
            "PolyLRScheduler", 0.2, steps, t_initial=16, power=2.0, k_decay=0.5, warmup_t=6,
            warmup_lr_init=0.0, warmup_prefix=False,
        ),
        f"timm {timm_version} PolyLRScheduler(SGD(lr=0.2), t_initial=16, power=2.0, "
        "k_decay=0.5, warmup_t=6, warmup_lr_init=0.0, warmup_prefix=False).step(t)",
    )  # fmt: skip

    # -- timm lr noise: noise_range_t, noise_type, noise_pct, noise_std, noise_seed --------------
    noise_cases: list[tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]] = [
        (
            leaf("cosine", peak=0.4, steps=30, final=0.01),
            {"start": 5, "end": 25},
            "CosineLRScheduler",
            {"t_initial": 30, "lr_min": 0.01, "noise_range_t": (5, 25)},
        ),
        (
            leaf("cosine", peak=0.4, steps=30, final=0.01),
            {"start": 10, "pct": 0.3, "seed": 7, "kind": "uniform"},
            "CosineLRScheduler",
            {"t_initial": 30, "lr_min": 0.01, "noise_range_t": 10, "noise_pct": 0.3,
             "noise_seed": 7, "noise_type": "uniform"},
        ),
        (
            leaf("tanh_decay", peak=0.5, steps=40, final=0.001),
            {"start": 0, "end": 35, "pct": 0.2, "std": 0.5, "seed": 1234},
            "TanhLRScheduler",
            {"t_initial": 40, "lr_min": 0.001, "noise_range_t": [0, 35], "noise_pct": 0.2,
             "noise_std": 0.5, "noise_seed": 1234},
        ),
        (
            leaf("polynomial", start=0.3, end=0.003, steps=25, power=1.5),
            {"start": 3, "pct": 0.5, "std": 2.0, "seed": 0},
            "PolyLRScheduler",
            {"t_initial": 25, "lr_min": 0.003, "power": 1.5, "noise_range_t": 3,
             "noise_pct": 0.5, "noise_std": 2.0, "noise_seed": 0},
        ),
    ]  # fmt: skip
    for inner, noise, cls, timm_kwargs in noise_cases:
        lr = inner["kwargs"].get("peak", inner["kwargs"].get("start"))
        steps = [*range(0, 45), 10**6]
        described = ", ".join(f"{k}={v!r}" for k, v in timm_kwargs.items() if k != "noise_type")
        if "noise_type" in timm_kwargs:
            described += f"; .noise_type = {timm_kwargs['noise_type']!r}"
        add_comb(
            comb("lr_noise", schedule=inner, **noise),
            steps,
            timm_values(cls, lr, steps, **timm_kwargs),
            f"timm {timm_version} {cls}(SGD(lr={lr}), {described}).step(t)",
        )
    # noise on a warmed-up cosine: timm adds the noise after the warmup prefix is applied
    steps = [*range(0, 40), 5000]
    add_comb(
        comb(
            "lr_noise",
            schedule=comb(
                "warmup", schedule=leaf("cosine", peak=0.1, steps=30, final=0.0), steps=4,
                start=0.01,
            ),
            start=2, end=30, pct=0.4, std=0.3, seed=99,
        ),
        steps,
        timm_values(
            "CosineLRScheduler", 0.1, steps, t_initial=30, lr_min=0.0, warmup_t=4,
            warmup_lr_init=0.01, warmup_prefix=True, noise_range_t=(2, 30), noise_pct=0.4,
            noise_std=0.3, noise_seed=99,
        ),
        f"timm {timm_version} CosineLRScheduler(SGD(lr=0.1), t_initial=30, lr_min=0.0, "
        "warmup_t=4, warmup_lr_init=0.01, warmup_prefix=True, noise_range_t=(2, 30), "
        "noise_pct=0.4, noise_std=0.3, noise_seed=99).step(t)",
    )  # fmt: skip

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "leaves.json").write_text(json.dumps(leaves, indent=1) + "\n")
    (out_dir / "combinators.json").write_text(json.dumps(combinators, indent=1) + "\n")
    print(f"{len(leaves)} leaf cases, {len(combinators)} combinator cases -> {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
