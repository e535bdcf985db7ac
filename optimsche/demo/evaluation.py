"""Held-out accuracy of the demo model, and what chance would score.

For a batch with targets ``y`` (``tgt_out``, PAD-padded) and predictions ``p`` of the same
shape, over the non-PAD target positions ``M = {(b, t): y[b, t] != PAD}``:

* token accuracy ``= |{(b, t) in M: p[b, t] == y[b, t]}| / |M|``;
* exact match ``= (1/B) · |{b: p[b, t] == y[b, t] for every t with (b, t) in M}|`` (the whole
  reversed sequence and its EOS right).

The decoder is scored on greedy autoregressive decoding (no teacher forcing); the encoder on
its own position-wise auxiliary prediction.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from optimsche.demo.model import ReversalTransformer
from optimsche.demo.task import PAD, Batch, ReversalTask

__all__ = ["Accuracy", "Evaluation", "accuracy", "evaluate"]


@attrs.frozen
class Accuracy:
    """Token accuracy and exact-match rate, each in ``[0, 1]``."""

    token: float
    sequence: float


@attrs.frozen
class Evaluation:
    """Held-out scores of the decoder (greedy decoding) and the encoder (auxiliary head),
    with the chance levels and the number of held-out sequences."""

    decoder: Accuracy
    encoder: Accuracy
    chance: Accuracy
    sequences: int


def accuracy(predicted: Tensor, target: Tensor) -> Accuracy:
    """Token accuracy and exact match of ``predicted`` against ``target`` (module docstring)."""
    if predicted.shape != target.shape:
        raise ValueError(
            f"predicted and target must have one shape, got {tuple(predicted.shape)} and "
            f"{tuple(target.shape)}"
        )
    counted = target != PAD
    right = (predicted == target) & counted
    token = float(right.sum()) / max(int(counted.sum()), 1)
    sequence = float((right | ~counted).all(dim=1).float().mean())
    return Accuracy(token=token, sequence=sequence)


def evaluate(model: ReversalTransformer, task: ReversalTask, batch: Batch) -> Evaluation:
    """Score ``model`` on the held-out ``batch`` (eval mode, no grad; the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            decoded = model.greedy_decode(batch.src)
            encoded = model.encoder_predict(batch.src)
    finally:
        model.train(was_training)
    return Evaluation(
        decoder=accuracy(decoded, batch.tgt_out),
        encoder=accuracy(encoded, batch.tgt_out),
        chance=Accuracy(token=task.token_chance, sequence=task.sequence_chance),
        sequences=int(batch.src.shape[0]),
    )
