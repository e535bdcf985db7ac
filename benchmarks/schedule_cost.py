"""Benchmark 3: what evaluating a schedule costs.

Clocks: ours vs ``LambdaLR`` is single-threaded Python, timed on the process's CPU clock (the
machine is shared: wall time would count other processes' turns). Everything compared with
optax is timed on the wall clock: XLA runs on its own threads, whose CPU time Linux accounts
only at scheduler ticks, so a CPU clock under-counts millisecond-long XLA runs.

* **Scalar calls** of ``noam``, ``cosine`` and ``warmup_cosine`` with a Python int step, vs
  ``LambdaLR.step()`` whose lambda computes the same formula inline with ``math`` (as
  ``transformers``' schedule lambdas do); goal: ours ≤ 1/5 of ``LambdaLR.step()``. The inline
  lambda alone is shown too (the formula's own cost). And vs optax (when installed): its
  schedule called with a Python int, eagerly and under ``jax.jit``, the result read back as a
  Python float (what a torch optimizer needs).
* **A 10^6-step curve** of ``warmup_cosine`` on a Tensor of steps (float32, and int64, which
  is computed in float64) vs optax's jitted ``warmup_cosine_decay_schedule`` on an int32
  array (float32 result), ``block_until_ready``; jax's compile time is reported apart from
  its run time and the run times are compared (goal: ours, float32, no slower).
  ``torch.compile`` of ours is shown too (full run only).
* **64 hyperparameter settings** (peaks) over 10^4 steps: ``torch.func.vmap`` over the peak
  (our hyperparameters are validated Python numbers, so this is expected to be refused with a
  ``ValueError``; the row says what happens), a Python loop of 64 Tensor calls, one call at
  ``peak=1`` scaled by a column of peaks (valid because the curve is linear in ``peak`` when
  ``start = final = 0``), and ``jax.vmap`` of optax's schedule over ``peak_value``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

import schedules
from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import ratio_range, seconds_range
from benchmarks.optional_optax import SKIPPED, load_optax
from benchmarks.profiles import python_profile, torch_op_profile
from benchmarks.results import Row, Section
from benchmarks.timing import CPU, WALL, Measure, Samples, interleaved, paired, timed

NAME = "schedule_cost"
GOAL_VS_LAMBDALR = 0.2

D_MODEL, NOAM_WARMUP = 512, 4000
PEAK, WARMUP, STEPS = 1e-3, 500, 10_000
STEP_CYCLE = list(range(0, 12_000, 7))
"""The Python int steps the scalar calls cycle through (warmup, decay and past the end)."""


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


FORMULAS: dict[str, tuple[Callable[[int], float], Callable[[int], float], float]] = {
    "noam": (
        functools.partial(schedules.noam, d_model=D_MODEL, warmup=NOAM_WARMUP),
        _noam_factor,
        1.0,
    ),
    "cosine": (functools.partial(schedules.cosine, peak=PEAK, steps=STEPS), _cosine_factor, PEAK),
    "warmup_cosine": (
        functools.partial(schedules.warmup_cosine, peak=PEAK, warmup=WARMUP, steps=STEPS),
        _warmup_cosine_factor,
        PEAK,
    ),
}
"""name -> (our schedule, the inline lambda LambdaLR multiplies its base lr by, base lr)."""


def _optax_schedule(optax: ModuleType, name: str) -> Callable[[Any], Any] | None:
    if name == "cosine":
        fn: Callable[[Any], Any] = optax.cosine_decay_schedule(init_value=PEAK, decay_steps=STEPS)
        return fn
    if name == "warmup_cosine":
        fn = optax.warmup_cosine_decay_schedule(0.0, PEAK, WARMUP, STEPS, 0.0)
        return fn
    return None  # optax has no noam


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


def _float_of(jitted: Callable[[Any], Any]) -> Callable[[int], float]:
    return lambda step: float(jitted(step))


def check_agreement(name: str) -> float:
    """Largest relative difference between our schedule and the LambdaLR lambda (times its
    base lr) over the step cycle; the benchmark refuses to compare different formulas."""
    ours, factor, base = FORMULAS[name]
    worst = 0.0
    for step in STEP_CYCLE:
        a, b = ours(step), factor(step) * base
        worst = max(worst, abs(a - b) / max(abs(b), 1e-30))
    if worst > 1e-9:
        raise AssertionError(f"{name}: our schedule and the LambdaLR lambda differ ({worst:.3g})")
    return worst


def scalar_rows(
    config: BenchConfig, optax_jax: tuple[ModuleType, ModuleType] | None
) -> tuple[list[Row], list[str]]:
    """Rows of the scalar-call comparison, per formula, and profile notes for missed goals."""
    rows: list[Row] = []
    notes: list[str] = []
    count = config.pick(4000, 400)
    for name, (ours, factor, base) in FORMULAS.items():
        check_agreement(name)
        samples = interleaved(
            {
                "ours": timed(_calls(ours, count), CPU),
                "LambdaLR": _lambda_lr_steps(factor, base, count),
                "inline": timed(_calls(factor, count), CPU),
            },
            rounds=config.rounds(11),
        )
        per_call = {k: s.scaled(1 / count) for k, s in samples.items()}
        ratio = paired(samples["ours"], samples["LambdaLR"])
        met = ratio.median <= GOAL_VS_LAMBDALR
        rows.append(
            Row(
                f"{name}(int): one call vs LambdaLR.step()",
                seconds_range(per_call["ours"]),
                seconds_range(per_call["LambdaLR"]),
                ratio_range(ratio),
                f"ratio ≤ {GOAL_VS_LAMBDALR}",
                met,
            )
        )
        rows.append(
            Row(
                f"{name}(int): one call vs the formula inlined with math (LambdaLR's lambda)",
                seconds_range(per_call["ours"]),
                seconds_range(per_call["inline"]),
                ratio_range(paired(samples["ours"], samples["inline"])),
            )
        )
        if not met:
            notes.append(
                f"Profile of {name}(int) (cProfile, own time of {count} calls): "
                + python_profile(_calls(ours, count))
            )
        if optax_jax is not None:
            rows.extend(_optax_scalar_rows(name, ours, optax_jax, config))
    return rows, notes


def _optax_scalar_rows(
    name: str,
    ours: Callable[[int], float],
    optax_jax: tuple[ModuleType, ModuleType],
    config: BenchConfig,
) -> list[Row]:
    optax, jax = optax_jax
    theirs = _optax_schedule(optax, name)
    if theirs is None:
        return [Row(f"{name}(int): one call vs optax", "", "optax has no such schedule")]
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
    return [
        Row(
            f"{name}(int): one call vs optax jitted, float(result)",
            seconds_range(ours_call),
            seconds_range(jit_call),
            ratio_range(paired(ours_call, jit_call)),
        ),
        Row(
            f"{name}(int): one call vs optax eager, float(result)",
            seconds_range(ours_call),
            seconds_range(eager_call),
            ratio_range(paired(ours_call, eager_call)),
        ),
    ]


def curve_rows(
    config: BenchConfig, optax_jax: tuple[ModuleType, ModuleType] | None
) -> tuple[list[Row], list[str]]:
    """Rows of the long-curve comparison, and notes."""
    length = config.pick(10**6, 10**4)
    warmup = length // 100
    ours = functools.partial(schedules.warmup_cosine, peak=PEAK, warmup=warmup, steps=length)
    steps32 = torch.arange(length, dtype=torch.float32)
    steps64 = torch.arange(length)
    candidates: dict[str, Measure] = {
        "ours f32": timed(lambda: ours(steps32), WALL),
        "ours i64": timed(lambda: ours(steps64), WALL),
    }
    notes: list[str] = []
    compile_rows: list[Row] = []
    compile_times: list[float] = []
    if not config.quick:
        compiled = torch.compile(ours, fullgraph=True)
        start = time.perf_counter()
        compiled(steps32)
        compile_rows.append(
            Row(
                f"warmup_cosine under torch.compile: first call ({length:,} steps, compile "
                f"included)",
                f"{time.perf_counter() - start:.3g} s",
                "",
            )
        )
        candidates["ours compiled"] = timed(lambda: compiled(steps32), WALL)
    if optax_jax is not None:
        optax, jax = optax_jax
        jnp = jax.numpy
        theirs = optax.warmup_cosine_decay_schedule(0.0, PEAK, warmup, length, 0.0)
        steps_jax = jnp.arange(length)
        for _ in range(config.pick(5, 1)):
            start = time.perf_counter()
            executable = jax.jit(theirs).lower(steps_jax).compile()
            compile_times.append(time.perf_counter() - start)
        candidates["optax"] = timed(lambda: executable(steps_jax).block_until_ready(), WALL)
        reference = torch.from_numpy(jax.device_get(executable(steps_jax)).copy())
        difference = float((ours(steps32) - reference).abs().max())
        notes.append(
            f"10^6-step curve: ours (float32) and optax agree to {difference:.2g} (max abs)."
        )
    samples = interleaved(candidates, rounds=config.rounds(9))
    rows = compile_rows
    if "optax" in samples:
        compile_s = Samples(tuple(compile_times))
        rows.insert(
            0,
            Row(
                f"optax jit compile of the {length:,}-step curve (lower + compile)",
                "",
                seconds_range(compile_s),
            ),
        )
        for name, label in (
            ("ours f32", "float32 steps"),
            ("ours i64", "int64 steps, float64 math"),
            ("ours compiled", "float32 steps, torch.compile"),
        ):
            if name not in samples:
                continue
            ratio = paired(samples[name], samples["optax"])
            goal = name == "ours f32"
            if goal and ratio.median > 1.0:
                notes.append(
                    f"Profile of warmup_cosine on {length:,} float32 steps (torch.profiler, self "
                    f"CPU time): " + torch_op_profile(lambda: ours(steps32))
                )
            rows.append(
                Row(
                    f"warmup_cosine, {length:,} steps ({label}) vs optax jitted run",
                    seconds_range(samples[name]),
                    seconds_range(samples["optax"]),
                    ratio_range(ratio),
                    "ratio ≤ 1 (run time; compile apart)" if goal else "",
                    ratio.median <= 1.0 if goal else None,
                )
            )
    else:
        for name in samples:
            rows.append(
                Row(f"warmup_cosine, {length:,} steps ({name})", seconds_range(samples[name]), "")
            )
    return rows, notes


def _error_text(error: BaseException, limit: int = 48) -> str:
    """``"Type: message"``, the message's first line cut to ``limit`` characters."""
    lines = str(error).splitlines()
    message = lines[0] if lines else ""
    if len(message) > limit:
        message = message[:limit].rstrip() + "…"
    return f"{type(error).__name__}: {message}"


