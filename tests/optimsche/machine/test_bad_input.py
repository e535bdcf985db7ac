"""The user's habits the shell refuses, each leaving the shell as it was: ``loss.backward()``
before ``step(loss)`` (gradients present, or a freed graph) and a negative Tensor
``num_items`` on one micro-step of a window whose total is positive."""

from __future__ import annotations

import pytest
import torch
from shell_models import batches, mse, tiny_mlp
from shell_state import assert_same_state, shell_state

from optimsche import OptimScheduler


@pytest.mark.parametrize("accum_grad", [1, 3])
def test_gradients_present_at_a_windows_start_are_refused_and_nothing_changes(
    accum_grad: int,
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("AdamW", {"lr": 0.01}, model, accum_grad=accum_grad)
    data = batches(accum_grad + 1)
    for x, y in data[:accum_grad]:
        sche.step(mse(model, x, y))  # one whole window
    loss = mse(model, *data[-1])
    loss.backward(retain_graph=True)
    before = shell_state(sche)
    with pytest.raises(ValueError, match=r"step\(\) runs the backward itself.*nothing was changed"):
        sche.step(loss)
    assert_same_state(before, shell_state(sche))


@pytest.mark.parametrize("accum_grad", [1, 3])
def test_a_freed_graph_is_an_error_saying_step_runs_the_backward(accum_grad: int) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("AdamW", {"lr": 0.01}, model, accum_grad=accum_grad)
    x, y = batches(1)[0]
    loss = mse(model, x, y)
    torch.autograd.grad(loss, list(model.parameters()))  # frees the graph, leaves no .grad
    before = shell_state(sche)
    with pytest.raises(RuntimeError, match=r"step\(\) runs the backward itself") as caught:
        sche.step(loss)
    assert "backward through the graph a second time" in str(caught.value)
    assert_same_state(before, shell_state(sche))
    assert sche.step(mse(model, x, y)).step_num == 1  # the retry runs


@pytest.mark.parametrize("use_amp", [False, True])
def test_a_negative_tensor_count_on_one_micro_step_is_refused_though_the_total_is_positive(
    use_amp: bool,
) -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, model, accum_grad=2, use_amp=use_amp)
    data = batches(4)

    def loss(n: int) -> torch.Tensor:
        x, y = data[n]
        return (model(x) - y).pow(2).sum()

    sche.step(loss(0), num_items=torch.tensor(3))
    sche.step(loss(1), num_items=torch.tensor(3))  # momentum state exists now
    params = [p.detach().clone() for p in model.parameters()]
    optimizer_state = shell_state(sche)["optimizer"]
    sche.step(loss(2), num_items=torch.tensor(-1))  # no sync here: refused at the update
    with pytest.raises(ValueError, match="a micro-step of window 2 counted -1 items"):
        sche.step(loss(3), num_items=torch.tensor(5))  # total 4 > 0
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters(), strict=True))
    assert_same_state({"o": optimizer_state}, {"o": shell_state(sche)["optimizer"]})
    assert all(p.grad is None for p in model.parameters())  # the window was closed
    assert sche.items_seen == 6
    sche.step(loss(0), num_items=torch.tensor(2))
    assert sche.step(loss(1), num_items=torch.tensor(2)).updated
