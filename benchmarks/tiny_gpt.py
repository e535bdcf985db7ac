"""A small GPT-like language model for the benchmarks: token and position embeddings, pre-norm
transformer blocks (causal self-attention, GELU MLP), a final LayerNorm and an untied head.

Its parameters split the way current recipes split them between two optimizers:
:func:`hidden_matrices` (the 2-D weights inside the blocks, for Muon) and
:func:`other_parameters` (embeddings, head, biases and norm gains, for AdamW).
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn
from torch.nn import functional


@attrs.frozen
class GptSize:
    """``vocab`` tokens, ``context`` positions, ``width``-wide blocks of ``heads`` heads,
    ``blocks`` of them; trained on batches of ``batch`` sequences."""

    name: str
    vocab: int
    context: int
    width: int
    heads: int
    blocks: int
    batch: int


SMALL = GptSize("GPT 2×64 (vocab 256, context 32)", 256, 32, 64, 4, 2, 8)
"""About 0.13 M parameters: fast on a CPU, large enough that the optimizers' work shows."""

TINY = GptSize("GPT 2×32 (vocab 64, context 16)", 64, 16, 32, 2, 2, 4)
"""The quick run's size."""


class Block(nn.Module):
    """``x + attn(ln1(x))``, then ``x + mlp(ln2(x))`` (pre-norm), causal attention."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(width, dim=-1)
        shape = (batch, length, self.heads, width // self.heads)
        q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
        attended = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
        out: Tensor = x + self.down(functional.gelu(self.up(self.ln2(x))))
        return out


class TinyGpt(nn.Module):
    """The model of :data:`SMALL`/:data:`TINY` (module doc); ``forward(tokens)`` gives the
    logits of the next token at every position."""

    def __init__(self, size: GptSize) -> None:
        super().__init__()
        self.token = nn.Embedding(size.vocab, size.width)
        self.position = nn.Embedding(size.context, size.width)
        self.blocks = nn.ModuleList(Block(size.width, size.heads) for _ in range(size.blocks))
        self.ln = nn.LayerNorm(size.width)
        self.head = nn.Linear(size.width, size.vocab, bias=False)

    def forward(self, tokens: Tensor) -> Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token(tokens) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        logits: Tensor = self.head(self.ln(x))
        return logits


def make_gpt(size: GptSize, seed: int = 0) -> TinyGpt:
    """The model of ``size`` with weights drawn from ``seed`` (same seed, same weights)."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = TinyGpt(size)
    torch.random.set_rng_state(state)
    return model


def hidden_matrices(model: TinyGpt) -> list[nn.Parameter]:
    """The 2-D weights inside the blocks (Muon's parameters)."""
    return [p for p in model.blocks.parameters() if p.ndim == 2]


def other_parameters(model: TinyGpt) -> list[nn.Parameter]:
    """Every other parameter: embeddings, head, biases, norm gains (AdamW's)."""
    hidden = {id(p) for p in hidden_matrices(model)}
    return [p for p in model.parameters() if id(p) not in hidden]


def token_batches(size: GptSize, count: int, seed: int = 1) -> list[tuple[Tensor, Tensor]]:
    """``count`` (inputs, next tokens) batches of random tokens, drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        tokens = torch.randint(size.vocab, (size.batch, size.context + 1), generator=generator)
        batches.append((tokens[:, :-1], tokens[:, 1:]))
    return batches


def next_token_loss(model: TinyGpt, inputs: Tensor, targets: Tensor) -> Tensor:
    """The mean cross-entropy of the next token."""
    logits = model(inputs)
    return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
