"""The demo's model: a tiny encoder-decoder Transformer with one loss per half.

Its first-level modules are exactly ``encoder`` and ``decoder`` (the names an ``optim_sches``
config lists in ``updated_modules``), and its forward returns three summed-over-tokens losses:

* ``encoder_loss``: the encoder predicts, at every source position ``i``, the target token
  ``tgt_out[i]`` (the reversed sequence, then EOS) through its own linear head: a
  non-autoregressive auxiliary task that trains the encoder's parameters;
* ``decoder_loss``: the decoder predicts ``tgt_out[t]`` from ``tgt_in[:t+1]`` (teacher forcing)
  and the encoder output ``memory``: the usual next-token loss;
* ``loss = encoder_loss + decoder_loss``, for configs with one optimizer on the whole model.

Each loss is ``sum`` cross-entropy over the non-PAD target tokens, so the number of tokens of a
micro-batch (``Batch.num_items``) is what normalises it. With one optimizer per half, each
backward reaches only its own half (the shell's job): the encoder learns from ``encoder_loss``
only, the decoder from ``decoder_loss`` only, reading ``memory`` as a given input.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor, nn
from torch.nn import functional

from optimsche.demo.task import BOS, EOS, PAD, Batch

__all__ = ["LOSS_NAMES", "ModelSize", "ReversalDecoder", "ReversalEncoder", "ReversalTransformer"]

LOSS_NAMES = ("encoder_loss", "decoder_loss", "loss")
"""The keys of the loss dict :meth:`ReversalTransformer.forward` returns."""


@attrs.frozen
class ModelSize:
    """Sizes of the demo Transformer: width, heads, feed-forward width, layers per half."""

    d_model: int = 64
    nhead: int = 4
    dim_feedforward: int = 128
    encoder_layers: int = 2
    decoder_layers: int = 2


def _embeddings(vocab_size: int, width: int, size: ModelSize) -> tuple[nn.Embedding, nn.Embedding]:
    """The token embedding (PAD's row is zero and gets no gradient) and the learned position
    embedding of one half, in that order (the order their weights are drawn in)."""
    return (
        nn.Embedding(vocab_size, size.d_model, padding_idx=PAD),
        nn.Embedding(width, size.d_model),
    )


def _layer_options(size: ModelSize) -> dict[str, Any]:
    """The options of every Transformer layer: ``size``'s widths, no dropout, batch first,
    pre-norm."""
    return {
        "d_model": size.d_model,
        "nhead": size.nhead,
        "dim_feedforward": size.dim_feedforward,
        "dropout": 0.0,
        "batch_first": True,
        "norm_first": True,
    }


class ReversalEncoder(nn.Module):
    """Token + learned position embeddings, pre-norm Transformer encoder, auxiliary head.

    ``forward(src) -> (memory, aux_logits)``: ``memory`` is ``(B, T, d_model)``, ``aux_logits``
    ``(B, T, vocab_size)``; PAD source positions are masked out of attention.
    """

    def __init__(self, vocab_size: int, width: int, size: ModelSize) -> None:
        super().__init__()
        self.embed, self.position = _embeddings(vocab_size, width, size)
        layer = nn.TransformerEncoderLayer(**_layer_options(size))
        self.layers = nn.TransformerEncoder(layer, size.encoder_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(size.d_model)
        self.head = nn.Linear(size.d_model, vocab_size)

    def forward(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """Encode ``src`` ``(B, T)``; return ``memory`` and the auxiliary per-position logits."""
        positions = torch.arange(src.shape[1], device=src.device)
        hidden = self.embed(src) + self.position(positions)
        hidden = self.layers(hidden, src_key_padding_mask=src == PAD)
        memory = self.norm(hidden)
        return memory, self.head(memory)


class ReversalDecoder(nn.Module):
    """Token + learned position embeddings, causal pre-norm Transformer decoder, output head.

    ``forward(tgt_in, memory, memory_pad) -> logits`` ``(B, T, vocab_size)``; position ``t``
    sees ``tgt_in[:, :t+1]`` and every non-PAD ``memory`` position.
    """

    def __init__(self, vocab_size: int, width: int, size: ModelSize) -> None:
        super().__init__()
        self.embed, self.position = _embeddings(vocab_size, width, size)
        layer = nn.TransformerDecoderLayer(**_layer_options(size))
        self.layers = nn.TransformerDecoder(layer, size.decoder_layers)
        self.norm = nn.LayerNorm(size.d_model)
        self.head = nn.Linear(size.d_model, vocab_size)

    def forward(self, tgt_in: Tensor, memory: Tensor, memory_pad: Tensor) -> Tensor:
        """Next-token logits for every prefix of ``tgt_in`` (causal self-attention)."""
        length = tgt_in.shape[1]
        positions = torch.arange(length, device=tgt_in.device)
        hidden = self.embed(tgt_in) + self.position(positions)
        causal = torch.ones(length, length, dtype=torch.bool, device=tgt_in.device).triu(1)
        hidden = self.layers(hidden, memory, tgt_mask=causal, memory_key_padding_mask=memory_pad)
        logits: Tensor = self.head(self.norm(hidden))
        return logits


def _summed_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy summed over the non-PAD targets: ``-sum_{t: y_t != PAD} log p(y_t)``."""
    return functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum"
    )


