"""The type of a schedule: a callable ``step -> lr``, polymorphic over the step.

A Python number in gives a Python ``float`` out; a ``torch.Tensor`` in gives a Tensor of the
same shape out. Every leaf function of :mod:`schedules` partially applied to its
hyperparameters (``functools.partial(cosine, peak=0.1, steps=1000)``), every combinator, and
an untyped ``lambda`` satisfy it.
"""

from __future__ import annotations

from typing import Protocol

from schedules.scalar_or_tensor import S


class Schedule(Protocol):
    """A callable ``step -> lr``: number in, float out; Tensor in, Tensor out."""

    def __call__(self, step: S, /) -> S: ...
