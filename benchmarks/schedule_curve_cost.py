"""Benchmark 3, Tensor part: whole curves and sweeps over a hyperparameter.

* **Long curves** of ``warmup_cosine`` (bound) in eager mode: 10^6 float32 steps (goal: no
  slower than optax's jitted ``warmup_cosine_decay_schedule`` on an int32 array, float32
  result, ``block_until_ready``; jax's compile time reported apart), 10^6 int64 steps (our
  integer steps are computed in float64), and 10^7 steps of both. Each row says how many
  full-size kernels, passes over memory and fresh buffers our eager curve makes
  (:mod:`benchmarks.memory_passes`); XLA fuses optax's into one loop. ``torch.compile`` of
  ours is shown too (full run only). Wall clock (XLA runs its own threads).
* **Every family optax has**, in several settings (the general case: non-zero ``final``,
  ``start``, ``end``, a ``begin``; growth; few and many boundaries or points): our eager
  float32 curve vs optax's jitted schedule, goal ≤ 1x. Threads are equal: torch runs on
  one, and XLA's CPU client is made while the process is pinned to one CPU
  (:func:`with_one_xla_thread`), which the busy threads measured say; the same curves are
  also shown against optax with XLA's default thread pool (measured in a process of its
  own), so that neither comparison is hidden.
* **64 peaks × 10^4 steps**: ``torch.func.vmap`` over the peak (a Tensor hyperparameter),
  one call with a column of peaks (broadcast), a Python loop of 64 calls, and ``jax.vmap`` of
  optax's schedule over ``peak_value`` (when installed).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

import schedules
from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import ratio_range, seconds_range
from benchmarks.memory_passes import count_passes
from benchmarks.optional_optax import load_optax
from benchmarks.profiles import torch_op_profile
from benchmarks.results import Row
from benchmarks.timing import WALL, Measure, Samples, interleaved, paired, timed

PEAK = 1e-3

OptaxJax = tuple[ModuleType, ModuleType]


def _run_jitted(executable: Any, steps: Any) -> Any:
    """One run of a compiled optax curve, waited for (JAX dispatches asynchronously)."""
    return executable(steps).block_until_ready()


def with_one_xla_thread(load: Callable[[], OptaxJax | None]) -> OptaxJax | None:
    """``load()`` (which imports optax and jax) with XLA's CPU client made while this thread
    is pinned to one CPU: XLA sizes its thread pool by the CPUs it may run on, so its
    schedules run on one thread, as torch's do here (``--threads 1``); the pin is lifted
    afterwards. Where jax was imported already (its pool made) or the OS cannot pin, it is
    ``load()`` alone: :func:`xla_busy_threads` says what XLA used."""
    if "jax" in sys.modules or not hasattr(os, "sched_setaffinity"):
        return load()
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        loaded = load()
        if loaded is not None:
            loaded[1].devices()  # the CPU client and its thread pool, made now
    finally:
        os.sched_setaffinity(0, cpus)
    return loaded


def xla_busy_threads(run: Callable[[], object], seconds: float = 0.2) -> float:
    """How many threads ``run()`` (an XLA computation) keeps busy: this process's CPU time
    over the wall time of repeated runs (1.0: one thread; CPU time is accounted at scheduler
    ticks, so the runs last ``seconds`` in all)."""
    run()
    wall, cpu, runs = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - wall < seconds or runs < 3:
        run()
        runs += 1
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


def _error_text(error: BaseException, limit: int = 48) -> str:
    """``"Type: message"``, the message's first line cut to ``limit`` characters."""
    lines = str(error).splitlines()
    message = lines[0] if lines else ""
    if len(message) > limit:
        message = message[:limit].rstrip() + "…"
    return f"{type(error).__name__}: {message}"


