"""Benchmark 5: gradient accumulation over variable-length batches, token-exact or not.

A window of :data:`ACCUM` micro-batches with random token counts (1 to 64 tokens each, like
sequences of different lengths) feeds a token classifier (cross-entropy per token), in
float32 and in float64.
The reference is the large-batch gradient: the gradient of the mean loss over all tokens of
the window. Compared, by relative L2 error ``‖g − g_large‖ / ‖g_large‖`` over all parameters:

* **per-micro-batch mean** (the classic bug): each micro-batch's mean loss divided by the
  number of micro-batches, i.e. every micro-batch weighs the same whatever its length;
* **shell without num_items**: ``OptimScheduler.step(mean_loss)``, which is that same mean of
  means (documented: exact only for equal micro-batches);
* **shell with num_items**: ``OptimScheduler.step(sum_loss, num_items=tokens)``: the window's
  gradient is divided by the window's total tokens. Goal: exact up to rounding (≤ 1e-6 in
  float32, ≤ 1e-12 in float64, for the largest error over all windows).

The shell's gradient is read in an optimizer step pre-hook (SGD with lr 0, so every window
is evaluated at the same parameters).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.bench_config import BenchConfig
from benchmarks.results import Row, Section
from benchmarks.timing import Samples
from optimsche import OptimScheduler

NAME = "token_exact"
ACCUM = 4
FEATURES, CLASSES, MAX_TOKENS = 16, 8, 64
GOALS = {torch.float32: 1e-6, torch.float64: 1e-12}

MicroBatch = tuple[Tensor, Tensor]


def _model(dtype: torch.dtype) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(FEATURES, CLASSES).to(dtype)


def windows(count: int, dtype: torch.dtype, seed: int = 5) -> list[list[MicroBatch]]:
    """``count`` windows of ``ACCUM`` micro-batches with 1..MAX_TOKENS tokens each, features
    of ``dtype``."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        window = []
        for _ in range(ACCUM):
            tokens = int(torch.randint(1, MAX_TOKENS + 1, (), generator=generator))
            x = torch.randn(tokens, FEATURES, generator=generator, dtype=dtype)
            y = torch.randint(0, CLASSES, (tokens,), generator=generator)
            window.append((x, y))
        out.append(window)
    return out


def _flat(grads: list[Tensor]) -> Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def large_batch_gradient(model: nn.Module, window: list[MicroBatch]) -> Tensor:
    """The gradient of the mean token loss over the whole window, flattened."""
    x = torch.cat([mb[0] for mb in window])
    y = torch.cat([mb[1] for mb in window])
    loss = functional.cross_entropy(model(x), y)
    return _flat(list(torch.autograd.grad(loss, list(model.parameters()))))


def mean_of_means_gradient(model: nn.Module, window: list[MicroBatch]) -> Tensor:
    """The classic bug: ``Σ_i mean_loss_i / ACCUM``."""
    loss = sum(functional.cross_entropy(model(x), y) / len(window) for x, y in window)
    assert isinstance(loss, Tensor)
    return _flat(list(torch.autograd.grad(loss, list(model.parameters()))))


def shell_gradients(
    model: nn.Module, data: list[list[MicroBatch]], num_items: bool
) -> list[Tensor]:
    """The gradient each window's update sees in the shell, flattened (one per window)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    captured: list[Tensor] = []

    def capture(*_: object) -> None:
        captured.append(_flat([p.grad.detach().clone() for p in model.parameters()]))  # type: ignore[union-attr]

    optimizer.register_step_pre_hook(capture)
    sche = OptimScheduler(optimizer=optimizer, accum_grad=ACCUM)
    for window in data:
        for x, y in window:
            if num_items:
                sche.step(functional.cross_entropy(model(x), y, reduction="sum"), num_items=len(y))
            else:
                sche.step(functional.cross_entropy(model(x), y))
    return captured


def _relative(g: Tensor, reference: Tensor) -> float:
    return float(torch.linalg.vector_norm(g - reference) / torch.linalg.vector_norm(reference))


def _errors_text(samples: Samples) -> str:
    return f"{samples.median:.2e} ({samples.minimum:.1e}–{samples.maximum:.1e})"


def float32_divisor_error(items: int) -> float:
    """``|fl32(1/items) · items − 1|``: the relative error of a gradient divided by ``items``
    through a float32 factor (what a float32 item count gives a float64 gradient)."""
    factor = float(
        torch.tensor(1.0, dtype=torch.float32) / torch.tensor(items, dtype=torch.float32)
    )
    return abs(factor * items - 1.0)


def dtype_rows(dtype: torch.dtype, count: int) -> tuple[list[Row], list[str]]:
    """The three rows for models and data of ``dtype``, and a diagnosis if the goal is missed."""
    data = windows(count, dtype)
    model = _model(dtype)
    references = [large_batch_gradient(model, w) for w in data]

    def errors(gradients: list[Tensor]) -> Samples:
        return Samples(tuple(_relative(g, r) for g, r in zip(gradients, references, strict=True)))

    bug = errors([mean_of_means_gradient(model, w) for w in data])
    plain = errors(shell_gradients(model, data, False))
    exact = errors(shell_gradients(model, data, True))
    name = str(dtype).removeprefix("torch.")
    goal = GOALS[dtype]
    notes = []
    if exact.maximum > goal:
        predicted = max(float32_divisor_error(sum(len(y) for _, y in w)) for w in data)
        notes.append(
            f"{name}: largest error with num_items {exact.maximum:.2g}; dividing by the "
            f"window's items through a float32 factor would give at most {predicted:.2g} "
            f"(|fl32(1/N)·N − 1| over these windows)."
        )
    rows = [
        Row(f"{name}: per-micro-batch mean (classic bug), hand-written", _errors_text(bug), ""),
        Row(f"{name}: shell without num_items (mean loss)", _errors_text(plain), ""),
        Row(
            f"{name}: shell with num_items (sum loss, tokens counted)",
            _errors_text(exact),
            "",
            "",
            f"largest error ≤ {goal:g}",
            exact.maximum <= goal,
        ),
    ]
    return rows, notes


def run(config: BenchConfig) -> Section:
    """Benchmark 5 over 50 random windows (8 in a quick run), in float32 and float64."""
    count = config.pick(50, 8)
    rows: list[Row] = []
    notes = ["The goal applies to the largest error over all windows."]
    for dtype in GOALS:
        dtype_rows_, dtype_notes = dtype_rows(dtype, count)
        rows.extend(dtype_rows_)
        notes.extend(dtype_notes)
    return Section(
        NAME,
        "5. Token-exact accumulation",
        f"Relative L2 error of the window's gradient vs the large-batch gradient, over "
        f"{count} windows of {ACCUM} micro-batches of 1–{MAX_TOKENS} tokens: median "
        f"(min–max).",
        tuple(rows),
        ("relative error", "", ""),
        tuple(notes),
    )
