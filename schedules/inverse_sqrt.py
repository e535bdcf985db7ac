"""Linear warm-up to ``peak``, then inverse square-root decay.

References: fairseq ``inverse_sqrt`` (``InverseSquareRootSchedule``); ESPnet
``espnet2.schedulers.warmup_lr.WarmupLR``; transformers ``get_inverse_sqrt_schedule``.
"""

from __future__ import annotations

from schedules.scalar_or_tensor import S, ops_for
from schedules.validation import require_number, require_positive


def inverse_sqrt(step: S, peak: float, warmup: float) -> S:
    """``peak · min(s / warmup, √(warmup / s))``, and 0 at ``s = 0``.

    Rises linearly from 0 to ``peak`` at ``s = warmup``, then decays as ``s^-½``.
    Negative steps behave as step 0 (value 0).

    How the references line up (all checked by committed vectors):

    * fairseq ``inverse_sqrt`` with ``warmup_init_lr=0`` (its default when
      ``warmup_updates > 0``), ``lr=peak``, ``warmup_updates=warmup``: identical, step for
      step (``num_updates = s``). A non-zero ``warmup_init_lr`` is not expressible here.
    * ESPnet ``WarmupLR`` (``lr=peak``, ``warmup_steps=warmup``): identical as a function of
      its ``step_num = last_epoch + 1``; so its n-th evaluation is ``inverse_sqrt(n, ...)``.
      SpeeChain ``Noamlr`` without ``d_model`` is the same at the 1-based real step.
    * transformers ``get_inverse_sqrt_schedule(num_warmup_steps=warmup)`` on base lr
      ``peak``: identical with its default ``timescale = num_warmup_steps``. A different
      ``timescale`` τ gives ``peak/√((s + τ - warmup)/τ)`` after warm-up, which is not this
      family. (With ``num_warmup_steps=0`` transformers uses τ = 10 000 and no warm-up;
      here ``warmup`` must be > 0.)
    """
    peak = require_number("peak", peak)
    warmup = require_positive("warmup", warmup)
    ops = ops_for(step)
    s = ops.step(step)
    rising = s / warmup
    decaying = ops.sqrt(warmup / ops.maximum(s, warmup))
    return peak * ops.where(s < warmup, rising, decaying)
