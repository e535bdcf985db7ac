"""Small deterministic models and data for the OptimScheduler tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn

D_IN = 6


def tiny_mlp(seed: int = 0, hidden: int = 8) -> nn.Sequential:
    """A 2-layer MLP with seeded weights."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D_IN, hidden), nn.Tanh(), nn.Linear(hidden, 1))


class EncoderTwoHeads(nn.Module):
    """A shared encoder and two heads: first-level modules ``encoder``, ``head_a``, ``head_b``."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.encoder = nn.Linear(D_IN, 8)
        self.head_a = nn.Linear(8, 1)
        self.head_b = nn.Linear(8, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.tanh(self.encoder(x))
        return self.head_a(h), self.head_b(h)


def batches(count: int, seed: int = 1, size: int = 4) -> list[tuple[Tensor, Tensor]]:
    """``count`` (x, y) regression batches of ``size`` rows."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, D_IN, generator=generator), torch.randn(size, 1, generator=generator))
        for _ in range(count)
    ]


def mse(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of ``model(x)`` against ``y``."""
    return (model(x) - y).pow(2).mean()


def clone_params(model: nn.Module) -> list[Tensor]:
    """Detached copies of the parameters of ``model``."""
    return [p.detach().clone() for p in model.parameters()]


def same_params(a: nn.Module, b: nn.Module) -> bool:
    """Bitwise equality of the parameters of two models."""
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
