"""The shell against hand-written torch loops: accumulation, large batch, num_items, clipping."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import D_IN, batches, mse, tiny_mlp
from torch import Tensor, nn

import schedules
from optimsche import OptimScheduler


@pytest.mark.parametrize("accum_grad", [1, 3])
@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_shell_equals_the_hand_written_loop_bit_for_bit(
    accum_grad: int, grad_clip: float | None
) -> None:
    """AdamW, accumulation, clipping and a schedule: the loop people write by hand."""
    schedule = functools.partial(schedules.warmup_cosine, peak=1e-2, warmup=2, steps=8)
    shell_model, hand_model = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler(
        "AdamW",
        {"lr": 1.0, "weight_decay": 0.01},
        shell_model,
        accum_grad=accum_grad,
        grad_clip=grad_clip,
        schedule=schedule,
    )
    hand = torch.optim.AdamW(hand_model.parameters(), lr=1.0, weight_decay=0.01)
    for n, (x, y) in enumerate(batches(8 * accum_grad), start=1):
        report = sche.step({"loss": mse(shell_model, x, y)})
        (mse(hand_model, x, y) / accum_grad).backward()
        if n % accum_grad == 0:
            for group in hand.param_groups:
                group["lr"] = schedule(n // accum_grad)
            norm = torch.nn.utils.clip_grad_norm_(
                hand_model.parameters(), grad_clip if grad_clip is not None else math.inf
            )
            hand.step()
            hand.zero_grad()
            assert report.grad_norm is not None and torch.equal(report.grad_norm, norm)
    for p, q in zip(shell_model.parameters(), hand_model.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("accum_grad", [2, 4])
def test_accumulation_equals_the_large_batch(accum_grad: int) -> None:
    """Equal micro-batches with a mean loss: the window's gradient is the large batch's."""
    shell_model, big_model = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.5}, shell_model, accum_grad=accum_grad)
    big = torch.optim.SGD(big_model.parameters(), lr=0.5)
    data = batches(3 * accum_grad, size=5)
    for window in range(3):
        micro = data[window * accum_grad : (window + 1) * accum_grad]
        for x, y in micro:
            sche.step(mse(shell_model, x, y))
        xs = torch.cat([x for x, _ in micro])
        ys = torch.cat([y for _, y in micro])
        mse(big_model, xs, ys).backward()
        big.step()
        big.zero_grad()
    for p, q in zip(shell_model.parameters(), big_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


class TokenRegressor(nn.Module):
    """Per-token regression over padded sequences; loss = sum over real tokens."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(D_IN, 1, dtype=dtype)

    def token_losses(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.proj(x).squeeze(-1) - y).pow(2)


def _sequences(
    lengths: list[int], seed: int, dtype: torch.dtype = torch.float32
) -> list[tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(n, D_IN, generator=generator, dtype=dtype),
            torch.randn(n, generator=generator, dtype=dtype),
        )
        for n in lengths
    ]


# float32: a different summation order alone costs ~1e-7. float64: the item count and the
# division by it must stay in float64 too (a float32 count/factor left ~1e-8 errors).
TOLERANCES = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-13, 1e-15)}


@settings(max_examples=25, deadline=None)
@given(
    micro_lengths=st.lists(
        st.lists(st.integers(1, 9), min_size=1, max_size=3), min_size=2, max_size=4
    ),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_num_items_is_token_exact_with_uneven_lengths(
    micro_lengths: list[list[int]], seed: int, dtype: torch.dtype
) -> None:
    """Micro-batches of uneven token counts: sum losses with num_items equal the large batch."""
    accum_grad = len(micro_lengths)
    micro_batches = [
        _sequences(lengths, seed + k, dtype) for k, lengths in enumerate(micro_lengths)
    ]
    sequences = [pair for micro in micro_batches for pair in micro]
    shell_model, big_model = TokenRegressor(dtype), TokenRegressor(dtype)
    sche = OptimScheduler("SGD", {"lr": 1.0}, shell_model, accum_grad=accum_grad)
    for k, micro in enumerate(micro_batches):
        loss = sum(shell_model.token_losses(x, y).sum() for x, y in micro)
        items = sum(len(y) for _, y in micro)
        # alternate the two accepted types of num_items
        report = sche.step(loss, num_items=items if k % 2 else torch.tensor(items))
    assert report.updated
    big_loss = torch.cat([big_model.token_losses(x, y) for x, y in sequences]).mean()
    big_loss.backward()
    with torch.no_grad():
        for p in big_model.parameters():
            assert p.grad is not None
            p -= p.grad
    rtol, atol = TOLERANCES[dtype]
    for p, q in zip(shell_model.parameters(), big_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=rtol, atol=atol)


def test_mean_losses_of_uneven_micro_batches_are_not_the_large_batch() -> None:
    """The contrast that makes num_items necessary (and the test above able to fail)."""
    sequences = _sequences([1, 9], seed=3)
    shell_model, big_model = TokenRegressor(), TokenRegressor()
    sche = OptimScheduler("SGD", {"lr": 1.0}, shell_model, accum_grad=2)
    for x, y in sequences:
        sche.step(shell_model.token_losses(x, y).mean())
    torch.cat([big_model.token_losses(x, y) for x, y in sequences]).mean().backward()
    with torch.no_grad():
        for p in big_model.parameters():
            assert p.grad is not None
            p -= p.grad
    assert not torch.allclose(shell_model.proj.weight, big_model.proj.weight, rtol=1e-3)


def test_num_items_must_be_given_on_every_micro_step_or_never() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=3)
    data = batches(3)
    sche.step(mse(model, *data[0]), num_items=4)
    with pytest.raises(ValueError, match="num_items missing on a micro-step"):
        sche.step(mse(model, *data[1]))
    other = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), accum_grad=3)
    other.step(mse(other.model, *data[0]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_items given on a later micro-step"):
        other.step(mse(other.model, *data[1]), num_items=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_items must be an int >= 0, got"):
        sche.step(mse(model, *data[1]), num_items=-1)
    with pytest.raises(ValueError, match=r"got a Tensor of shape \(2,\)"):
        sche.step(mse(model, *data[1]), num_items=torch.tensor([1, 2]))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clipping_covers_only_this_optimizers_parameters(norm_type: float) -> None:
    """Two optimizers on one model: each clips by the norm of its own gradients."""
    model = nn.Sequential(nn.Linear(D_IN, 4), nn.Linear(4, 1))
    big, small = model[0], model[1]
    sche = OptimScheduler(
        "SGD", {"lr": 1.0}, model, updated_modules="1", grad_clip=0.01, grad_norm_type=norm_type
    )
    x, y = batches(1)[0]
    loss = 1e4 * mse(model, x, y)  # large gradients everywhere
    expected_grads = torch.autograd.grad(loss, list(small.parameters()), retain_graph=True)
    expected_norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g, norm_type) for g in expected_grads]), norm_type
    )
    before = [p.detach().clone() for p in small.parameters()]
    report = sche.step(loss)
    assert report.grad_norm is not None
    torch.testing.assert_close(report.grad_norm, expected_norm)
    step = [b - p.detach() for b, p in zip(before, small.parameters(), strict=True)]
    step_norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(s, norm_type) for s in step]), norm_type
    )
    torch.testing.assert_close(step_norm, torch.tensor(0.01), rtol=1e-4, atol=1e-7)
    assert all(p.grad is None for p in big.parameters())
