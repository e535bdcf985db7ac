"""The Noam schedule of the Transformer: linear warm-up, then inverse square-root decay.

References: Vaswani et al. 2017, "Attention Is All You Need", eq. (3); ESPnet
``espnet2.schedulers.noam_lr.NoamLR``; SpeeChain ``speechain.optim_sche.noam.Noamlr``.
"""

from __future__ import annotations

import math

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number, require_positive


def noam(step: S, d_model: float, warmup: float, scale: float = 1.0) -> S:
    """``scale · d_model^-½ · min(s^-½, s · warmup^-1.5)``, and 0 at ``s = 0``.

    Rises linearly up to its peak ``scale · (d_model · warmup)^-½`` at ``s = warmup``, then
    decays as ``s^-½``. The two branches meet at ``s = warmup``, so the minimum is the
    rising branch for ``s < warmup`` and the decaying one from there on.

    ESPnet ``NoamLR(model_size=d_model, warmup_steps=warmup)`` is this with ``scale`` = the
    optimizer's lr, evaluated at ``step_num = last_epoch + 1``; SpeeChain ``Noamlr`` with
    ``d_model`` given is this with ``scale=1`` at the 1-based real step (without ``d_model``
    it is :func:`~schedules.inverse_sqrt` with ``peak`` = the optimizer's lr). So their n-th
    update uses ``noam(n, ...)``. Negative steps behave as step 0 (value 0).
    """
    d_model = require_positive("d_model", d_model)
    warmup = require_positive("warmup", warmup)
    scale = require_number("scale", scale)
    ops = ops_for(step)
    s = ops.step(step)
    rising = s / (warmup * math.sqrt(warmup))
    decaying = 1.0 / ops.sqrt(ops.maximum(s, warmup))
    return scale / math.sqrt(d_model) * ops.where(s < warmup, rising, decaying)