class ReversalTransformer(nn.Module):
    """The demo model: first-level modules ``encoder`` and ``decoder`` (see the module docstring).

    ``forward(batch)`` returns the dict ``{"encoder_loss", "decoder_loss", "loss"}`` of summed
    token losses; :meth:`greedy_decode` and :meth:`encoder_predict` make predictions.
    """

    def __init__(self, vocab_size: int, width: int, size: ModelSize | None = None) -> None:
        super().__init__()
        size = size or ModelSize()
        self.width = width
        self.encoder = ReversalEncoder(vocab_size, width, size)
        self.decoder = ReversalDecoder(vocab_size, width, size)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """The three summed token losses of ``batch`` (keys :data:`LOSS_NAMES`)."""
        memory, aux_logits = self.encoder(batch.src)
        logits = self.decoder(batch.tgt_in, memory, batch.src == PAD)
        encoder_loss = _summed_cross_entropy(aux_logits, batch.tgt_out)
        decoder_loss = _summed_cross_entropy(logits, batch.tgt_out)
        return {
            "encoder_loss": encoder_loss,
            "decoder_loss": decoder_loss,
            "loss": encoder_loss + decoder_loss,
        }

    @torch.no_grad()
    def encoder_predict(self, src: Tensor) -> Tensor:
        """The encoder's own position-wise prediction of ``tgt_out``: argmax of its aux head."""
        _, aux_logits = self.encoder(src)
        predicted: Tensor = aux_logits.argmax(-1)
        return predicted

    @torch.no_grad()
    def greedy_decode(self, src: Tensor) -> Tensor:
        """Greedy autoregressive decoding, ``(B, width)``: the most likely token at each step,
        fed back in; everything after the first EOS is PAD."""
        memory, _ = self.encoder(src)
        memory_pad = src == PAD
        count = src.shape[0]
        tokens = torch.full((count, 1), BOS, dtype=torch.long, device=src.device)
        outputs: list[Tensor] = []
        for _ in range(self.width):
            logits = self.decoder(tokens, memory, memory_pad)
            best = logits[:, -1].argmax(-1)
            outputs.append(best)
            tokens = torch.cat([tokens, best[:, None]], dim=1)
        predicted = torch.stack(outputs, dim=1)
        ended = (predicted == EOS).long().cumsum(1)
        after_eos = (ended - (predicted == EOS).long()) > 0
        return predicted.masked_fill(after_eos, PAD)
