"""Benchmark 3, scalar part: one schedule value at a Python int step.

Side by side in one interleaved run, single-threaded Python on the process's CPU clock:

* a **bound** schedule (``schedules.bind``: checked once) vs the same formula written inline
  with ``math`` (goal: at most 2x) for ``noam``, ``cosine``, ``warmup_cosine``;
* a **direct keyword call**, written out (``schedules.cosine(step, peak=PEAK,
  steps=STEPS)``, checked at every call through the cache of recipes) vs ``LambdaLR.step()``
  whose lambda computes the same formula inline (as ``transformers``' schedule lambdas do;
  goal: at most a fifth); a ``functools.partial`` of the leaf called directly is shown too
  (it merges its keywords into a new dict at each call; the shell, the config builder and
  ``as_lr_scheduler`` bind such partials, so they run at the bound speed there);
* ``piecewise_constant`` with 100 boundaries, bound, vs an inline ``bisect`` over the same
  lists (goal: at most 2x), and ``multistep`` with 100 milestones likewise;
* optax's schedule at a Python int (when installed), jitted and eager, ``float()`` of the
  result (what a torch optimizer needs), wall clock.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

import schedules
from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import ratio_range, seconds_range
from benchmarks.profiles import python_profile
from benchmarks.results import Row
from benchmarks.timing import CPU, WALL, Measure, interleaved, paired, timed

GOAL_VS_LAMBDALR = 0.2
GOAL_VS_INLINE = 2.0

D_MODEL, NOAM_WARMUP = 512, 4000
PEAK, WARMUP, STEPS = 1e-3, 500, 10_000
STEP_CYCLE = list(range(0, 12_000, 7))
"""The Python int steps the scalar calls cycle through (warmup, decay and past the end)."""

BOUNDARIES = list(range(100, 10_100, 100))
LEVELS = [1.0 / (i + 1) for i in range(len(BOUNDARIES) + 1)]
GAMMA = 0.97


def _noam_factor(step: int) -> float:
    if step == 0:
        return 0.0
    return float(D_MODEL**-0.5 * min(step**-0.5, step * NOAM_WARMUP**-1.5))


def _cosine_factor(step: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * min(step, STEPS) / STEPS))


def _warmup_cosine_factor(step: int) -> float:
    if step < WARMUP:
        return step / WARMUP
    progress = min(step - WARMUP, STEPS - WARMUP) / (STEPS - WARMUP)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _noam_direct(step: int) -> float:
    return schedules.noam(step, d_model=D_MODEL, warmup=NOAM_WARMUP)


def _cosine_direct(step: int) -> float:
    return schedules.cosine(step, peak=PEAK, steps=STEPS)


def _warmup_cosine_direct(step: int) -> float:
    return schedules.warmup_cosine(step, peak=PEAK, warmup=WARMUP, steps=STEPS)


Formula = tuple[
    Callable[..., Any], dict[str, Any], Callable[[int], float], Callable[[int], float], float
]

FORMULAS: dict[str, Formula] = {
    "noam": (
        schedules.noam,
        {"d_model": D_MODEL, "warmup": NOAM_WARMUP},
        _noam_direct,
        _noam_factor,
        1.0,
    ),
    "cosine": (
        schedules.cosine,
        {"peak": PEAK, "steps": STEPS},
        _cosine_direct,
        _cosine_factor,
        PEAK,
    ),
    "warmup_cosine": (
        schedules.warmup_cosine,
        {"peak": PEAK, "warmup": WARMUP, "steps": STEPS},
        _warmup_cosine_direct,
        _warmup_cosine_factor,
        PEAK,
    ),
}
"""name -> (our leaf, its hyperparameters, the leaf called with them written out as keywords,
the inline lambda LambdaLR multiplies its base lr by, that base lr)."""


def _inline_piecewise(step: int) -> float:
    return LEVELS[bisect.bisect_right(BOUNDARIES, step)]


_MULTISTEP_LEVELS = [GAMMA**k for k in range(len(BOUNDARIES) + 1)]


def _inline_multistep(step: int) -> float:
    return _MULTISTEP_LEVELS[bisect.bisect_right(BOUNDARIES, step)]


LOOKUPS: dict[str, tuple[Callable[[int], float], Callable[[int], float]]] = {
    "piecewise_constant, 100 boundaries": (
        schedules.bind(schedules.piecewise_constant, boundaries=BOUNDARIES, values=LEVELS),
        _inline_piecewise,
    ),
    "multistep, 100 milestones": (
        schedules.bind(schedules.multistep, start=1.0, milestones=BOUNDARIES, gamma=GAMMA),
        _inline_multistep,
    ),
}
"""name -> (our bound schedule, the inline bisect over the same lists)."""


def _calls(fn: Callable[[int], object], count: int) -> Callable[[], None]:
    cycle = STEP_CYCLE

    def work() -> None:
        for i in range(count):
            fn(cycle[i % len(cycle)])

    return work


def _lambda_lr_steps(factor: Callable[[int], float], base_lr: float, count: int) -> Measure:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = LambdaLR(optimizer, factor)
    optimizer.step()  # LambdaLR warns when it steps before the optimizer ever did

    def work() -> None:
        for _ in range(count):
            scheduler.step()

    return timed(work, CPU)


def check_agreement(ours: Callable[[int], float], reference: Callable[[int], float]) -> float:
    """Largest relative difference between two versions of a formula over the step cycle; the
    benchmark refuses to compare different formulas."""
    worst = 0.0
    for step in STEP_CYCLE:
        a, b = ours(step), reference(step)
        worst = max(worst, abs(a - b) / max(abs(b), 1e-30))
    if worst > 1e-9:
        raise AssertionError(f"our schedule and the reference differ ({worst:.3g})")
    return worst


def formula_rows(config: BenchConfig) -> tuple[list[Row], list[str], dict[str, Any]]:
    """Bound vs inline and direct vs LambdaLR, per formula; profile notes for missed goals;
    the bound schedules (for the optax rows)."""
    rows: list[Row] = []
    notes: list[str] = []
    bound_of: dict[str, Any] = {}
    count = config.pick(4000, 400)
    for name, (leaf, kwargs, direct, factor, base) in FORMULAS.items():
        bound = schedules.bind(leaf, **kwargs)
        partial = functools.partial(leaf, **kwargs)
        bound_of[name] = bound
        check_agreement(bound, lambda s, f=factor, b=base: f(s) * b)  # type: ignore[misc]
        check_agreement(direct, bound)
        check_agreement(partial, bound)
        samples = interleaved(
            {
                "bound": timed(_calls(bound, count), CPU),
                "direct": timed(_calls(direct, count), CPU),
                "partial": timed(_calls(partial, count), CPU),
                "LambdaLR": _lambda_lr_steps(factor, base, count),
                "inline": timed(_calls(factor, count), CPU),
            },
            rounds=config.rounds(11),
        )
        per_call = {k: s.scaled(1 / count) for k, s in samples.items()}
        vs_inline = paired(samples["bound"], samples["inline"])
        vs_lambda = paired(samples["direct"], samples["LambdaLR"])
        rows += [
            Row(
                f"{name}(int): bound call vs the formula inlined with math",
                seconds_range(per_call["bound"]),
                seconds_range(per_call["inline"]),
                ratio_range(vs_inline),
                f"ratio ≤ {GOAL_VS_INLINE:g}",
                vs_inline.median <= GOAL_VS_INLINE,
            ),
            Row(
                f"{name}(int): direct keyword call vs LambdaLR.step()",
                seconds_range(per_call["direct"]),
                seconds_range(per_call["LambdaLR"]),
                ratio_range(vs_lambda),
                f"ratio ≤ {GOAL_VS_LAMBDALR}",
                vs_lambda.median <= GOAL_VS_LAMBDALR,
            ),
            Row(
                f"{name}(int): functools.partial of the leaf, called, vs LambdaLR.step()",
                seconds_range(per_call["partial"]),
                seconds_range(per_call["LambdaLR"]),
                ratio_range(paired(samples["partial"], samples["LambdaLR"])),
            ),
            Row(
                f"{name}(int): bound call vs LambdaLR.step()",
                seconds_range(per_call["bound"]),
                seconds_range(per_call["LambdaLR"]),
                ratio_range(paired(samples["bound"], samples["LambdaLR"])),
            ),
            Row(
                f"{name}(int): direct keyword call vs the formula inlined with math",
                seconds_range(per_call["direct"]),
                seconds_range(per_call["inline"]),
                ratio_range(paired(samples["direct"], samples["inline"])),
            ),
        ]
        for label, met, fn in (
            ("bound", vs_inline.median <= GOAL_VS_INLINE, bound),
            ("direct", vs_lambda.median <= GOAL_VS_LAMBDALR, direct),
        ):
            if not met:
                notes.append(
                    f"Profile of {name}(int), {label} (cProfile, own time of {count} calls): "
                    + python_profile(_calls(fn, count))
                )
    return rows, notes, bound_of


def lookup_rows(config: BenchConfig) -> tuple[list[Row], list[str]]:
    """Bound piecewise_constant / multistep with 100 boundaries vs an inline bisect."""
    rows: list[Row] = []
    notes: list[str] = []
    count = config.pick(4000, 400)
    for name, (ours, inline) in LOOKUPS.items():
        check_agreement(ours, inline)
        samples = interleaved(
            {"bound": timed(_calls(ours, count), CPU), "inline": timed(_calls(inline, count), CPU)},
            rounds=config.rounds(11),
        )
        ratio = paired(samples["bound"], samples["inline"])
        goal = name.startswith("piecewise_constant")
        rows.append(
            Row(
                f"{name} (int): bound call vs an inline bisect",
                seconds_range(samples["bound"].scaled(1 / count)),
                seconds_range(samples["inline"].scaled(1 / count)),
                ratio_range(ratio),
                f"ratio ≤ {GOAL_VS_INLINE:g}" if goal else "",
                ratio.median <= GOAL_VS_INLINE if goal else None,
            )
        )
        if goal and ratio.median > GOAL_VS_INLINE:
            notes.append(
                f"Profile of {name} (cProfile, own time of {count} calls): "
                + python_profile(_calls(ours, count))
            )
    return rows, notes


def _optax_schedule(optax: ModuleType, name: str) -> Callable[[Any], Any] | None:
    if name == "cosine":
        fn: Callable[[Any], Any] = optax.cosine_decay_schedule(init_value=PEAK, decay_steps=STEPS)
        return fn
    if name == "warmup_cosine":
        fn = optax.warmup_cosine_decay_schedule(0.0, PEAK, WARMUP, STEPS, 0.0)
        return fn
    return None  # optax has no noam


def _float_of(jitted: Callable[[Any], Any]) -> Callable[[int], float]:
    return lambda step: float(jitted(step))


def optax_rows(
    config: BenchConfig, optax_jax: tuple[ModuleType, ModuleType], bound_of: dict[str, Any]
) -> list[Row]:
    """Our bound call vs optax's schedule at a Python int, jitted and eager."""
    optax, jax = optax_jax
    rows: list[Row] = []
    for name, ours in bound_of.items():
        theirs = _optax_schedule(optax, name)
        if theirs is None:
            rows.append(Row(f"{name}(int): bound call vs optax", "", "optax has no such schedule"))
            continue
        jitted = jax.jit(theirs)
        float(jitted(1))  # compile once, outside the measurements
        fast, slow = config.pick(2000, 100), config.pick(20, 3)
        samples = interleaved(
            {
                "ours": timed(_calls(ours, fast), WALL),
                "jit": timed(_calls(_float_of(jitted), fast), WALL),
                "eager": timed(_calls(_float_of(theirs), slow), WALL),
            },
            rounds=config.rounds(7),
        )
        ours_call = samples["ours"].scaled(1 / fast)
        jit_call = samples["jit"].scaled(1 / fast)
        eager_call = samples["eager"].scaled(1 / slow)
        rows += [
            Row(
                f"{name}(int): bound call vs optax jitted, float(result)",
                seconds_range(ours_call),
                seconds_range(jit_call),
                ratio_range(paired(ours_call, jit_call)),
            ),
            Row(
                f"{name}(int): bound call vs optax eager, float(result)",
                seconds_range(ours_call),
                seconds_range(eager_call),
                ratio_range(paired(ours_call, eager_call)),
            ),
        ]
    return rows
