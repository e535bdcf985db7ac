"""The demo's synthetic task: reverse a variable-length token sequence (no download needed).

A source ``x = (x_1, ..., x_L)`` of ``L`` symbols (``min_len <= L <= max_len``) is mapped to the
target ``y = (x_L, ..., x_1, EOS)``. Vocabulary: ``PAD = 0``, ``BOS = 1``, ``EOS = 2`` and the
symbols ``3 .. vocab_size - 1``.

Tensors of a :class:`Batch` (``B`` sequences, ``T = max_len + 1`` columns, right-padded):

* ``src``       ``x_1 .. x_L EOS PAD ...``           what the encoder reads;
* ``tgt_in``    ``BOS x_L .. x_1 PAD ...``           what the decoder reads (teacher forcing);
* ``tgt_out``   ``x_L .. x_1 EOS PAD ...``           what both the encoder (position-wise) and
  the decoder (next-token) must predict; ``PAD`` positions are ignored;
* ``num_items`` the number of non-``PAD`` entries of ``tgt_out`` (``sum(L + 1)``), the token count
  that normalises the summed losses.

The train / held-out split is by content, not by draw: a sequence is held out iff
``(sum_i w_i * x_i + w_0 * L) mod 1009 < 101`` for fixed seeded weights ``w`` (about 10 % of all
sequences). Training batches never contain a held-out sequence, so held-out accuracy measures
generalisation to unseen sequences. Every batch is a pure function of ``(seed, rank, step)``.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from optimsche.demo.int_field import int_at_least

__all__ = ["BOS", "EOS", "PAD", "Batch", "ReversalTask"]

PAD = 0
BOS = 1
EOS = 2
_FIRST_SYMBOL = 3
_HASH_MODULUS = 1009
_HELD_OUT_BELOW = 101
_SEED_STRIDE = 1_000_003


@attrs.frozen
class Batch:
    """One batch of the reversal task (see the module docstring for the layout)."""

    src: Tensor
    tgt_in: Tensor
    tgt_out: Tensor
    num_items: int


@attrs.frozen
class ReversalTask:
    """Generator of seeded reversal batches.

    ``num_symbols`` distinct symbols (so ``vocab_size = num_symbols + 3``), lengths drawn
    uniformly from ``[min_len, max_len]``, symbols uniformly and independently.
    """

    num_symbols: int = attrs.field(default=13, validator=int_at_least(1))
    min_len: int = attrs.field(default=4, validator=int_at_least(1))
    max_len: int = attrs.field(default=12, validator=int_at_least(1))
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        if self.max_len < self.min_len:
            raise ValueError(
                f"max_len must be >= min_len, got max_len={self.max_len}, min_len={self.min_len}"
            )

    @property
    def vocab_size(self) -> int:
        """Number of token ids: PAD, BOS, EOS and the symbols."""
        return self.num_symbols + _FIRST_SYMBOL

    @property
    def width(self) -> int:
        """Number of columns of every batch tensor: ``max_len + 1`` (room for EOS)."""
        return self.max_len + 1

    @property
    def token_chance(self) -> float:
        """Token accuracy of a uniform guess among the symbols: ``1 / num_symbols``."""
        return 1.0 / self.num_symbols

    @property
    def sequence_chance(self) -> float:
        """Exact-match rate of uniform guessing, averaged over lengths: mean of ``num_symbols^-L``.

        (Even granting the EOS position for free, this is the best a blind guesser can do.)
        """
        lengths = range(self.min_len, self.max_len + 1)
        return sum(float(self.num_symbols) ** -length for length in lengths) / len(lengths)

    def _hash_weights(self) -> Tensor:
        """The fixed weights ``w_0 .. w_max_len`` of the split hash (seeded by ``seed``)."""
        generator = torch.Generator().manual_seed(self.seed * 7919 + 17)
        return torch.randint(1, _HASH_MODULUS, (self.max_len + 1,), generator=generator)

    def is_held_out(self, symbols: Tensor, lengths: Tensor) -> Tensor:
        """Boolean mask over rows: which ``(symbols, lengths)`` sequences belong to held-out data.

        ``symbols`` is ``(B, max_len)`` with zeros past each length, ``lengths`` is ``(B,)``.
        """
        weights = self._hash_weights()
        key = symbols @ weights[1:] + lengths * weights[0]
        return (key % _HASH_MODULUS) < _HELD_OUT_BELOW

    def _draw(self, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``count`` random sequences: symbols ``(count, max_len)`` zero-padded, and lengths."""
        lengths = torch.randint(self.min_len, self.max_len + 1, (count,), generator=generator)
        symbols = torch.randint(
            _FIRST_SYMBOL, self.vocab_size, (count, self.max_len), generator=generator
        )
        columns = torch.arange(self.max_len)
        symbols = symbols.masked_fill(columns >= lengths[:, None], 0)
        return symbols, lengths

    def _sample(self, count: int, generator: torch.Generator, held_out: bool) -> Batch:
        """``count`` sequences from one side of the split, by rejection, as a :class:`Batch`."""
        kept_symbols: list[Tensor] = []
        kept_lengths: list[Tensor] = []
        have = 0
        while have < count:
            symbols, lengths = self._draw(max(2 * count, 16), generator)
            keep = self.is_held_out(symbols, lengths) == held_out
            kept_symbols.append(symbols[keep])
            kept_lengths.append(lengths[keep])
            have += int(keep.sum())
        return self._to_batch(torch.cat(kept_symbols)[:count], torch.cat(kept_lengths)[:count])

    def _to_batch(self, symbols: Tensor, lengths: Tensor) -> Batch:
        """Lay out ``src``, ``tgt_in``, ``tgt_out`` for the given sequences (module docstring)."""
        count = symbols.shape[0]
        columns = torch.arange(self.width)
        # reversed[b, i] = symbols[b, L_b - 1 - i] for i < L_b
        index = (lengths[:, None] - 1 - columns[None, : self.max_len]).clamp(min=0)
        reversed_symbols = torch.gather(symbols, 1, index)
        inside = columns[None, : self.max_len] < lengths[:, None]
        reversed_symbols = reversed_symbols.masked_fill(~inside, PAD)

        src = torch.full((count, self.width), PAD, dtype=torch.long)
        src[:, : self.max_len] = symbols
        tgt_out = torch.full((count, self.width), PAD, dtype=torch.long)
        tgt_out[:, : self.max_len] = reversed_symbols
        at_end = columns[None, :] == lengths[:, None]
        src = src.masked_fill(at_end, EOS)
        tgt_out = tgt_out.masked_fill(at_end, EOS)
        tgt_in = torch.full((count, self.width), PAD, dtype=torch.long)
        tgt_in[:, 0] = BOS
        tgt_in[:, 1:] = tgt_out[:, :-1]
        tgt_in = tgt_in.masked_fill(tgt_in == EOS, PAD)
        return Batch(src=src, tgt_in=tgt_in, tgt_out=tgt_out, num_items=int((lengths + 1).sum()))

    def train_batch(self, batch_size: int, step: int, rank: int = 0) -> Batch:
        """The training micro-batch of micro-step ``step`` on data shard ``rank``.

        A pure function of ``(seed, rank, step, batch_size)``: a resumed run sees the same data,
        and each rank of a data-parallel run sees its own shard.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        stream = ((self.seed * _SEED_STRIDE + rank) * _SEED_STRIDE + step) % (2**63)
        generator = torch.Generator().manual_seed(stream)
        return self._sample(batch_size, generator, held_out=False)

    def held_out_batch(self, count: int) -> Batch:
        """``count`` held-out sequences (disjoint from every training batch by the split)."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        generator = torch.Generator().manual_seed((self.seed * _SEED_STRIDE - 1) % (2**63))
        return self._sample(count, generator, held_out=True)
