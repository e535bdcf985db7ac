"""The shell seeds its backward with ``ones / accum_grad`` instead of dividing the loss: every
gradient must be bit for bit what ``(loss / accum_grad).backward()`` gives, in every dtype."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from optimsche import OptimScheduler

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def _model(dtype: torch.dtype, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 1)).to(dtype)


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    accum=st.integers(1, 97),
    micro_steps=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    with_model=st.booleans(),
)
def test_gradients_equal_the_divided_loss_backward(
    dtype: torch.dtype, accum: int, micro_steps: int, seed: int, with_model: bool
) -> None:
    ours, theirs = _model(dtype, seed), _model(dtype, seed)
    sche = OptimScheduler(
        optimizer=torch.optim.SGD(ours.parameters(), lr=0.1),
        model=ours if with_model else None,
        accum_grad=accum + micro_steps,  # no update: the gradients stay for the comparison
    )
    generator = torch.Generator().manual_seed(seed)
    for _ in range(micro_steps):
        x = torch.randn(3, 5, generator=generator).to(dtype)
        sche.step((ours(x) ** 2).mean() * 3.7)
        ((theirs(x) ** 2).mean() * 3.7 / (accum + micro_steps)).backward()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.grad is not None and q.grad is not None
        assert torch.equal(p.grad, q.grad)


def test_num_items_backpropagates_the_loss_itself() -> None:
    ours, theirs = _model(torch.float32, 0), _model(torch.float32, 0)
    sche = OptimScheduler(optimizer=torch.optim.SGD(ours.parameters(), lr=0.1), accum_grad=3)
    x = torch.randn(4, 5)
    sche.step((ours(x) ** 2).sum(), num_items=4)
    (theirs(x) ** 2).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)  # type: ignore[arg-type]


def test_the_seed_is_not_changed_by_a_backward_into_a_leaf_loss() -> None:
    """A loss that is a parameter itself: autograd accumulates the seed into its gradient;
    the shell's cached seed must stay ``1 / accum_grad`` for the next micro-step."""
    p = nn.Parameter(torch.tensor(2.0))
    sche = OptimScheduler(optimizer=torch.optim.SGD([p], lr=0.1), accum_grad=4)
    for _ in range(3):
        sche.step(p)  # type: ignore[arg-type]
    assert p.grad is not None and float(p.grad) == 0.75


class _Marked(torch.Tensor):
    """A Tensor subclass (as a DTensor loss would be): autograd seeds it with its own ones."""


def test_a_tensor_subclass_loss_is_divided_as_written() -> None:
    ours, theirs = _model(torch.float32, 1), _model(torch.float32, 1)
    sche = OptimScheduler(
        optimizer=torch.optim.SGD(ours.parameters(), lr=0.1), model=ours, accum_grad=3
    )
    x = torch.randn(4, 5)
    loss = (ours(x) ** 2).mean().as_subclass(_Marked)
    assert loss.__class__ is _Marked and loss.requires_grad
    sche.step(loss)
    ((theirs(x) ** 2).mean() / 3).backward()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)  # type: ignore[arg-type]
