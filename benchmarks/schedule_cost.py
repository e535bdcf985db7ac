"""Benchmark 3: what evaluating a schedule costs.

Two parts, run side by side with their baselines:

* :mod:`benchmarks.schedule_scalar_cost`: one value at a Python int step: a bound schedule vs
  the formula inlined with ``math`` (goal ≤ 2x), a direct keyword call vs ``LambdaLR.step()``
  (goal ≤ 0.2x), ``piecewise_constant`` with 100 boundaries vs an inline ``bisect`` (goal
  ≤ 2x), and optax at a Python int;
* :mod:`benchmarks.schedule_curve_cost`: 10^6- and 10^7-step curves vs optax's jitted
  schedule (goal at 10^6 float32 steps: no slower), with the passes over memory counted;
  every family optax has, in several settings (its general case: non-zero ``final``,
  ``start``, ``end``, a ``begin``), each against optax; and a sweep over 64 peaks (vmap, a
  broadcast column, a loop, jax.vmap).

Clocks: the scalar comparisons with ``LambdaLR`` and the inline formula are single-threaded
Python, timed on the process's CPU clock (the machine is shared: wall time would count other
processes' turns). Everything compared with optax, the curves and the sweep are timed on the
wall clock: XLA runs on its own threads, whose CPU time Linux accounts only at scheduler
ticks, so a CPU clock under-counts millisecond-long XLA runs.

Threads: torch runs on one intra-op thread (``--threads 1``), and optax is loaded with XLA's
CPU client made while the process is pinned to one CPU, so that XLA, which sizes its pool by
the CPUs it may use, runs on one thread too (the family rows say how many it kept busy, and
repeat the comparison against XLA's default pool, measured in a process of its own).
"""

from __future__ import annotations

from benchmarks.bench_config import BenchConfig
from benchmarks.optional_optax import SKIPPED, load_optax
from benchmarks.results import Section
from benchmarks.schedule_curve_cost import (
    curve_rows,
    family_curve_rows,
    vmap_rows,
    with_one_xla_thread,
)
from benchmarks.schedule_scalar_cost import formula_rows, lookup_rows, optax_rows

NAME = "schedule_cost"


def run(config: BenchConfig) -> Section:
    """Benchmark 3: scalar calls, long curves, and 64 hyperparameter settings."""
    optax_jax = with_one_xla_thread(load_optax)
    rows, scalar_notes, bound_of = formula_rows(config)
    lookups, lookup_notes = lookup_rows(config)
    optax = optax_rows(config, optax_jax, bound_of) if optax_jax is not None else []
    curve, curve_notes = curve_rows(config, optax_jax)
    vmap, vmap_notes = vmap_rows(config, optax_jax)
    families, family_notes = family_curve_rows(config, optax_jax)
    notes = [
        "Bound and direct calls vs LambdaLR and the inline formula: CPU time of this "
        "single-threaded process. Everything compared with optax, the curves and the sweep: "
        "wall time (XLA runs on its own threads, whose CPU time is accounted only at "
        "scheduler ticks); XLA's CPU client is made pinned to one CPU (unless jax was loaded "
        "before), so it runs one thread, as torch does: the family rows' note gives the "
        "threads it kept busy."
    ]
    if optax_jax is None:
        notes.append(SKIPPED)
    return Section(
        NAME,
        "3. Schedule evaluation cost",
        "Pure schedule calls vs the inline formula, LambdaLR.step() and optax: one Python-int "
        "step (bound and direct), interval lookups, long Tensor curves, and a sweep over 64 "
        "peak values.",
        (*rows, *lookups, *optax, *curve, *families, *vmap),
        ("ours", "baseline", "ours / baseline"),
        (*notes, *scalar_notes, *lookup_notes, *curve_notes, *family_notes, *vmap_notes),
    )
