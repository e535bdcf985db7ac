"""The Noam schedule of the Transformer: linear warm-up, then inverse square-root decay.

References: Vaswani et al. 2017, "Attention Is All You Need", eq. (3); ESPnet
``espnet2.schedulers.noam_lr.NoamLR``; SpeeChain ``speechain.optim_sche.noam.Noamlr``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from schedules.leaf_family import Family, finite_constant
from schedules.scalar_or_tensor import S
from schedules.step_input import float_steps
from schedules.tensor_values import Checked, Value, times


class _Recipe(NamedTuple):
    factor: Checked  # scale · d_model^-½
    warmup: float
    rise: float  # warmup^1.5: step / rise is the warm-up's rising branch


def _prepare(d_model: float, warmup: float, scale: Checked = 1.0) -> _Recipe:
    rise = warmup * math.sqrt(warmup)
    finite_constant("warmup", warmup, 1.0 / rise if rise else math.inf, "warmup ** -1.5")
    root = 1.0 / math.sqrt(d_model)
    if scale.__class__ is float:
        factor = finite_constant("scale", scale, scale * root, "scale · d_model ** -0.5")
        return _Recipe(factor, warmup, rise)
    return _Recipe(scale * root, warmup, rise)


def _scalar(step: float, r: _Recipe) -> float:
    factor, warmup, rise = r
    if step < warmup:
        return factor * (step / rise) if step > 0 else 0.0
    return factor / math.sqrt(step)


def _tensor(step: Tensor, r: _Recipe) -> Tensor:
    factor, warmup, rise = r
    s = float_steps(step)
    rising = s / rise
    decaying = s.clamp_min_(warmup).rsqrt_()
    # rising < decaying before warmup, rising >= decaying from it on: their minimum
    return times(factor, decaying.clamp_max_(rising))


FAMILY = Family(
    _prepare,
    _scalar,
    _tensor,
    values=("scale",),
    lengths=("warmup",),
    horizon=None,
    extent=lambda h: 10.0 * h["warmup"],
    checks={"d_model": "positive", "warmup": "positive", "scale": "value"},
)


@FAMILY.leaf
def noam(step: S, d_model: float, warmup: float, scale: Value = 1.0) -> S:
    """``scale · d_model^-½ · min(s^-½, s · warmup^-1.5)``, and 0 at ``s = 0``.

    Rises linearly up to its peak ``scale · (d_model · warmup)^-½`` at ``s = warmup``, then
    decays as ``s^-½``. The two branches meet at ``s = warmup``, so the minimum is the
    rising branch for ``s < warmup`` and the decaying one from there on.

    ESPnet ``NoamLR(model_size=d_model, warmup_steps=warmup)`` is this with ``scale`` = the
    optimizer's lr, evaluated at ``step_num = last_epoch + 1``; SpeeChain ``Noamlr`` with
    ``d_model`` given is this with ``scale=1`` at the 1-based real step (without ``d_model``
    it is :func:`~schedules.inverse_sqrt` with ``peak`` = the optimizer's lr). So their n-th
    update uses ``noam(n, ...)``. Negative steps behave as step 0 (value 0). ``d_model`` and
    ``warmup`` must be > 0, with ``warmup ** -1.5`` and ``scale · d_model ** -0.5`` finite
    (``warmup=1e-300`` is a ``ValueError``).
    """
    return FAMILY.call(
        step, (d_model, warmup, scale, d_model.__class__, warmup.__class__, scale.__class__)
    )
