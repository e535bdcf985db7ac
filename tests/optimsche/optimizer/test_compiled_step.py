"""A compiled optimizer step: one graph across lr changes with the shell's Tensor lr."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from shell_models import batches, mse, tiny_mlp

from optimsche import OptimScheduler
from optimsche.optimizer.compiled_step import compiled_step, tensor_lrs_

LR_CHANGES = 30


class CountingBackend:
    """A torch.compile backend that counts the graphs it is given and runs them eagerly."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(
        self, graph: torch.fx.GraphModule, example_inputs: list[Any]
    ) -> Callable[..., Any]:
        self.graphs += 1
        return graph.forward


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> None:
    torch._dynamo.reset()


def test_shell_compiled_step_compiles_once_across_lr_changes() -> None:
    """30 updates, 30 different lrs, one graph; and the same training as the eager step."""
    backend = CountingBackend()
    model, eager_model = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler(
        "AdamW",
        {"lr": 1.0},
        model,
        schedule=lambda r: 1e-2 / r,
        compile_step={"backend": backend},
    )
    eager_optimizer = torch.optim.AdamW(eager_model.parameters(), lr=1.0)
    tensor_lrs_(eager_optimizer)
    eager = OptimScheduler(
        model=eager_model, optimizer=eager_optimizer, schedule=lambda r: 1e-2 / r
    )
    lr_tensor = sche.optimizer.param_groups[0]["lr"]
    assert isinstance(lr_tensor, torch.Tensor) and lr_tensor.ndim == 0
    lrs = []
    for x, y in batches(LR_CHANGES):
        report = sche.step(mse(model, x, y))
        eager.step(mse(eager_model, x, y))
        assert report.updated
        lrs.append(report.lr)
    assert len(set(lrs)) == LR_CHANGES  # the lr changed at every update
    assert sche.optimizer.param_groups[0]["lr"] is lr_tensor  # written in place
    assert float(lr_tensor) == pytest.approx(1e-2 / LR_CHANGES)
    assert backend.graphs == 1
    for p, q in zip(model.parameters(), eager_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_a_float_lr_recompiles() -> None:
    """The contrast: the same loop with a Python float lr makes dynamo compile again."""
    backend = CountingBackend()
    model = tiny_mlp()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)

    @torch.compile(backend=backend)
    def step() -> None:
        optimizer.step()

    for r, (x, y) in enumerate(batches(3), start=1):
        mse(model, x, y).backward()
        optimizer.param_groups[0]["lr"] = 1e-2 / r
        step()
        optimizer.zero_grad()
    assert backend.graphs > 1


def test_compiled_step_helper_for_hand_written_loops() -> None:
    backend = CountingBackend()
    model = tiny_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    step = compiled_step(optimizer, {"backend": backend})
    lr = optimizer.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) and float(lr) == pytest.approx(0.1)
    for r, (x, y) in enumerate(batches(6), start=1):
        mse(model, x, y).backward()
        lr.fill_(0.1 / r)
        step()
        optimizer.zero_grad()
    assert backend.graphs == 1


def test_compile_options_must_be_a_dict() -> None:
    with pytest.raises(ValueError, match="compile_step must be False, True or a dict"):
        OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), compile_step="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compile options must be a dict"):
        compiled_step(torch.optim.SGD(tiny_mlp().parameters(), lr=0.1), ["inductor"])  # type: ignore[arg-type]


def _compiled_run(
    hyperparameters: dict[str, Any],
    make_optimizer: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
) -> tuple[int, torch.optim.Optimizer]:
    """Graphs compiled by 20 updates of a compiled step whose lr and ``hyperparameters``
    change at every update, and the optimizer."""
    backend = CountingBackend()
    model = tiny_mlp()
    optimizer = make_optimizer(list(model.parameters()))
    sche = OptimScheduler(
        model=model,
        optimizer=optimizer,
        schedule=lambda r: 1e-2 / r,
        hyperparameters=hyperparameters,
        compile_step={"backend": backend},
    )
    for x, y in batches(20):
        assert sche.step(mse(model, x, y)).updated
    return backend.graphs, optimizer


def test_scheduled_betas_become_tensors_and_compile_once() -> None:
    """Measured on torch 2.13: a Tensor beta1 changing at every update adds no graph."""
    graphs, optimizer = _compiled_run(
        {"betas[0]": lambda r: 0.9 - 0.01 * r}, lambda p: torch.optim.AdamW(p, lr=1.0)
    )
    betas = optimizer.param_groups[0]["betas"]
    assert all(isinstance(b, torch.Tensor) for b in betas)
    assert float(betas[0]) == pytest.approx(0.9 - 0.01 * 20, rel=1e-6)
    assert graphs == 1


OPTIMIZERS: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
    "AdamW": lambda p: torch.optim.AdamW(p, lr=1.0),
    "SGD": lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.5),
}


@pytest.mark.parametrize(
    ("kind", "key"), [("AdamW", "weight_decay"), ("SGD", "momentum"), ("SGD", "weight_decay")]
)
def test_scheduled_weight_decay_and_momentum_stay_floats_and_recompile_once(
    kind: str, key: str
) -> None:
    """Measured on torch 2.13: a changing float weight decay / momentum makes dynamo recompile
    once (the float becomes a symbolic input), never again; as Tensors they would break the
    graph at torch's ``if weight_decay != 0`` / ``if momentum != 0``."""
    graphs, optimizer = _compiled_run({key: lambda r: 0.01 + 0.01 * r}, OPTIMIZERS[kind])
    assert isinstance(optimizer.param_groups[0][key], float)
    assert graphs == 2


def test_the_contrast_a_tensor_weight_decay_breaks_the_graph() -> None:
    """Why the shell leaves weight decay a float: as a Tensor, AdamW's ``if weight_decay !=
    0`` is data-dependent and dynamo splits the step into more graphs (4 on torch 2.13)."""
    backend = CountingBackend()
    model = tiny_mlp()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.01)
    step = compiled_step(optimizer, {"backend": backend}, tensor_entries=("lr", "weight_decay"))
    weight_decay = optimizer.param_groups[0]["weight_decay"]
    assert isinstance(weight_decay, torch.Tensor)
    for r, (x, y) in enumerate(batches(6), start=1):
        mse(model, x, y).backward()
        weight_decay.fill_(0.01 * r)
        step()
        optimizer.zero_grad()
    assert backend.graphs > 2
