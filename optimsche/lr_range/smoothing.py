"""The smoothed loss of an lr range test: fastai's bias-corrected exponential moving average.

After the losses ``x_1 .. x_n`` of the first ``n`` updates, with ``beta`` (``smoothing``)::

    a_n = beta · a_(n-1) + (1 - beta) · x_n,   a_0 = 0
    smoothed_n = a_n / (1 - beta ** n)
               = sum_i (1 - beta) · beta ** (n - i) · x_i / (1 - beta ** n)

a weighted mean of the losses so far (the weights sum to 1), so the first points are not
pulled towards 0. ``beta = 0`` gives the raw losses. fastai's ``SmoothenValue`` and
Lightning's ``_LRCallback`` use this formula with ``beta = 0.98``.
"""

from __future__ import annotations

import attrs


@attrs.define
class SmoothedLoss:
    """The running ``smoothed_n`` of the module doc: :meth:`add` one loss, get the new value."""

    beta: float
    _average: float = 0.0
    _count: int = 0

    def add(self, loss: float) -> float:
        """Take ``x_n = loss`` and return ``smoothed_n``."""
        self._count += 1
        self._average = self.beta * self._average + (1.0 - self.beta) * loss
        return self._average / (1.0 - self.beta**self._count)