def _curve_rows_of_length(
    config: BenchConfig, length: int, optax_jax: tuple[ModuleType, ModuleType] | None, goal: bool
) -> tuple[list[Row], list[str]]:
    warmup = length // 100
    ours = schedules.bind(schedules.warmup_cosine, peak=PEAK, warmup=warmup, steps=length)
    steps32 = torch.arange(length, dtype=torch.float32)
    steps64 = torch.arange(length)
    passes = {
        "f32": count_passes(lambda: ours(steps32), length),
        "i64": count_passes(lambda: ours(steps64), length),
    }
    candidates: dict[str, Measure] = {
        "ours f32": timed(lambda: ours(steps32), WALL),
        "ours i64": timed(lambda: ours(steps64), WALL),
    }
    rows: list[Row] = []
    notes: list[str] = []
    if not config.quick and goal:
        compiled = torch.compile(ours, fullgraph=True)
        start = time.perf_counter()
        compiled(steps32)  # type: ignore[no-untyped-call]
        rows.append(
            Row(
                f"warmup_cosine under torch.compile: first call ({length:,} steps, compile "
                f"included)",
                f"{time.perf_counter() - start:.3g} s",
                "",
            )
        )
        candidates["ours compiled"] = timed(lambda: compiled(steps32), WALL)  # type: ignore[no-untyped-call]
    compile_times: list[float] = []
    if optax_jax is not None:
        optax, jax = optax_jax
        jnp = jax.numpy
        theirs = optax.warmup_cosine_decay_schedule(0.0, PEAK, warmup, length, 0.0)
        steps_jax = jnp.arange(length)
        for _ in range(config.pick(3, 1)):
            start = time.perf_counter()
            executable = jax.jit(theirs).lower(steps_jax).compile()
            compile_times.append(time.perf_counter() - start)
        candidates["optax"] = timed(lambda: executable(steps_jax).block_until_ready(), WALL)
        reference = torch.from_numpy(jax.device_get(executable(steps_jax)).copy())
        difference = float((ours(steps32) - reference).abs().max())
        notes.append(
            f"{length:,}-step curve: ours (float32) and optax agree to {difference:.2g} (max abs)."
        )
    samples = interleaved(candidates, rounds=config.rounds(9 if length <= 10**6 else 5))
    labels = {
        "ours f32": f"float32 steps; {passes['f32'].describe()}",
        "ours i64": f"int64 steps, float64 math; {passes['i64'].describe()}",
        "ours compiled": "float32 steps, torch.compile",
    }
    if "optax" in samples:
        rows.insert(
            0,
            Row(
                f"optax jit compile of the {length:,}-step curve (lower + compile)",
                "",
                seconds_range(Samples(tuple(compile_times))),
            ),
        )
        for name, label in labels.items():
            if name not in samples:
                continue
            ratio = paired(samples[name], samples["optax"])
            with_goal = goal and name == "ours f32"
            if with_goal and ratio.median > 1.0:
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
                    "ratio ≤ 1 (run time; compile apart)" if with_goal else "",
                    ratio.median <= 1.0 if with_goal else None,
                )
            )
    else:
        for name, label in labels.items():
            if name in samples:
                rows.append(
                    Row(
                        f"warmup_cosine, {length:,} steps ({label})",
                        seconds_range(samples[name]),
                        "",
                    )
                )
    return rows, notes


