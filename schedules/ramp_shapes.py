"""The shapes of a ramp over a phase: how a warmup rises and how a decay falls.

A shape is a name for a curve over the phase's progress ``p`` in ``[0, 1]``. As a *decay*
it is ``f(p)``, from ``f(0) = 1`` down to ``f(1) = 0``; as a *warmup* it is the same curve run
backwards, ``g(p) = f(1 - p)``, from 0 up to 1 (written out below as its anchors write it, so
that the numbers match theirs):

============  ==============================  ==============================  =================
shape         decay ``f(p)``                  warmup ``g(p)``                 anchors
============  ==============================  ==============================  =================
linear        ``1 - p``                       ``p``                           transformers WSD,
                                                                              Megatron
cosine        ``½(1 + cos(π p))``             ``½(1 - cos(π p))``             transformers WSD,
                                                                              Megatron
1-sqrt        ``1 - √p``                      ``1 - √(1 - p)``                transformers WSD,
                                                                              Megatron
                                                                              ``minus_sqrt``
exponential   ``2 · 2^-p - 1``                ``2^p - 1``                     Megatron WSD
                                                                              ``exponential``
============  ==============================  ==============================  =================

Every shape is monotone and continuous, exact at both ends. The Tensor versions work in place
on a progress buffer the caller owns.
"""

from __future__ import annotations

import math

from torch import Tensor

SHAPES = ("linear", "cosine", "1-sqrt", "exponential")
"""The ramp shapes, for warmups and decays alike."""


def decay(shape: str, p: float) -> float:
    """``f(p)`` of ``shape`` (a name of :data:`SHAPES`) for ``p`` in ``[0, 1]``: 1 at 0, 0 at
    1."""
    if shape == "linear":
        return 1.0 - p
    if shape == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if shape == "1-sqrt":
        return 1.0 - math.sqrt(p)
    return 2.0 * math.pow(0.5, p) - 1.0


def warmup(shape: str, p: float) -> float:
    """``g(p) = f(1 - p)`` of ``shape`` for ``p`` in ``[0, 1]``: 0 at 0, 1 at 1."""
    if shape == "linear":
        return p
    if shape == "cosine":
        return 0.5 * (1.0 - math.cos(math.pi * p))
    if shape == "1-sqrt":
        return 1.0 - math.sqrt(1.0 - p)
    return math.pow(2.0, p) - 1.0


def decay_tensor(shape: str, p: Tensor) -> Tensor:
    """:func:`decay` elementwise, in place on ``p`` (owned by the caller)."""
    if shape == "linear":
        return p.neg_().add_(1.0)
    if shape == "cosine":
        return p.mul_(math.pi).cos_().mul_(0.5).add_(0.5)
    if shape == "1-sqrt":
        return p.sqrt_().neg_().add_(1.0)
    return p.neg_().exp2_().mul_(2.0).sub_(1.0)


def warmup_tensor(shape: str, p: Tensor) -> Tensor:
    """:func:`warmup` elementwise, in place on ``p`` (owned by the caller)."""
    if shape == "linear":
        return p
    if shape == "cosine":
        return p.mul_(math.pi).cos_().mul_(-0.5).add_(0.5)
    if shape == "1-sqrt":
        return p.neg_().add_(1.0).sqrt_().neg_().add_(1.0)
    return p.exp2_().sub_(1.0)
