"""Benchmark 2: a ``torch.compile``d model and optimizer step across lr changes.

Two runs of the same work, a tiny MLP compiled with ``torch.compile`` and AdamW whose
``optimizer.step()`` is compiled too, the lr changing at every update (``warmup_cosine``):

* **shell**: ``OptimScheduler(optimizer=..., schedule=..., compile_step={"backend": ...})``:
  the lr is a 0-dim Tensor written in place, a graph input;
* **LambdaLR**: the loop of the PyTorch tutorial on compiling the optimizer, with a float lr
  that ``LambdaLR.step()`` rewrites after each update.

Figures: the unique graphs dynamo compiled (a counting backend, and
``torch._dynamo.utils.counters["stats"]["unique_graphs"]``) and the total wall time of the
run, compilation included. Each round starts from ``torch._dynamo.reset()`` with inductor's
on-disk graph cache off, so every round pays its compilations. Goal: the shell compiles no new
graph when the lr changes.

Observed on torch 2.13: a changing float lr no longer recompiles at every change, as it did
before ``specialize_float=False`` and automatic dynamic shapes: dynamo recompiles once, with
the float as a symbolic input. The figures show what this torch does.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable

import attrs
import torch
from torch import nn
from torch._dynamo.testing import CompileCounterWithBackend
from torch._dynamo.utils import counters
from torch.nn import functional
from torch.optim.lr_scheduler import LambdaLR

import schedules
from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import ratio_range, seconds_range
from benchmarks.results import Row, Section
from benchmarks.timing import Samples, paired
from optimsche import OptimScheduler

NAME = "compile_recompiles"
PEAK = 1e-2
WARMUP = 5


@attrs.frozen
class CompileRun:
    """What one run of a candidate measured."""

    seconds: float
    graphs: int
    """Graphs the counting backend compiled (model forward/backward and optimizer step)."""
    unique_graphs: int
    """``counters["stats"]["unique_graphs"]`` after the run."""
    graphs_after_first_update: int
    """Graphs compiled by the end of the first update: later lr changes added the rest."""


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))


def _data(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(4, 8, generator=generator), torch.randn(4, 1, generator=generator))
    ] * count


def _schedule(updates: int) -> Callable[[int], float]:
    warmup = min(WARMUP, updates // 2)
    return functools.partial(schedules.warmup_cosine, peak=PEAK, warmup=warmup, steps=updates + 1)


def run_shell(updates: int, backend: str) -> tuple[CompileRun, nn.Module]:
    """The shell drives a compiled model and a compiled optimizer step (Tensor lr)."""
    torch._dynamo.reset()
    counters.clear()
    counter = CompileCounterWithBackend(backend)
    model = _model()
    compiled_model = torch.compile(model, backend=counter)
    sche = OptimScheduler(
        optimizer=torch.optim.AdamW(model.parameters(), lr=PEAK),
        schedule=_schedule(updates),
        compile_step={"backend": counter},
    )
    after_first = 0
    start = time.perf_counter()
    for update, (x, y) in enumerate(_data(updates), start=1):
        sche.step(functional.mse_loss(compiled_model(x), y))
        if update == 1:
            after_first = int(counter.frame_count)
    seconds = time.perf_counter() - start
    return _result(seconds, counter, after_first), model


def run_lambda_lr(updates: int, backend: str) -> tuple[CompileRun, nn.Module]:
    """The same work with a float lr written by ``LambdaLR`` around a compiled ``step``."""
    torch._dynamo.reset()
    counters.clear()
    counter = CompileCounterWithBackend(backend)
    model = _model()
    compiled_model = torch.compile(model, backend=counter)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK)
    lr_of = _schedule(updates)
    scheduler = LambdaLR(optimizer, lambda epoch: lr_of(epoch + 1) / PEAK)

    @torch.compile(backend=counter)
    def optimizer_step() -> None:
        optimizer.step()

    after_first = 0
    start = time.perf_counter()
    for update, (x, y) in enumerate(_data(updates), start=1):
        functional.mse_loss(compiled_model(x), y).backward()  # type: ignore[no-untyped-call]
        optimizer_step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if update == 1:
            after_first = int(counter.frame_count)
    seconds = time.perf_counter() - start
    return _result(seconds, counter, after_first), model


def _result(seconds: float, counter: CompileCounterWithBackend, after_first: int) -> CompileRun:
    return CompileRun(
        seconds, int(counter.frame_count), int(counters["stats"]["unique_graphs"]), after_first
    )


def _float_lr_explanation(float_lr: CompileRun, updates: int) -> str:
    later = float_lr.graphs - float_lr.graphs_after_first_update
    text = (
        f"The float-lr loop compiled {later} graph(s) after its first update, over "
        f"{updates - 1} further lr changes"
    )
    if later == 1:
        return text + (
            f" (torch {torch.__version__}: dynamo recompiles once for a changing Python float, "
            f"then traces it as a symbolic input)."
        )
    return text + "."


def _warm_up(backend: str) -> None:
    """Compile and run a throwaway model and optimizer step once, so that the first measured
    candidate does not pay dynamo's (and the backend's) one-time imports and checks."""
    torch._dynamo.reset()
    model = nn.Linear(2, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=torch.tensor(0.1))
    torch.compile(model, backend=backend)(torch.ones(1, 2)).sum().backward()
    torch.compile(optimizer.step, backend=backend)()
    torch._dynamo.reset()


def _same_counts(results: dict[str, list[CompileRun]]) -> bool:
    return all(len({(r.graphs, r.unique_graphs) for r in runs}) == 1 for runs in results.values())


def pick_backend(config: BenchConfig) -> str:
    """``inductor`` (the default backend) in a full run when a C++ compiler is found, else
    ``aot_eager`` (dynamo and AOT autograd, no code generation: the same graphs, cheaper);
    ``eager`` (dynamo's graphs run as they are) in a quick run."""
    if config.quick:
        return "eager"
    has_compiler = any(shutil.which(name) for name in ("g++", "c++", "clang++"))
    return "inductor" if has_compiler else "aot_eager"


def run(config: BenchConfig) -> Section:
    """Benchmark 2: interleaved rounds of both candidates, each from a fresh dynamo."""
    updates = config.pick(30, 3)
    backend = pick_backend(config)
    rounds = config.pick(3, 1)
    candidates = {"shell": run_shell, "LambdaLR": run_lambda_lr}
    results: dict[str, list[CompileRun]] = {name: [] for name in candidates}
    models: dict[str, nn.Module] = {}
    with torch._inductor.config.patch(fx_graph_cache=False):
        _warm_up(backend)
        for round_index in range(rounds):
            names = list(candidates)
            if round_index % 2:
                names.reverse()
            for name in names:
                result, models[name] = candidates[name](updates, backend)
                results[name].append(result)
    torch._dynamo.reset()
    for p, q in zip(models["shell"].parameters(), models["LambdaLR"].parameters(), strict=True):
        if not torch.allclose(p, q, rtol=1e-4, atol=1e-6):
            raise AssertionError("the compiled shell and the LambdaLR loop trained differently")
    shell, float_lr = results["shell"][-1], results["LambdaLR"][-1]
    times = {name: Samples(tuple(r.seconds for r in runs)) for name, runs in results.items()}
    no_recompile = all(r.graphs == r.graphs_after_first_update for r in results["shell"])
    rows = (
        Row(
            f"graphs compiled over {updates} lr changes (counting backend)",
            str(shell.graphs),
            str(float_lr.graphs),
            "",
            "shell: no new graph after the first update",
            no_recompile,
        ),
        Row(
            "dynamo counters['stats']['unique_graphs']",
            str(shell.unique_graphs),
            str(float_lr.unique_graphs),
        ),
        Row(
            "graphs compiled by the end of update 1 / after it",
            f"{shell.graphs_after_first_update} / {shell.graphs - shell.graphs_after_first_update}",
            f"{float_lr.graphs_after_first_update} / "
            f"{float_lr.graphs - float_lr.graphs_after_first_update}",
        ),
        Row(
            f"total wall time of {updates} updates, compilation included",
            seconds_range(times["shell"]),
            seconds_range(times["LambdaLR"]),
            ratio_range(paired(times["shell"], times["LambdaLR"])),
        ),
    )
    return Section(
        NAME,
        "2. torch.compile across lr changes",
        f"A compiled tiny MLP and compiled AdamW step, lr changed at each of {updates} "
        f"updates: the shell (Tensor lr, compile_step=) vs a float lr written by LambdaLR. "
        f"Backend: {backend} (model and optimizer graphs counted together).",
        rows,
        ("ours (shell, Tensor lr)", "baseline (LambdaLR, float lr)", "ours / baseline"),
        (
            f"{rounds} interleaved round(s), each from torch._dynamo.reset() with inductor's "
            f"FX graph cache off; graph counts are from the last round"
            + ("" if _same_counts(results) else " (they differed between rounds)")
            + ".",
            _float_lr_explanation(float_lr, updates),
        ),
    )