def curve_rows(
    config: BenchConfig, optax_jax: tuple[ModuleType, ModuleType] | None
) -> tuple[list[Row], list[str]]:
    """Rows of the long-curve comparisons (10^6 steps with the goal, then 10^7), and notes."""
    rows, notes = _curve_rows_of_length(config, config.pick(10**6, 10**4), optax_jax, True)
    more, more_notes = _curve_rows_of_length(config, config.pick(10**7, 10**5), optax_jax, False)
    return rows + more, notes + more_notes


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

    def column() -> torch.Tensor:
        return schedules.warmup_cosine(steps, peak=peaks[:, None], warmup=warmup, steps=length)

    def vmapped() -> torch.Tensor:
        return torch.func.vmap(
            lambda peak: schedules.warmup_cosine(steps, peak=peak, warmup=warmup, steps=length)
        )(peaks)

    candidates: dict[str, Measure] = {"loop": timed(python_loop, WALL)}
    notes: list[str] = []
    refused: dict[str, str] = {}
    reference = python_loop()
    for name, work in (("vmap", vmapped), ("column", column)):
        try:
            if not torch.allclose(work(), reference, rtol=1e-6, atol=1e-6 * PEAK):  # float32
                raise AssertionError(f"{name} over peaks differs from the loop")
            candidates[name] = timed(work, WALL)
        except (ValueError, TypeError, RuntimeError) as error:
            refused[name] = _error_text(error)
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

    def versus_loop(name: str, what: str) -> Row:
        if name not in samples:
            return Row(f"{label}: {what} vs a Python loop of Tensor calls",
                       f"refused ({refused[name]})", seconds_range(samples["loop"]))  # fmt: skip
        return Row(
            f"{label}: {what} vs a Python loop of Tensor calls",
            seconds_range(samples[name]),
            seconds_range(samples["loop"]),
            ratio_range(paired(samples[name], samples["loop"])),
        )

    rows = [
        versus_loop("vmap", "torch.func.vmap over the peak"),
        versus_loop("column", "one call with a column of peaks (broadcast)"),
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
    if "optax vmap" in refused:
        notes.append(
            "optax's warmup_cosine_decay_schedule branches in Python on peak_value (its "
            "alpha = 0 if peak_value == 0), so jax.vmap over it is refused."
        )
    return rows, notes


def _family_cases(length: int, optax: ModuleType, jnp: ModuleType) -> list[tuple[str, Any, Any]]:
    """``(label, our bound schedule, optax's schedule)`` for each family optax has, in its
    general case (non-zero ``final``/``start``/``end``, a ``begin``) and in a few other
    settings, not only the common one.

    optax's ``constant_schedule`` returns its 0-d value whatever the count's shape; its row
    broadcasts that value to the count's shape (under ``jit``, so XLA writes the curve as
    ours does): both sides produce the 10^6 values."""
    bind = schedules.bind
    n, tenth = length, length // 10
    hundredth = max(length // 100, 1)
    boundaries = [length * (i + 1) // 101 for i in range(100)]
    values = [PEAK * 0.97**i for i in range(101)]
    few = [length * (i + 1) // 11 for i in range(10)]
    points = [(0, 0.0), (hundredth, PEAK), (n // 2, PEAK / 3), (n, PEAK / 100)]
    many = [(0, PEAK / 100)] + [(n * (i + 1) // 10, PEAK * (0.5 + 0.5 * (-1) ** i)
                                 + PEAK / 100) for i in range(10)]  # fmt: skip
    constant = optax.constant_schedule(PEAK)

    def sgdr_cycle(peak: float, warmup: int, length: int, start: float | None = None) -> Any:
        """One cycle of optax's ``sgdr_schedule``: a warmup cosine down to 1% of PEAK."""
        begin = peak if start is None else start
        return {"init_value": begin, "peak_value": peak, "warmup_steps": warmup,
                "decay_steps": length, "end_value": PEAK / 100}  # fmt: skip

    def scales(pairs: list[tuple[int, float]]) -> dict[int, float]:
        return {x1: v1 / v0 for (_, v0), (x1, v1) in itertools.pairwise(pairs)}

    return [
        (
            "constant (optax's value broadcast to the steps)",
            bind(schedules.constant, value=PEAK),
            lambda count: jnp.broadcast_to(jnp.asarray(constant(count), jnp.float32), count.shape),
        ),
        (
            "linear, 1% peak → peak from begin (rising)",
            bind(schedules.linear, start=PEAK / 100, end=PEAK, steps=n // 2, begin=tenth),
            optax.linear_schedule(PEAK / 100, PEAK, n // 2, tenth),
        ),
        (
            "linear, start 0 → peak",
            bind(schedules.linear, start=0.0, end=PEAK, steps=n // 2),
            optax.linear_schedule(0.0, PEAK, n // 2),
        ),
        (
            "linear, peak → 1% peak from begin",
            bind(schedules.linear, start=PEAK, end=PEAK / 100, steps=n // 2, begin=tenth),
            optax.linear_schedule(PEAK, PEAK / 100, n // 2, tenth),
        ),
        (
            "polynomial power 2, end 1% peak, begin",
            bind(
                schedules.polynomial,
                start=PEAK,
                end=PEAK / 100,
                steps=n // 2,
                power=2.0,
                begin=tenth,
            ),
            optax.polynomial_schedule(PEAK, PEAK / 100, 2.0, n // 2, tenth),
        ),
        (
            "polynomial power 0.5, end 0",
            bind(schedules.polynomial, start=PEAK, end=0.0, steps=n, power=0.5),
            optax.polynomial_schedule(PEAK, 0.0, 0.5, n),
        ),
        (
            "exponential rate 0.5, end bound, begin",
            bind(
                schedules.exponential,
                start=PEAK,
                rate=0.5,
                steps=tenth,
                begin=tenth,
                end=PEAK / 100,
            ),
            optax.exponential_decay(PEAK, tenth, 0.5, tenth, False, PEAK / 100),
        ),
        (
            "exponential staircase",
            bind(schedules.exponential, start=PEAK, rate=0.5, steps=tenth, staircase=True),
            optax.exponential_decay(PEAK, tenth, 0.5, 0, True),
        ),
        (
            "cosine, final 1% peak",
            bind(schedules.cosine, peak=PEAK, steps=n, final=PEAK / 100),
            optax.cosine_decay_schedule(PEAK, n, alpha=0.01),
        ),
        (
            "cosine, final 0, exponent 2",
            bind(schedules.cosine, peak=PEAK, steps=n, exponent=2.0),
            optax.cosine_decay_schedule(PEAK, n, alpha=0.0, exponent=2.0),
        ),
        (
            "warmup_cosine, start 0, final 0 (common)",
            bind(schedules.warmup_cosine, peak=PEAK, warmup=hundredth, steps=n),
            optax.warmup_cosine_decay_schedule(0.0, PEAK, hundredth, n, 0.0),
        ),
        (
            "warmup_cosine, start and final 1% peak",
            bind(
                schedules.warmup_cosine,
                peak=PEAK,
                warmup=hundredth,
                steps=n,
                start=PEAK / 100,
                final=PEAK / 100,
            ),
            optax.warmup_cosine_decay_schedule(PEAK / 100, PEAK, hundredth, n, PEAK / 100),
        ),
        (
            "warmup_cosine, final 10% peak, exponent 2",
            bind(
                schedules.warmup_cosine,
                peak=PEAK,
                warmup=hundredth,
                steps=n,
                final=PEAK / 10,
                exponent=2.0,
            ),
            optax.warmup_cosine_decay_schedule(0.0, PEAK, hundredth, n, PEAK / 10, 2.0),
        ),
        (
            "exponential growth rate 2, end bound (a ceiling)",
            bind(schedules.exponential, start=PEAK / 100, rate=2.0, steps=tenth, end=PEAK),
            optax.exponential_decay(PEAK / 100, tenth, 2.0, 0, False, PEAK),
        ),
        (
            "cosine_restarts, 10 cycles, final 1% peak (optax sgdr_schedule)",
            bind(schedules.cosine_restarts, peak=PEAK, period=tenth, final=PEAK / 100),
            optax.sgdr_schedule([sgdr_cycle(PEAK, 0, tenth)] * 10),
        ),
        (
            "cosine_restarts, cycles doubling, peaks halving, final 1% peak",
            bind(
                schedules.cosine_restarts,
                peak=PEAK,
                period=n // 15,
                mult=2.0,
                decay=0.5,
                final=PEAK / 100,
            ),
            optax.sgdr_schedule([sgdr_cycle(PEAK * 0.5**i, 0, n // 15 * 2**i) for i in range(5)]),
        ),
        (
            "cosine_restarts, 10 cycles, each warmed up from 1% peak",
            bind(
                schedules.cosine_restarts,
                peak=PEAK,
                period=tenth,
                final=PEAK / 100,
                warmup=hundredth,
            ),
            optax.sgdr_schedule([sgdr_cycle(PEAK, hundredth, tenth, PEAK / 100)] * 10),
        ),
        (
            "piecewise_constant, 100 boundaries",
            bind(schedules.piecewise_constant, boundaries=boundaries, values=values),
            optax.piecewise_constant_schedule(PEAK, {b: 0.97 for b in boundaries}),
        ),
        (
            "piecewise_constant, 10 boundaries",
            bind(schedules.piecewise_constant, boundaries=few, values=values[:11]),
            optax.piecewise_constant_schedule(PEAK, {b: 0.97 for b in few}),
        ),
        (
            "piecewise_linear, 4 points",
            bind(schedules.piecewise_linear, points=points),
            optax.piecewise_interpolate_schedule(
                "linear", 1e-12, {hundredth: PEAK / 1e-12, n // 2: 1 / 3, n: 3 / 100}
            ),
        ),
        (
            "piecewise_linear, 11 points, cosine",
            bind(schedules.piecewise_linear, points=many, interpolation="cosine"),
            optax.piecewise_interpolate_schedule("cosine", many[0][1], scales(many)),
        ),
    ]


def family_curve_rows(
    config: BenchConfig, optax_jax: tuple[ModuleType, ModuleType] | None
) -> tuple[list[Row], list[str]]:
    """Every family optax has, in several settings: our eager float32 curve vs optax's jitted
    schedule on int32 steps (goal ≤ 1x in the general case; run time, compile apart)."""
    if optax_jax is None:
        return [], []
    optax, jax = optax_jax
    length = config.pick(10**6, 10**4)
    steps32 = torch.arange(length, dtype=torch.float32)
    shuffled = steps32[torch.randperm(length, generator=torch.Generator().manual_seed(0))]
    steps_jax = jax.numpy.arange(length)
    rows: list[Row] = []
    notes: list[str] = [
        "Sorted steps (these rows: torch.arange) come in runs, which piecewise_constant, "
        "multistep, piecewise_linear, cosine_restarts and warmup_cosine write interval by "
        "interval "
        "(schedules.step_runs, after checking that every run lies in its interval); the "
        "'shuffled' rows time the same steps in random order, which take the general formula."
    ]
    slowest: tuple[float, Any] | None = None
    ours_by_label: dict[str, Samples] = {}
    for label, ours, theirs in _family_cases(length, optax, jax.numpy):
        try:
            executable = jax.jit(theirs).lower(steps_jax).compile()
        except TypeError:  # a schedule of a scalar count only: mapped over the steps
            executable = jax.jit(jax.vmap(theirs)).lower(steps_jax).compile()
            notes.append(f"{label}: optax's schedule takes a scalar count; jit(vmap) of it")
        reference = torch.from_numpy(jax.device_get(executable(steps_jax)).copy())
        difference = float((ours(steps32).double() - reference.double()).abs().max())
        if difference > 1e-3 * PEAK:  # float32 steps against int32 steps
            notes.append(f"{label}: ours and optax differ by {difference:.2g} (max abs)")
        samples = interleaved(
            {
                "ours": timed(functools.partial(ours, steps32), WALL),
                "optax": timed(functools.partial(_run_jitted, executable, steps_jax), WALL),
            },
            rounds=config.rounds(FAMILY_ROUNDS),
        )
        ours_by_label[label] = samples["ours"]
        ratio = paired(samples["ours"], samples["optax"])
        if slowest is None or samples["optax"].median > slowest[0]:
            slowest = (samples["optax"].median, executable)
        passes = count_passes(functools.partial(ours, steps32), length)
        rows.append(
            Row(
                f"{label}, {length:,} float32 steps ({passes.describe()}) vs optax jitted",
                seconds_range(samples["ours"]),
                seconds_range(samples["optax"]),
                ratio_range(ratio),
                "ratio ≤ 1 (run time; compile apart)",
                ratio.median <= 1.0,
            )
        )
        if label.startswith(WRITTEN_BY_RUNS):
            rows.append(_shuffled_row(config, label, ours, shuffled, executable, steps_jax))
    raw = jax.jit(optax.constant_schedule(PEAK)).lower(steps_jax).compile()
    raw_time = interleaved({"raw": timed(lambda: raw(steps_jax).block_until_ready(), WALL)}, 3)
    rows.append(
        Row(
            "optax constant_schedule as it is (a 0-d value, no curve): jitted run",
            "",
            seconds_range(raw_time["raw"]),
        )
    )
    if slowest is not None:
        run_slowest = slowest[1]
        busy = xla_busy_threads(lambda: run_slowest(steps_jax).block_until_ready())
        notes.append(
            f"Threads: torch runs on {torch.get_num_threads()} intra-op thread(s); optax's XLA "
            f"runs kept {busy:.2f} threads busy (process CPU time / wall time over its slowest "
            "family curve). Its CPU client is made pinned to one CPU (XLA sizes its pool by "
            "the CPUs it may use), so both sides run on one thread."
        )
    default_rows, default_notes = _default_thread_rows(length, config.rounds(7), ours_by_label)
    return rows + default_rows, notes + default_notes


FAMILY_ROUNDS = 21
"""Rounds of each family row: one call of a curve lasts 0.05-50 ms, and single calls of a few
hundred microseconds on a shared machine vary by ±50 % from round to round (measured: 7
rounds gave medians of the same `linear` row from 1.08 to 1.64 in two runs)."""

WRITTEN_BY_RUNS = (
    "warmup_cosine, start and final",
    "cosine_restarts, cycles doubling",
    "piecewise_constant, 10 boundaries",
    "piecewise_linear, 4 points",
)
"""Families whose general formula (steps not in runs) is also reported: a row each."""


def _shuffled_row(
    config: BenchConfig,
    label: str,
    ours: Any,
    shuffled: torch.Tensor,
    executable: Any,
    steps_jax: Any,
) -> Row:
    """Our curve on the same steps shuffled (the general formula, no runs) vs optax's jitted
    run on its int32 steps (whose cost does not depend on their order); reported only."""
    samples = interleaved(
        {
            "ours": timed(functools.partial(ours, shuffled), WALL),
            "optax": timed(functools.partial(_run_jitted, executable, steps_jax), WALL),
        },
        rounds=config.rounds(5),
    )
    return Row(
        f"{label}, shuffled steps (the general formula) vs optax jitted",
        seconds_range(samples["ours"]),
        seconds_range(samples["optax"]),
        ratio_range(paired(samples["ours"], samples["optax"])),
    )


def _jitted_run(executable: Any, steps: Any) -> Measure:
    """A :data:`Measure` of one jitted run on ``steps`` (until its result is ready)."""
    return timed(lambda: executable(steps).block_until_ready(), WALL)


def optax_family_times(length: int, rounds: int) -> dict[str, Any]:
    """optax's jitted family curves timed in this process with XLA's thread pool as jax
    makes it by default: ``{"busy": threads kept busy, "times": {label: [seconds per
    round]}}`` (run in a process of its own by :func:`family_curve_rows`)."""
    loaded = load_optax()
    if loaded is None:
        raise RuntimeError("optax is not installed")
    optax, jax = loaded
    steps_jax = jax.numpy.arange(length)
    executables: dict[str, Any] = {}
    for label, _, theirs in _family_cases(length, optax, jax.numpy):
        try:
            executables[label] = jax.jit(theirs).lower(steps_jax).compile()
        except TypeError:
            executables[label] = jax.jit(jax.vmap(theirs)).lower(steps_jax).compile()
    samples = interleaved(
        {k: _jitted_run(e, steps_jax) for k, e in executables.items()}, rounds=rounds
    )
    slowest = executables[max(samples, key=lambda k: samples[k].median)]
    busy = xla_busy_threads(lambda: slowest(steps_jax).block_until_ready())
    return {"busy": busy, "times": {k: list(v.values) for k, v in samples.items()}}


def _default_thread_rows(
    length: int, rounds: int, ours: dict[str, Samples]
) -> tuple[list[Row], list[str]]:
    """The family rows again against optax with XLA's default thread pool (measured in a
    process of its own: a process has one XLA CPU client), beside ours on one thread: both
    are shown, not only the equal-threads comparison. Ratios of medians (the two were not
    interleaved)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (
        "import json; from benchmarks.schedule_curve_cost import optax_family_times as t; "
        f"print(json.dumps(t({length}, {rounds})))"
    )
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "PYTHONPATH": path},
            check=True,
        )
        measured = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as error:
        return [], [f"optax with XLA's default threads not measured: {_error_text(error)}"]
    busy = measured["busy"]
    rows = []
    for label, times in measured["times"].items():
        theirs = Samples(tuple(times))
        rows.append(
            Row(
                f"{label}: ours (1 thread) vs optax jitted with XLA's default threads "
                f"({busy:.2f} busy)",
                seconds_range(ours[label]),
                seconds_range(theirs),
                f"{ours[label].median / theirs.median:.3f} (medians)",
            )
        )
    return rows, [
        f"XLA's default thread pool (its own process, not pinned) kept {busy:.2f} threads "
        f"busy on this {os.cpu_count()}-CPU machine; those rows compare medians of runs that "
        "were not interleaved."
    ]
