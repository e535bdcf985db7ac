"""Seeded multiplicative noise on a schedule, within a range of steps.

Reference: timm ``Scheduler`` noise (``noise_range_t``, ``noise_type``, ``noise_pct``,
``noise_std``, ``noise_seed``): ``lr_noise(schedule, start=a, end=b, pct=p, std=d, seed=k,
kind=type)`` is timm's ``noise_range_t=(a, b)`` (``end=None``: ``noise_range_t=a``) on the lr
that ``schedule`` gives, number for number: the noise of step ``n`` comes from a
``torch.Generator`` of its own seeded with ``seed + n``, as timm seeds it.
"""

from __future__ import annotations

import functools
import math

import attrs
import torch
from torch import Tensor

from schedules.combinator_fields import (
    CHILD_OPTIONS,
    bound_child,
    require_plain,
    require_schedule,
    using,
)
from schedules.number_text import number_text
from schedules.scalar_or_tensor import S
from schedules.schedule_protocol import Schedule
from schedules.step_input import float_steps, number_step
from schedules.validation import (
    choice,
    optional,
    require_int,
    require_non_negative,
    require_number,
    require_positive,
)

KINDS = ("normal", "uniform")
"""The noise distributions of :class:`lr_noise`."""

_SEEDS = 2**64  # torch.Generator.manual_seed takes seeds modulo 2**64 (negative ones too)


@functools.lru_cache(maxsize=2**16)
def _noise(seed: int, kind: str, pct: float, std: float) -> float:
    """The relative noise for one seed: timm's ``_calculate_noise``, from a generator of its
    own (the global RNG is neither read nor advanced)."""
    generator = torch.Generator()
    generator.manual_seed(seed % _SEEDS)
    if kind == "uniform":
        return 2.0 * (torch.rand(1, generator=generator).item() - 0.5) * pct
    while True:  # resample until |noise| < pct: about 1 / P(|N(0, std)| < pct) draws
        noise = torch.randn(1, generator=generator).item() * std
        if abs(noise) < pct:
            return noise


def _whole_step(step: float) -> int:
    if not abs(step) < math.inf:
        raise ValueError(f"step must be finite to seed lr_noise, got {number_text(step)}")
    return math.floor(step)


def _require_plain(name: str, value: object) -> None:
    require_plain("lr_noise", name, value)


@attrs.frozen
class lr_noise:
    """``v + v · noise(n)`` with ``v = schedule(s)`` and ``n = floor(s)``, for
    ``start <= n < end`` (``end=None``: every ``n >= start``); ``v`` itself elsewhere.

    ``noise(n)`` is drawn from a ``torch.Generator`` seeded with ``seed + n`` (modulo 2**64,
    which is how torch takes any seed), so the same step and seed always give the same value,
    whatever was evaluated before, and the global RNG is never touched:

    * ``kind="normal"``: ``z · std`` for ``z ~ N(0, 1)``, redrawn until ``|z · std| < pct``
      (timm's rejection loop: ``std = 0`` gives no noise; a ``pct`` far below ``std`` needs
      about ``std / (0.8 · pct)`` draws per step);
    * ``kind="uniform"``: uniform on ``[-pct, pct)``; ``std`` is not used.

    A float step uses the noise of its whole step ``floor(s)`` (timm's steps are integers);
    a NaN or infinite step is a ``ValueError``. Negative steps behave as step 0. Where the
    schedule gives a Tensor for a Python step (Tensor value hyperparameters), so does this.

    Tensor steps give the scalar path's values elementwise (bit for bit in ``float64``), but
    not as a traced computation: the steps are read to the host (one device sync per call)
    and each distinct step in range seeds its own generator (the last 2**16 are cached). So
    ``lr_noise`` of a Tensor works in eager mode only: it is neither ``torch.func.vmap``-able
    nor ``torch.compile(fullgraph=True)``-able (compile it without ``fullgraph`` and it runs
    the noise eagerly, in a graph break).

    ``start >= 0``; ``end`` ``None`` or ``> start``; ``pct > 0``; ``std >= 0``; ``seed`` an
    int; ``kind`` one of :data:`KINDS`. The schedule must be plain (the noise is drawn per
    step of one clock): a clock-bound one is refused, naming its clock (write
    ``on(clock, lr_noise(f, ...))``).
    """

    schedule: Schedule = attrs.field(
        converter=bound_child,
        validator=[using(require_schedule), using(_require_plain)],
        **CHILD_OPTIONS,
    )
    start: float = attrs.field(validator=using(require_non_negative))
    end: float | None = attrs.field(default=None, validator=using(optional(require_number)))
    pct: float = attrs.field(default=0.67, validator=using(require_positive))
    std: float = attrs.field(default=1.0, validator=using(require_non_negative))
    seed: int = attrs.field(default=42, validator=using(require_int))
    kind: str = attrs.field(default="normal", validator=using(choice(*KINDS)))

    def __attrs_post_init__(self) -> None:
        if self.end is not None and not self.end > self.start:
            raise ValueError(
                f"end must be > start ({number_text(self.start)}) or None, "
                f"got {number_text(self.end)}"
            )

    def _in_range(self, n: float) -> bool:
        return self.start <= n and (self.end is None or n < self.end)

    def _noise_at(self, n: int) -> float:
        return _noise(self.seed + n, self.kind, float(self.pct), float(self.std))

    def __call__(self, step: S) -> S:
        value = self.schedule(step)
        if isinstance(step, Tensor):
            s = float_steps(step)
            values = value if isinstance(value, Tensor) else torch.as_tensor(value, device=s.device)
            whole = [_whole_step(x) for x in s.detach().reshape(-1).tolist()]
            in_range = [self._in_range(n) for n in whole]
            noise = [
                self._noise_at(n) if ok else 0.0 for n, ok in zip(whole, in_range, strict=True)
            ]
            noise_tensor = torch.tensor(noise, dtype=values.dtype, device=values.device)
            mask = torch.tensor(in_range, device=values.device).reshape(s.shape)
            noisy = values + values * noise_tensor.reshape(s.shape)
            return torch.where(mask, noisy, values)
        n = _whole_step(max(number_step(step), 0))
        if self._in_range(n):
            value = value + value * self._noise_at(n)
        # a Tensor where the schedule gave one (Tensor value hyperparameters), else a float
        return value if isinstance(value, Tensor) else float(value)