def vmap_rows(
    config: BenchConfig, optax_jax: tuple[ModuleType, ModuleType] | None
) -> tuple[list[Row], list[str]]:
    """Rows of the 64-setting comparison, and notes (what was refused, and why)."""
    length, settings = config.pick(10_000, 1_000), 64
    warmup = length // 20
    steps = torch.arange(length, dtype=torch.float32)
    peaks = torch.linspace(1e-4, 1e-3, settings)
    peak_list = [float(p) for p in peaks]

    def python_loop() -> torch.Tensor:
        return torch.stack(
            [schedules.warmup_cosine(steps, peak=p, warmup=warmup, steps=length) for p in peak_list]
        )

    def scaled_unit_curve() -> torch.Tensor:
        unit = schedules.warmup_cosine(steps, peak=1.0, warmup=warmup, steps=length)
        return peaks[:, None] * unit

    def vmapped() -> torch.Tensor:
        return torch.func.vmap(
            lambda peak: schedules.warmup_cosine(steps, peak=peak, warmup=warmup, steps=length)
        )(peaks)

    candidates: dict[str, Measure] = {
        "loop": timed(python_loop, WALL),
        "scaled": timed(scaled_unit_curve, WALL),
    }
    notes: list[str] = []
    refused: dict[str, str] = {}
    reference = python_loop()
    if not torch.allclose(scaled_unit_curve(), reference, rtol=1e-6, atol=0.0):
        raise AssertionError("the scaled unit curve differs from the loop over peaks")
    try:
        if not torch.allclose(vmapped(), reference, rtol=1e-6, atol=0.0):
            raise AssertionError("torch.func.vmap over peaks differs from the loop")
        candidates["vmap"] = timed(vmapped, WALL)
    except (ValueError, TypeError, RuntimeError) as error:
        refused["vmap"] = _error_text(error)
    if optax_jax is not None:
        optax, jax = optax_jax
        jnp = jax.numpy
        steps_jax, peaks_jax = jnp.arange(length), jnp.asarray(peak_list)

        def curve(peak: Any) -> Any:
            return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, length, 0.0)(steps_jax)

        try:
            executable = jax.jit(jax.vmap(curve)).lower(peaks_jax).compile()
            candidates["optax vmap"] = timed(lambda: executable(peaks_jax).block_until_ready())
        except Exception as error:  # jax raises its own error types for traced branches
            refused["optax vmap"] = _error_text(error)
    samples = interleaved(candidates, rounds=config.rounds(9))
    label = f"{settings} peaks × {length:,} steps"
    rows = [
        Row(
            f"{label}: torch.func.vmap over peak vs a Python loop of Tensor calls",
            seconds_range(samples["vmap"]) if "vmap" in samples else f"refused ({refused['vmap']})",
            seconds_range(samples["loop"]),
            ratio_range(paired(samples["vmap"], samples["loop"])) if "vmap" in samples else "",
        ),
        Row(
            f"{label}: one call at peak=1 × a column of peaks vs the loop",
            seconds_range(samples["scaled"]),
            seconds_range(samples["loop"]),
            ratio_range(paired(samples["scaled"], samples["loop"])),
        ),
    ]
    if optax_jax is not None:
        rows.append(
            Row(
                f"{label}: optax jax.vmap over peak_value (jitted run)",
                "",
                seconds_range(samples["optax vmap"])
                if "optax vmap" in samples
                else f"refused ({refused['optax vmap']})",
            )
        )
    if "vmap" in refused:
        notes.append(
            "torch.func.vmap over a hyperparameter is refused: schedule hyperparameters are "
            "validated Python numbers (DESIGN: the *step* is what may be a Tensor); a sweep "
            "over peaks uses the linearity in peak, or a loop."
        )
    return rows, notes


def run(config: BenchConfig) -> Section:
    """Benchmark 3: scalar calls, a long curve, and 64 hyperparameter settings."""
    optax_jax = load_optax()
    rows, scalar_notes = scalar_rows(config, optax_jax)
    curve, curve_notes = curve_rows(config, optax_jax)
    vmap, vmap_notes = vmap_rows(config, optax_jax)
    notes = [
        "Ours vs LambdaLR (and the inline formula): CPU time of this single-threaded process. "
        "Everything compared with optax, the curves and the sweep: wall time (XLA runs on "
        "its own threads, whose CPU time is accounted only at scheduler ticks)."
    ]
    if optax_jax is None:
        notes.append(SKIPPED)
    return Section(
        NAME,
        "3. Schedule evaluation cost",
        "Pure schedule calls vs LambdaLR.step() and optax: one Python-int step, a long "
        "Tensor curve, and a sweep over 64 peak values.",
        (*rows, *curve, *vmap),
        ("ours", "baseline", "ours / baseline"),
        (*notes, *scalar_notes, *curve_notes, *vmap_notes),
    )
